//! The public-key formats: exact DER (checked against the Python
//! `cryptography` package 48.0 on OpenSSL 4.0, which wrote the same
//! header for its ML-KEM-768 keys), round trips through every format, and
//! a distinct, explanatory refusal for every kind of bad file.

use hsm_keyfmt::{Error, Format, KemPublicKey, MlKem};

fn key(alg: MlKem, seed: u8) -> KemPublicKey {
    let ek = (0..alg.ek_len())
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect();
    KemPublicKey::new(alg, ek).unwrap()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn der_is_the_canonical_subject_public_key_info() {
    // SEQUENCE(len), SEQUENCE { OID 2.16.840.1.101.3.4.4.n }, BIT STRING
    // (len, 0 unused bits), then the key.
    let want = [
        (
            MlKem::MlKem512,
            "30820332300b06096086480165030404010382032100",
        ),
        (
            MlKem::MlKem768,
            "308204b2300b0609608648016503040402038204a100",
        ),
        (
            MlKem::MlKem1024,
            "30820632300b06096086480165030404030382062100",
        ),
    ];
    for (alg, header) in want {
        let k = key(alg, 1);
        let der = k.to_der();
        assert_eq!(der.len(), alg.ek_len() + 22, "{}", alg.name());
        assert_eq!(hex(&der[..22]), header, "{}", alg.name());
        assert_eq!(&der[22..], &k.ek[..]);
    }
}

#[test]
fn every_format_round_trips() {
    for alg in MlKem::ALL {
        let k = key(alg, 7);
        for format in [Format::Raw, Format::Der, Format::Pem] {
            let bytes = k.encode(format);
            assert_eq!(KemPublicKey::from_file_bytes(&bytes, None).unwrap(), k);
            assert_eq!(KemPublicKey::from_file_bytes(&bytes, Some(alg)).unwrap(), k);
        }
        let pem = k.to_pem();
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        assert!(pem.ends_with("-----END PUBLIC KEY-----\n"));
        assert!(pem.lines().all(|l| l.len() <= 64));
        // CRLF line ends and surrounding blank lines are accepted.
        let crlf = format!("\n{}\n", pem.replace('\n', "\r\n"));
        assert_eq!(KemPublicKey::from_pem(&crlf).unwrap(), k);
    }
}

#[test]
fn bad_files_are_refused_with_their_reason() {
    let k = key(MlKem::MlKem768, 3);
    let der = k.to_der();
    let refuse = |bytes: &[u8]| KemPublicKey::from_file_bytes(bytes, None).unwrap_err();

    // Truncated anywhere, or with trailing data.
    for cut in [1, 2, 5, 20, 22, der.len() - 1] {
        assert!(
            matches!(refuse(&der[..cut]), Error::Malformed(_)),
            "cut at {cut}"
        );
    }
    let mut long = der.clone();
    long.push(0);
    assert_eq!(refuse(&long), Error::Trailing(1));

    // Another algorithm (Ed25519, 1.3.101.112), parameters present,
    // unused bits, a key of the wrong length for its identifier.
    let mut ed = vec![
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    ed.extend_from_slice(&[9; 32]);
    assert_eq!(refuse(&ed), Error::UnknownAlgorithm("1.3.101.112".into()));
    let mut other = der.clone();
    other[16] = 0x11; // 2.16.840.1.101.3.4.4.17
    assert_eq!(
        refuse(&other),
        Error::UnknownAlgorithm("2.16.840.1.101.3.4.4.17".into())
    );
    let mut unused = der.clone();
    unused[21] = 1;
    assert!(matches!(refuse(&unused), Error::Malformed(m) if m.contains("unused")));
    let mut with_params = der[..4].to_vec();
    with_params.extend_from_slice(&[0x30, 0x0d]);
    with_params.extend_from_slice(&der[6..17]);
    with_params.extend_from_slice(&[0x05, 0x00]);
    with_params.extend_from_slice(&der[17..]);
    with_params[3] += 2;
    assert!(matches!(refuse(&with_params), Error::Malformed(m) if m.contains("parameters")));
    let short = KemPublicKey {
        alg: MlKem::MlKem1024,
        ek: k.ek.clone(),
    }
    .to_der();
    assert_eq!(
        refuse(&short),
        Error::KeyLength {
            alg: "ML-KEM-1024",
            expected: 1568,
            got: 1184
        }
    );
    // Non-minimal length (BER, not DER).
    let mut ber = vec![0x30, 0x83, 0x00];
    ber.extend_from_slice(&der[2..]);
    assert!(matches!(refuse(&ber), Error::Malformed(m) if m.contains("minimal")));

    // Neither format, a raw key of the wrong set, bad PEM.
    assert_eq!(refuse(&[1, 2, 3]), Error::Unrecognised { len: 3 });
    assert_eq!(
        KemPublicKey::from_file_bytes(&k.ek, Some(MlKem::MlKem1024)).unwrap_err(),
        Error::WrongAlgorithm {
            expected: "ML-KEM-1024",
            got: "ML-KEM-768"
        }
    );
    let pem = k.to_pem();
    let private = pem.replace("PUBLIC KEY", "PRIVATE KEY");
    assert!(matches!(refuse(private.as_bytes()), Error::Pem(_)));
    let garbled = pem.replacen('A', "*", 1).replacen('M', "*", 1);
    assert!(matches!(refuse(garbled.as_bytes()), Error::Pem(_)));
    let unterminated = pem.replace("-----END PUBLIC KEY-----\n", "");
    assert!(matches!(refuse(unterminated.as_bytes()), Error::Pem(_)));
    // Every message says what was wrong.
    for e in [refuse(&[1, 2, 3]), refuse(&long), refuse(&other)] {
        assert!(e.to_string().len() > 20, "{e}");
    }
}
