//! ML-DSA-87 signing keys: key ids, the public key file and the
//! passphrase-protected private key file.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use aes_gcm::aead::{Aead, KeyInit as _, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use ml_dsa::{EncodedSignature, EncodedVerifyingKey, ExpandedSigningKey, MlDsa87, Signature};
use zeroize::Zeroizing;

use crate::atomic::{write_atomic, Overwrite};
use crate::codec::{hex, Reader, Writer};
use crate::error::{FormatError, KeyError};
use crate::manifest::sha384;

/// Length of an encoded ML-DSA-87 public key (FIPS 204 `pkEncode`).
pub const PUBLIC_KEY_LEN: usize = 2592;
/// Length of an ML-DSA-87 signature.
pub const SIGNATURE_LEN: usize = 4627;
/// Length of the seed ξ a key pair is generated from (FIPS 204 Algorithm 6).
pub const SEED_LEN: usize = 32;
/// The ML-DSA context string of manifest signatures (FIPS 204 section
/// 5.2): domain separation from every other use of the same key.
pub const SIGNATURE_CONTEXT: &[u8] = b"hsm-bitstream-manifest-v1";

/// Magic number of a public key file.
pub const PUBLIC_KEY_MAGIC: [u8; 8] = *b"HSMBSPUB";
/// Magic number of a private key file.
pub const PRIVATE_KEY_MAGIC: [u8; 8] = *b"HSMBSKEY";
/// The key file format version this library writes and reads.
pub const KEY_FILE_VERSION: u16 = 1;
/// Algorithm number of ML-DSA-87 in key files.
pub const ALG_ML_DSA_87: u16 = 1;
/// KDF number of Argon2id (version 0x13, RFC 9106) in private key files.
pub const KDF_ARGON2ID: u16 = 1;

const PUBLIC_FILE_LEN: usize = 8 + 2 + 2 + PUBLIC_KEY_LEN;
/// Bytes of a private key file before the ciphertext: all of them are
/// AES-GCM associated data.
const PRIVATE_HEADER_LEN: usize = 72;
const PRIVATE_FILE_LEN: usize = PRIVATE_HEADER_LEN + SEED_LEN + 16;

/// A key id: the first 16 bytes of SHA-384 over the encoded public key
/// (the 2,592 bytes of FIPS 204 `pkEncode`), shown as 32 lower-case hex
/// digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(pub [u8; 16]);

impl KeyId {
    /// The key id of an encoded public key.
    pub fn of(encoded_public_key: &[u8]) -> KeyId {
        let digest = sha384(encoded_public_key);
        let mut id = [0u8; 16];
        id.copy_from_slice(&digest[..16]);
        KeyId(id)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex(&self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

impl FromStr for KeyId {
    type Err = FormatError;

    /// 32 hex digits, either case.
    fn from_str(s: &str) -> Result<KeyId, FormatError> {
        let bad = FormatError::BadField {
            field: "key id",
            reason: "a key id is 32 hex digits",
        };
        let s = s.as_bytes();
        if s.len() != 32 {
            return Err(bad);
        }
        let mut id = [0u8; 16];
        for (out, pair) in id.iter_mut().zip(s.chunks_exact(2)) {
            let digit = |c: u8| (c as char).to_digit(16);
            match (digit(pair[0]), digit(pair[1])) {
                (Some(h), Some(l)) => *out = (h << 4 | l) as u8,
                _ => return Err(bad),
            }
        }
        Ok(KeyId(id))
    }
}

/// An ML-DSA-87 public key (verifying key) with its key id.
#[derive(Clone)]
pub struct PublicKey {
    vk: ml_dsa::VerifyingKey<MlDsa87>,
    encoded: Vec<u8>,
    key_id: KeyId,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey(ML-DSA-87, {})", self.key_id)
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &PublicKey) -> bool {
        self.encoded == other.encoded
    }
}

impl Eq for PublicKey {}

impl PublicKey {
    /// A key from its FIPS 204 encoding (2,592 bytes).
    ///
    /// # Errors
    ///
    /// [`FormatError::BadField`] if the length is wrong.
    pub fn from_raw(raw: &[u8]) -> Result<PublicKey, FormatError> {
        let enc =
            EncodedVerifyingKey::<MlDsa87>::try_from(raw).map_err(|_| FormatError::BadField {
                field: "public key",
                reason: "an ML-DSA-87 public key is 2592 bytes",
            })?;
        Ok(PublicKey {
            vk: ml_dsa::VerifyingKey::decode(&enc),
            encoded: raw.to_vec(),
            key_id: KeyId::of(raw),
        })
    }

    /// The FIPS 204 encoding (2,592 bytes).
    pub fn raw(&self) -> &[u8] {
        &self.encoded
    }

    /// The key id.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The public key file: magic `HSMBSPUB`, version, algorithm, then the
    /// FIPS 204 encoding.
    pub fn to_file_bytes(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.bytes(&PUBLIC_KEY_MAGIC);
        w.u16(KEY_FILE_VERSION);
        w.u16(ALG_ML_DSA_87);
        w.bytes(&self.encoded);
        w.buf
    }

    /// Parses a public key file, strictly.
    ///
    /// # Errors
    ///
    /// [`FormatError`] saying what is wrong.
    pub fn from_file_bytes(bytes: &[u8]) -> Result<PublicKey, FormatError> {
        let mut r = Reader::new(bytes);
        r.magic(&PUBLIC_KEY_MAGIC, "public key file")?;
        r.version(KEY_FILE_VERSION, "public key file")?;
        check_alg(r.u16("algorithm")?)?;
        let raw = r.take(PUBLIC_KEY_LEN, "public key")?;
        r.finish("public key file")?;
        PublicKey::from_raw(raw)
    }

    /// Whether `signature` is this key's ML-DSA-87 signature over
    /// `manifest` with the context [`SIGNATURE_CONTEXT`].
    pub fn verify_manifest(&self, manifest: &[u8], signature: &[u8]) -> bool {
        let Ok(enc) = EncodedSignature::<MlDsa87>::try_from(signature) else {
            return false;
        };
        match Signature::<MlDsa87>::decode(&enc) {
            Some(sig) => self
                .vk
                .verify_with_context(manifest, SIGNATURE_CONTEXT, &sig),
            None => false,
        }
    }
}

fn check_alg(alg: u16) -> Result<(), FormatError> {
    if alg != ALG_ML_DSA_87 {
        return Err(FormatError::BadField {
            field: "algorithm",
            reason: "only 1 (ML-DSA-87) is defined",
        });
    }
    Ok(())
}

/// Argon2id parameters of a private key file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KdfParams {
    m_kib: u32,
    t: u32,
    p: u32,
}

impl KdfParams {
    /// RFC 9106's second recommended setting: 64 MiB, 3 passes, 4 lanes.
    pub const DEFAULT: KdfParams = KdfParams {
        m_kib: 64 * 1024,
        t: 3,
        p: 4,
    };
    /// The cheapest setting (32 KiB, 1 pass, 1 lane), for tests only: a
    /// file written with it falls quickly to a passphrase search.
    pub const INSECURE_FAST: KdfParams = KdfParams {
        m_kib: 32,
        t: 1,
        p: 1,
    };
    /// The most memory a key file may ask for: 4 GiB.
    pub const MAX_M_KIB: u32 = 4 * 1024 * 1024;
    /// The most passes a key file may ask for.
    pub const MAX_T: u32 = 64;
    /// The most lanes a key file may ask for.
    pub const MAX_P: u32 = 64;

    /// Parameters: memory `m_kib` KiB (8 p to [`Self::MAX_M_KIB`]), `t`
    /// passes (1 to [`Self::MAX_T`]), `p` lanes (1 to [`Self::MAX_P`]).
    ///
    /// # Errors
    ///
    /// [`KeyError::KdfParams`] outside those ranges.
    pub fn new(m_kib: u32, t: u32, p: u32) -> Result<KdfParams, KeyError> {
        Self::check(m_kib, t, p).map_err(KeyError::KdfParams)?;
        Ok(KdfParams { m_kib, t, p })
    }

    fn check(m_kib: u32, t: u32, p: u32) -> Result<(), &'static str> {
        if !(1..=Self::MAX_P).contains(&p) {
            return Err("lanes (p) must be 1 to 64");
        }
        if !(1..=Self::MAX_T).contains(&t) {
            return Err("passes (t) must be 1 to 64");
        }
        if m_kib < 8 * p || m_kib > Self::MAX_M_KIB {
            return Err("memory (m) must be 8 KiB per lane to 4 GiB");
        }
        Ok(())
    }

    /// Memory in KiB.
    pub fn m_kib(&self) -> u32 {
        self.m_kib
    }

    /// Passes.
    pub fn t(&self) -> u32 {
        self.t
    }

    /// Lanes.
    pub fn p(&self) -> u32 {
        self.p
    }

    fn derive(&self, passphrase: &[u8], salt: &[u8]) -> Result<Zeroizing<[u8; 32]>, KeyError> {
        let params = argon2::Params::new(self.m_kib, self.t, self.p, Some(32))
            .map_err(|e| KeyError::Kdf(e.to_string()))?;
        let argon =
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut key = Zeroizing::new([0u8; 32]);
        argon
            .hash_password_into(passphrase, salt, key.as_mut())
            .map_err(|e| KeyError::Kdf(e.to_string()))?;
        Ok(key)
    }
}

impl Default for KdfParams {
    fn default() -> KdfParams {
        KdfParams::DEFAULT
    }
}

/// An ML-DSA-87 signing key. Its seed and expanded form are wiped when it
/// is dropped.
pub struct SigningKey {
    seed: Zeroizing<[u8; SEED_LEN]>,
    expanded: Box<ExpandedSigningKey<MlDsa87>>,
    public: PublicKey,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SigningKey(ML-DSA-87, {}, secret redacted)",
            self.public.key_id
        )
    }
}

impl SigningKey {
    /// A new key from the operating system's random number generator.
    ///
    /// # Errors
    ///
    /// [`KeyError::Random`] if the generator fails.
    pub fn generate() -> Result<SigningKey, KeyError> {
        let mut seed = Zeroizing::new([0u8; SEED_LEN]);
        getrandom::fill(seed.as_mut()).map_err(|_| KeyError::Random)?;
        Ok(SigningKey::from_seed(&seed))
    }

    /// The key pair FIPS 204 `ML-DSA.KeyGen_internal` derives from the seed
    /// ξ (deterministic: for tests and known-answer checks).
    pub fn from_seed(seed: &[u8; SEED_LEN]) -> SigningKey {
        let xi = Zeroizing::new(ml_dsa::B32::from(*seed));
        let expanded = Box::new(ExpandedSigningKey::<MlDsa87>::from_seed(&xi));
        let encoded = expanded.verifying_key().encode();
        let public = PublicKey {
            vk: expanded.verifying_key(),
            encoded: encoded.to_vec(),
            key_id: KeyId::of(&encoded),
        };
        SigningKey {
            seed: Zeroizing::new(*seed),
            expanded,
            public,
        }
    }

    /// The public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// The key id.
    pub fn key_id(&self) -> KeyId {
        self.public.key_id
    }

    /// The hedged (randomised) ML-DSA-87 signature over `manifest` with the
    /// context [`SIGNATURE_CONTEXT`].
    ///
    /// # Errors
    ///
    /// [`KeyError::Random`] if the random number generator fails.
    pub fn sign_manifest(&self, manifest: &[u8]) -> Result<Vec<u8>, KeyError> {
        let sig = self
            .expanded
            .sign_randomized(manifest, SIGNATURE_CONTEXT, &mut getrandom::SysRng)
            .map_err(|_| KeyError::Random)?;
        Ok(sig.encode().to_vec())
    }

    /// The private key file: the seed encrypted under a key that Argon2id
    /// derives from `passphrase` (see `docs/bitstream-package.md`).
    ///
    /// # Errors
    ///
    /// [`KeyError::EmptyPassphrase`], [`KeyError::Random`], or
    /// [`KeyError::Kdf`].
    pub fn to_file_bytes(&self, passphrase: &[u8], params: KdfParams) -> Result<Vec<u8>, KeyError> {
        if passphrase.is_empty() {
            return Err(KeyError::EmptyPassphrase);
        }
        let mut salt = [0u8; 16];
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut salt).map_err(|_| KeyError::Random)?;
        getrandom::fill(&mut nonce).map_err(|_| KeyError::Random)?;
        let mut w = Writer::default();
        w.bytes(&PRIVATE_KEY_MAGIC);
        w.u16(KEY_FILE_VERSION);
        w.u16(ALG_ML_DSA_87);
        w.u16(KDF_ARGON2ID);
        w.u16(0);
        w.u32(params.m_kib);
        w.u32(params.t);
        w.u32(params.p);
        w.bytes(&salt);
        w.bytes(&nonce);
        w.bytes(&self.key_id().0);
        debug_assert_eq!(w.buf.len(), PRIVATE_HEADER_LEN);
        let key = params.derive(passphrase, &salt)?;
        let cipher = Aes256Gcm::new_from_slice(key.as_ref())
            .map_err(|_| KeyError::Kdf("AES-256-GCM key length".into()))?;
        let ct = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: self.seed.as_ref(),
                    aad: &w.buf,
                },
            )
            .map_err(|_| KeyError::Kdf("AES-GCM encryption failed".into()))?;
        w.bytes(&ct);
        Ok(w.buf)
    }

    /// Reads a private key file with its passphrase.
    ///
    /// # Errors
    ///
    /// [`KeyError::Format`] if the file is malformed,
    /// [`KeyError::WrongPassphrase`] if the passphrase is wrong (or the file
    /// was altered), [`KeyError::KeyIdMismatch`] if the seed does not give
    /// the key id in the header.
    pub fn from_file_bytes(bytes: &[u8], passphrase: &[u8]) -> Result<SigningKey, KeyError> {
        let mut r = Reader::new(bytes);
        r.magic(&PRIVATE_KEY_MAGIC, "private key file")?;
        r.version(KEY_FILE_VERSION, "private key file")?;
        check_alg(r.u16("algorithm")?)?;
        if r.u16("kdf")? != KDF_ARGON2ID {
            return Err(FormatError::BadField {
                field: "kdf",
                reason: "only 1 (Argon2id) is defined",
            }
            .into());
        }
        if r.u16("reserved")? != 0 {
            return Err(FormatError::BadField {
                field: "reserved",
                reason: "must be zero",
            }
            .into());
        }
        let (m_kib, t, p) = (r.u32("argon2 m")?, r.u32("argon2 t")?, r.u32("argon2 p")?);
        KdfParams::check(m_kib, t, p).map_err(|reason| FormatError::BadField {
            field: "Argon2id parameters",
            reason,
        })?;
        let params = KdfParams { m_kib, t, p };
        let salt: [u8; 16] = r.array("salt")?;
        let nonce: [u8; 12] = r.array("nonce")?;
        let key_id = KeyId(r.array("key id")?);
        let ct = r.take(SEED_LEN + 16, "encrypted seed")?;
        r.finish("private key file")?;
        debug_assert_eq!(bytes.len(), PRIVATE_FILE_LEN);
        let key = params.derive(passphrase, &salt)?;
        let cipher = Aes256Gcm::new_from_slice(key.as_ref())
            .map_err(|_| KeyError::Kdf("AES-256-GCM key length".into()))?;
        let seed = Zeroizing::new(
            cipher
                .decrypt(
                    Nonce::from_slice(&nonce),
                    Payload {
                        msg: ct,
                        aad: &bytes[..PRIVATE_HEADER_LEN],
                    },
                )
                .map_err(|_| KeyError::WrongPassphrase)?,
        );
        let mut xi = Zeroizing::new([0u8; SEED_LEN]);
        xi.copy_from_slice(&seed);
        let sk = SigningKey::from_seed(&xi);
        if sk.key_id() != key_id {
            return Err(KeyError::KeyIdMismatch { key_id });
        }
        Ok(sk)
    }

    /// The public key path that goes with a private key path: the same name
    /// with the extension `.pub`.
    ///
    /// # Errors
    ///
    /// [`KeyError::BadPath`] if `path` itself ends in `.pub`.
    pub fn public_path(path: &Path) -> Result<PathBuf, KeyError> {
        if path.extension().is_some_and(|e| e == "pub") {
            return Err(KeyError::BadPath {
                path: path.to_owned(),
            });
        }
        Ok(path.with_extension("pub"))
    }

    /// Writes the private key file to `path` (owner read/write only on
    /// Unix) and the public key file beside it ([`Self::public_path`]),
    /// each atomically ([`write_atomic`]: a temporary file in the same
    /// directory, synced, then moved into place). Neither may exist
    /// already: if the public key file cannot be written, the new private
    /// key file is removed again. Returns the public key's path.
    ///
    /// # Errors
    ///
    /// [`KeyError::Exists`], [`KeyError::BadPath`], [`KeyError::Io`], or an
    /// error of [`Self::to_file_bytes`].
    pub fn write_files(
        &self,
        path: &Path,
        passphrase: &[u8],
        params: KdfParams,
    ) -> Result<PathBuf, KeyError> {
        self.write_files_with(path, passphrase, params, Overwrite::Refuse)
    }

    /// Like [`Self::write_files`], but replaces either file if it exists
    /// (each atomically; if writing the public key file fails after the
    /// private key file was replaced, the two no longer match: write them
    /// again).
    ///
    /// # Errors
    ///
    /// [`KeyError::BadPath`], [`KeyError::Io`], or an error of
    /// [`Self::to_file_bytes`].
    pub fn overwrite_files(
        &self,
        path: &Path,
        passphrase: &[u8],
        params: KdfParams,
    ) -> Result<PathBuf, KeyError> {
        self.write_files_with(path, passphrase, params, Overwrite::Replace)
    }

    fn write_files_with(
        &self,
        path: &Path,
        passphrase: &[u8],
        params: KdfParams,
        overwrite: Overwrite,
    ) -> Result<PathBuf, KeyError> {
        let pub_path = Self::public_path(path)?;
        if overwrite == Overwrite::Refuse {
            for p in [path, &pub_path] {
                if p.symlink_metadata().is_ok() {
                    return Err(KeyError::Exists { path: p.to_owned() });
                }
            }
        }
        let private = Zeroizing::new(self.to_file_bytes(passphrase, params)?);
        write_key_file(path, &private, 0o600, overwrite)?;
        let public = self.public.to_file_bytes();
        if let Err(e) = write_key_file(&pub_path, &public, 0o644, overwrite) {
            if overwrite == Overwrite::Refuse {
                let _ = std::fs::remove_file(path);
            }
            return Err(e);
        }
        Ok(pub_path)
    }

    /// Reads the private key file at `path`.
    ///
    /// # Errors
    ///
    /// [`KeyError::Io`] or an error of [`Self::from_file_bytes`].
    pub fn read_file(path: &Path, passphrase: &[u8]) -> Result<SigningKey, KeyError> {
        let io = |source| KeyError::Io {
            path: path.to_owned(),
            source,
        };
        let bytes = Zeroizing::new(read_limited(path, PRIVATE_FILE_LEN).map_err(io)?);
        SigningKey::from_file_bytes(&bytes, passphrase)
    }
}

impl PublicKey {
    /// Reads a public key file.
    ///
    /// # Errors
    ///
    /// [`KeyError::Io`] or [`KeyError::Format`].
    pub fn read_file(path: &Path) -> Result<PublicKey, KeyError> {
        let bytes = read_limited(path, PUBLIC_FILE_LEN).map_err(|source| KeyError::Io {
            path: path.to_owned(),
            source,
        })?;
        Ok(PublicKey::from_file_bytes(&bytes)?)
    }
}

/// Reads a file of at most `max` bytes (one more is read, so that a longer
/// file still fails as trailing data, without reading all of it).
pub(crate) fn read_limited(path: &Path, max: usize) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let mut buf = Vec::new();
    std::fs::File::open(path)?
        .take(max as u64 + 1)
        .read_to_end(&mut buf)?;
    Ok(buf)
}

/// Writes a key file atomically, naming the file in any error.
fn write_key_file(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    overwrite: Overwrite,
) -> Result<(), KeyError> {
    write_atomic(path, bytes, mode, overwrite).map_err(|source| {
        if source.kind() == std::io::ErrorKind::AlreadyExists {
            KeyError::Exists {
                path: path.to_owned(),
            }
        } else {
            KeyError::Io {
                path: path.to_owned(),
                source,
            }
        }
    })
}
