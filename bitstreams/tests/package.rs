//! Packages, keys, trust stores and the load policy, through the public
//! API. Every failure test asserts the specific error.

#[path = "support/temp_dir.rs"]
mod temp_dir;
use temp_dir::{set_mode, TempDir};

use std::path::Path;

use hsm_bitstream::{
    limits, FormatError, Image, ImageEntry, KdfParams, KeyError, KeyId, LoadPolicy, Manifest,
    Package, PolicyError, PublicKey, Resources, SigningKey, ToolVersion, TrustError, TrustStore,
    VerifyError, PACKAGE_MAGIC, SIGNATURE_LEN,
};

const TARGET: &str = "sim-verilator";

fn key(n: u8) -> SigningKey {
    SigningKey::from_seed(&[n; 32])
}

fn images() -> Vec<Image> {
    vec![
        Image {
            name: "model.so".into(),
            data: b"the verilated model".to_vec(),
        },
        Image {
            name: "card.v".into(),
            data: b"module card(); endmodule\n".to_vec(),
        },
    ]
}

fn manifest_for(images: &[Image]) -> Manifest {
    Manifest {
        target: TARGET.into(),
        design: "open-hsm".into(),
        design_version: "0.1.0".into(),
        build_id: 0x0123_4567_89ab_cdef,
        source_revision: "7eb6b39".into(),
        source_sha384: [0x5a; 48],
        contract_major: hsm_contract::CONTRACT_MAJOR,
        contract_minor: hsm_contract::CONTRACT_MINOR,
        security_version: 3,
        tools: vec![
            ToolVersion {
                name: "verilator".into(),
                version: "5.030 2024-10-27".into(),
            },
            ToolVersion {
                name: "rustc".into(),
                version: "1.95.0".into(),
            },
        ],
        resources: Resources {
            luts: Some(41_000),
            flip_flops: Some(23_500),
            block_rams: None,
            dsps: Some(28),
            fmax_khz: Some(62_500),
        },
        images: images
            .iter()
            .map(|i| ImageEntry::describe(&i.name, &i.data))
            .collect(),
    }
}

fn unsigned() -> Package {
    let images = images();
    Package::new(manifest_for(&images), images).expect("valid package")
}

fn signed_by(k: &SigningKey) -> Package {
    let mut p = unsigned();
    p.sign(k).expect("sign");
    p
}

fn trusting(keys: &[&SigningKey]) -> TrustStore {
    let mut t = TrustStore::new();
    for k in keys {
        t.add(k.public_key().clone());
    }
    t
}

/// Offset of the manifest in an encoded package, and its length.
fn manifest_span(bytes: &[u8]) -> (usize, usize) {
    let len = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
    (16, len)
}

/// Writes a file owner-writable only (whatever the umask), as a trust
/// directory needs.
fn write_private(path: &Path, bytes: impl AsRef<[u8]>) {
    std::fs::write(path, bytes).unwrap();
    set_mode(path, 0o600);
}

#[test]
fn round_trip_of_a_package_with_two_images() {
    let k = key(1);
    let p = unsigned();
    assert!(p.signature().is_none());
    // Images come out sorted by name.
    let names: Vec<&str> = p.images().iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["card.v", "model.so"]);

    let bytes = p.encode();
    assert_eq!(&bytes[..8], &PACKAGE_MAGIC);
    let q = Package::decode(&bytes).unwrap();
    assert_eq!(q, p);
    assert_eq!(q.encode(), bytes, "encode(decode(b)) == b");
    assert_eq!(Manifest::decode(p.manifest_bytes()).unwrap(), *p.manifest());

    let mut s = q;
    s.sign(&k).unwrap();
    let bytes = s.encode();
    let t = Package::decode(&bytes).unwrap();
    assert_eq!(t.encode(), bytes);
    assert_eq!(t.signature().unwrap().key_id, k.key_id());
    assert_eq!(t.signature().unwrap().signature.len(), SIGNATURE_LEN);

    let verified = t.verify(&trusting(&[&k])).unwrap();
    assert_eq!(verified.key_id(), k.key_id());
    assert_eq!(verified.manifest(), p.manifest());
    assert_eq!(verified.images()[1].data, b"the verilated model");
    assert_eq!(verified.manifest().resources.block_rams, None);
    assert_eq!(verified.manifest().resources.fmax_khz, Some(62_500));
}

#[test]
fn every_truncation_is_an_error() {
    let bytes = signed_by(&key(1)).encode();
    for len in 0..bytes.len() {
        match Package::decode(&bytes[..len]) {
            Err(FormatError::Truncated { .. }) => {}
            other => panic!("truncated to {len} bytes: {other:?}"),
        }
    }
}

#[test]
fn every_flipped_byte_is_refused() {
    let k = key(1);
    let trust = trusting(&[&k]);
    let bytes = signed_by(&k).encode();
    let (m_off, m_len) = manifest_span(&bytes);
    let sig_off = m_off + m_len + 1 + 16;
    for pos in 0..bytes.len() {
        let mut b = bytes.clone();
        b[pos] ^= 0x01;
        let result = Package::decode(&b).map(|p| p.verify(&trust).map(|v| v.key_id()));
        match result {
            Err(_) => {} // a format error
            Ok(Err(e)) => {
                // Signature and key-id bytes can only fail verification.
                if (sig_off..sig_off + SIGNATURE_LEN).contains(&pos) {
                    assert!(matches!(e, VerifyError::BadSignature { .. }), "{pos}: {e}");
                }
                if (sig_off - 16..sig_off).contains(&pos) {
                    assert!(matches!(e, VerifyError::UnknownKey { .. }), "{pos}: {e}");
                }
            }
            Ok(Ok(_)) => panic!("byte {pos} flipped and the package still verifies"),
        }
    }
}

#[test]
fn trailing_garbage_is_refused() {
    let p = signed_by(&key(1));
    let mut bytes = p.encode();
    bytes.push(0);
    assert_eq!(
        Package::decode(&bytes),
        Err(FormatError::TrailingData {
            what: "package",
            len: 1
        })
    );
    let mut m = p.manifest_bytes().to_vec();
    m.extend_from_slice(b"xyz");
    assert_eq!(
        Manifest::decode(&m),
        Err(FormatError::TrailingData {
            what: "manifest",
            len: 3
        })
    );
    let mut pubfile = key(1).public_key().to_file_bytes();
    pubfile.push(0);
    assert_eq!(
        PublicKey::from_file_bytes(&pubfile),
        Err(FormatError::TrailingData {
            what: "public key file",
            len: 1
        })
    );
}

/// The package with its manifest replaced by `manifest` (unsigned).
fn with_manifest_bytes(manifest: &[u8]) -> Vec<u8> {
    let bytes = unsigned().encode();
    let (off, len) = manifest_span(&bytes);
    let mut out = bytes[..12].to_vec();
    out.extend_from_slice(&(manifest.len() as u32).to_le_bytes());
    out.extend_from_slice(manifest);
    out.extend_from_slice(&bytes[off + len..]);
    out
}

#[test]
fn unknown_format_versions_are_refused() {
    let mut bytes = unsigned().encode();
    bytes[8] = 2;
    assert_eq!(
        Package::decode(&bytes),
        Err(FormatError::UnsupportedVersion {
            what: "package",
            found: 2,
            supported: 1
        })
    );

    let mut m = unsigned().manifest_bytes().to_vec();
    m[8..10].copy_from_slice(&7u16.to_le_bytes());
    assert_eq!(
        Package::decode(&with_manifest_bytes(&m)),
        Err(FormatError::UnsupportedVersion {
            what: "manifest",
            found: 7,
            supported: 1
        })
    );

    let mut pubfile = key(1).public_key().to_file_bytes();
    pubfile[8] = 9;
    assert!(matches!(
        PublicKey::from_file_bytes(&pubfile),
        Err(FormatError::UnsupportedVersion {
            what: "public key file",
            found: 9,
            ..
        })
    ));

    let mut keyfile = key(1)
        .to_file_bytes(b"pw", KdfParams::INSECURE_FAST)
        .unwrap();
    keyfile[8] = 9;
    assert!(matches!(
        SigningKey::from_file_bytes(&keyfile, b"pw"),
        Err(KeyError::Format(FormatError::UnsupportedVersion {
            what: "private key file",
            found: 9,
            ..
        }))
    ));
}

#[test]
fn bad_magic_is_refused() {
    let mut bytes = unsigned().encode();
    bytes[0] ^= 0x20;
    assert_eq!(
        Package::decode(&bytes),
        Err(FormatError::BadMagic { what: "package" })
    );
}

#[test]
fn oversized_lengths_are_refused_before_allocating() {
    let bytes = unsigned().encode();
    let (off, len) = manifest_span(&bytes);

    // Manifest length.
    let mut b = bytes.clone();
    b[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(
        Package::decode(&b),
        Err(FormatError::TooLong {
            field: "manifest length",
            len: u32::MAX as u64,
            max: limits::MANIFEST_LEN as u64
        })
    );

    // Image count: after the manifest and the (zero) signature flag.
    let count_at = off + len + 1;
    let mut b = bytes.clone();
    b[count_at] = 200;
    assert_eq!(
        Package::decode(&b),
        Err(FormatError::TooLong {
            field: "image count",
            len: 200,
            max: limits::IMAGES as u64
        })
    );

    // First image's size: after its one-byte name length and name.
    let name_len = bytes[count_at + 1] as usize;
    let size_at = count_at + 2 + name_len;
    let mut b = bytes.clone();
    b[size_at..size_at + 8].copy_from_slice(&u64::MAX.to_le_bytes());
    assert_eq!(
        Package::decode(&b),
        Err(FormatError::TooLong {
            field: "image size",
            len: u64::MAX,
            max: limits::IMAGE_LEN as u64
        })
    );

    // A size within the limit but beyond the input is truncation.
    let mut b = bytes.clone();
    b[size_at..size_at + 8].copy_from_slice(&(limits::IMAGE_LEN as u64).to_le_bytes());
    assert!(matches!(
        Package::decode(&b),
        Err(FormatError::Truncated {
            field: "image size",
            ..
        })
    ));

    // A string length in the manifest beyond its limit (the target, at
    // offset 10 of the manifest).
    let mut m = unsigned().manifest_bytes().to_vec();
    m[10] = 255;
    assert_eq!(
        Manifest::decode(&m),
        Err(FormatError::TooLong {
            field: "target",
            len: 255,
            max: limits::IDENT as u64
        })
    );
}

#[test]
fn manifest_fields_are_checked() {
    let images = images();
    let mut m = manifest_for(&images);
    m.images[0].name = "../etc/passwd".into();
    assert!(matches!(
        Package::new(m, images.clone()),
        Err(FormatError::BadField {
            field: "image name",
            ..
        })
    ));

    let mut m = manifest_for(&images);
    m.design_version = "1.0\x1b[2J".into();
    assert!(matches!(
        m.encode(),
        Err(FormatError::BadField {
            field: "design version",
            ..
        })
    ));

    // Unsorted image entries in an encoded manifest are not canonical.
    let mut m = manifest_for(&images); // "model.so" then "card.v": unsorted
    m.images.sort_by(|a, b| a.name.cmp(&b.name));
    let sorted = m.encode().unwrap();
    m.images.reverse();
    assert!(matches!(
        m.encode(),
        Err(FormatError::BadField {
            field: "manifest images",
            ..
        })
    ));
    assert!(Manifest::decode(&sorted).is_ok());

    // Duplicate image names in a package.
    let mut dup = images.clone();
    dup[1].name = dup[0].name.clone();
    assert!(matches!(
        Package::new(manifest_for(&images), dup),
        Err(FormatError::BadField {
            field: "package images",
            ..
        })
    ));
}

#[test]
fn unsigned_package_does_not_verify() {
    let k = key(1);
    assert!(matches!(
        unsigned().verify(&trusting(&[&k])),
        Err(VerifyError::Unsigned)
    ));
}

#[test]
fn untrusted_key_is_refused() {
    let (a, b) = (key(1), key(2));
    let p = signed_by(&a);
    match p.verify(&trusting(&[&b])) {
        Err(VerifyError::UnknownKey { key_id }) => assert_eq!(key_id, a.key_id()),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        p.verify(&TrustStore::new()),
        Err(VerifyError::UnknownKey { .. })
    ));
}

#[test]
fn signature_by_another_key_with_a_trusted_key_id_is_refused() {
    // A signature block that claims key a's id but was made by key b.
    let (a, b) = (key(1), key(2));
    let mut p = signed_by(&b);
    let mut bytes = p.encode();
    let (off, len) = manifest_span(&bytes);
    bytes[off + len + 1..off + len + 17].copy_from_slice(&a.key_id().0);
    p = Package::decode(&bytes).unwrap();
    match p.verify(&trusting(&[&a, &b])) {
        Err(VerifyError::BadSignature { key_id }) => assert_eq!(key_id, a.key_id()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn revoked_key_is_refused() {
    let (a, b) = (key(1), key(2));
    let dir = TempDir::new("revoked");
    for (name, k) in [("a.pub", &a), ("b.pub", &b)] {
        write_private(&dir.path().join(name), k.public_key().to_file_bytes());
    }
    write_private(&dir.path().join("README"), "not a key, ignored");
    let trust = TrustStore::load_dir(dir.path()).unwrap();
    assert_eq!(trust.keys().count(), 2);
    signed_by(&a).verify(&trust).unwrap();

    write_private(
        &dir.path().join("revoked"),
        format!("# revoked keys\n\n{}  # lost laptop\n", a.key_id()),
    );
    let trust = TrustStore::load_dir(dir.path()).unwrap();
    assert!(trust.is_revoked(a.key_id()));
    match signed_by(&a).verify(&trust) {
        Err(VerifyError::RevokedKey { key_id }) => assert_eq!(key_id, a.key_id()),
        other => panic!("{other:?}"),
    }
    signed_by(&b).verify(&trust).unwrap();
}

#[test]
fn bad_trust_directory_fails_closed() {
    let a = key(1);
    let dir = TempDir::new("badtrust");
    write_private(&dir.path().join("a.pub"), a.public_key().to_file_bytes());
    write_private(&dir.path().join("revoked"), "0123 not an id\n");
    match TrustStore::load_dir(dir.path()) {
        Err(TrustError::RevokedSyntax { line: 1, .. }) => {}
        other => panic!("{other:?}"),
    }
    std::fs::remove_file(dir.path().join("revoked")).unwrap();

    write_private(&dir.path().join("b.pub"), b"HSMBSPUB garbage");
    match TrustStore::load_dir(dir.path()) {
        Err(TrustError::KeyFile { path, .. }) => assert!(path.ends_with("b.pub")),
        other => panic!("{other:?}"),
    }
    std::fs::remove_file(dir.path().join("b.pub")).unwrap();

    #[cfg(unix)]
    {
        set_mode(dir.path(), 0o777);
        match TrustStore::load_dir(dir.path()) {
            Err(TrustError::Permissions { mode, .. }) => assert_eq!(mode, 0o777),
            other => panic!("{other:?}"),
        }
        set_mode(dir.path(), 0o700);
    }
    assert_eq!(TrustStore::load_dir(dir.path()).unwrap().keys().count(), 1);
}

#[test]
fn flipped_byte_in_an_image_is_a_hash_mismatch() {
    let k = key(1);
    let p = signed_by(&k);
    let mut bytes = p.encode();
    // The last byte of the package is the last byte of the last image,
    // "model.so".
    let last = bytes.len() - 1;
    bytes[last] ^= 0x80;
    match Package::decode(&bytes).unwrap().verify(&trusting(&[&k])) {
        Err(VerifyError::ImageHash { name }) => assert_eq!(name, "model.so"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn images_missing_extra_or_resized_are_named() {
    let k = key(1);
    let trust = trusting(&[&k]);
    let imgs = images();
    let manifest = manifest_for(&imgs);

    let mut fewer = imgs.clone();
    fewer.retain(|i| i.name != "card.v");
    let mut p = Package::new(manifest.clone(), fewer).unwrap();
    p.sign(&k).unwrap();
    match p.verify(&trust) {
        Err(VerifyError::ImageMissing { name }) => assert_eq!(name, "card.v"),
        other => panic!("{other:?}"),
    }

    let mut more = imgs.clone();
    more.push(Image {
        name: "extra.bin".into(),
        data: vec![1, 2, 3],
    });
    let mut p = Package::new(manifest.clone(), more).unwrap();
    p.sign(&k).unwrap();
    match p.verify(&trust) {
        Err(VerifyError::ImageUnexpected { name }) => assert_eq!(name, "extra.bin"),
        other => panic!("{other:?}"),
    }

    let mut longer = imgs.clone();
    longer[0].data.push(b'!');
    let mut p = Package::new(manifest, longer).unwrap();
    p.sign(&k).unwrap();
    match p.verify(&trust) {
        Err(VerifyError::ImageSize {
            name,
            expected,
            got,
        }) => {
            assert_eq!(name, "model.so");
            assert_eq!(got, expected + 1);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn flipped_byte_in_the_manifest_breaks_the_signature() {
    let k = key(1);
    let mut bytes = signed_by(&k).encode();
    let (off, len) = manifest_span(&bytes);
    let m = Manifest::decode(&bytes[off..off + len]).unwrap();
    // The security version is the u32 just before the tool count; raise
    // it (a valid manifest, but not the one that was signed).
    let sv_at = off
        + 10
        + (1 + m.target.len())
        + (1 + m.design.len())
        + (1 + m.design_version.len())
        + 8
        + (1 + m.source_revision.len())
        + 48
        + 4;
    assert_eq!(bytes[sv_at], 3);
    bytes[sv_at] = 99;
    let p = Package::decode(&bytes).unwrap();
    assert_eq!(p.manifest().security_version, 99);
    match p.verify(&trusting(&[&k])) {
        Err(VerifyError::BadSignature { key_id }) => assert_eq!(key_id, k.key_id()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn key_files_round_trip_and_refuse_a_wrong_passphrase() {
    let dir = TempDir::new("keys");
    let path = dir.path().join("signer.key");
    let k = SigningKey::generate().unwrap();
    let pub_path = k
        .write_files(&path, b"correct horse", KdfParams::INSECURE_FAST)
        .unwrap();
    assert_eq!(pub_path, dir.path().join("signer.pub"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "private key file mode {mode:o}");
    }

    let back = SigningKey::read_file(&path, b"correct horse").unwrap();
    assert_eq!(back.key_id(), k.key_id());
    let public = PublicKey::read_file(&pub_path).unwrap();
    assert_eq!(&public, k.public_key());

    assert!(matches!(
        SigningKey::read_file(&path, b"wrong horse"),
        Err(KeyError::WrongPassphrase)
    ));
    assert!(matches!(
        k.write_files(&path, b"x", KdfParams::INSECURE_FAST),
        Err(KeyError::Exists { .. })
    ));
    assert!(matches!(
        k.to_file_bytes(b"", KdfParams::INSECURE_FAST),
        Err(KeyError::EmptyPassphrase)
    ));

    // The header is associated data: changing the KDF cost is caught.
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[20] ^= 2; // Argon2id passes, 1 to 3
    assert!(matches!(
        SigningKey::from_file_bytes(&bytes, b"correct horse"),
        Err(KeyError::WrongPassphrase)
    ));

    // A signature by the reloaded key verifies with the public key file.
    let mut p = unsigned();
    p.sign(&back).unwrap();
    let mut trust = TrustStore::new();
    trust.add(public);
    p.verify(&trust).unwrap();
}

#[test]
fn kdf_parameters_are_bounded() {
    assert!(matches!(
        KdfParams::new(4, 1, 1),
        Err(KeyError::KdfParams(_))
    ));
    assert!(matches!(
        KdfParams::new(1 << 30, 1, 1),
        Err(KeyError::KdfParams(_))
    ));
    let mut bytes = key(1)
        .to_file_bytes(b"pw", KdfParams::INSECURE_FAST)
        .unwrap();
    bytes[16..20].copy_from_slice(&u32::MAX.to_le_bytes()); // 4 TiB of memory
    assert!(matches!(
        SigningKey::from_file_bytes(&bytes, b"pw"),
        Err(KeyError::Format(FormatError::BadField {
            field: "Argon2id parameters",
            ..
        }))
    ));
    assert_eq!(KdfParams::default(), KdfParams::new(65536, 3, 4).unwrap());
}

#[test]
fn key_ids() {
    let k = key(7);
    let id = k.key_id();
    assert_eq!(id, KeyId::of(k.public_key().raw()));
    assert_eq!(id, key(7).key_id(), "from_seed is deterministic");
    assert_ne!(id, key(8).key_id());
    let hex = id.to_string();
    assert_eq!(hex.len(), 32);
    assert_eq!(hex.parse::<KeyId>().unwrap(), id);
    assert_eq!(hex.to_uppercase().parse::<KeyId>().unwrap(), id);
    assert!("xyz".parse::<KeyId>().is_err());
    assert_eq!(k.public_key().raw().len(), hsm_bitstream::PUBLIC_KEY_LEN);
    // The public key file is the raw key behind a 12-byte header.
    assert_eq!(&k.public_key().to_file_bytes()[12..], k.public_key().raw());
}

#[test]
fn policy_checks() {
    let k = key(1);
    let p = signed_by(&k);
    let trust = trusting(&[&k]);
    let v = p.verify(&trust).unwrap();
    assert_eq!(v.manifest().security_version, 3);

    v.check_policy(&LoadPolicy::for_driver(TARGET, 3)).unwrap();
    v.check_policy(&LoadPolicy::for_driver(TARGET, 0)).unwrap();
    assert_eq!(
        v.check_policy(&LoadPolicy::for_driver(TARGET, 4)),
        Err(PolicyError::SecurityVersion {
            package: 3,
            minimum: 4
        })
    );
    assert_eq!(
        v.check_policy(&LoadPolicy::for_driver("ecp5-lfe5um5g-85f", 0)),
        Err(PolicyError::Target {
            expected: "ecp5-lfe5um5g-85f".into(),
            package: TARGET.into()
        })
    );
    let other_major = LoadPolicy {
        contract_major: hsm_contract::CONTRACT_MAJOR + 1,
        ..LoadPolicy::for_driver(TARGET, 0)
    };
    assert_eq!(
        v.check_policy(&other_major),
        Err(PolicyError::ContractMajor {
            driver: hsm_contract::CONTRACT_MAJOR + 1,
            package: hsm_contract::CONTRACT_MAJOR
        })
    );
}
