//! Public-key file formats for `hsmctl`: ML-KEM encapsulation keys (FIPS
//! 203) as raw bytes, and as X.509 SubjectPublicKeyInfo (RFC 5280) in DER
//! or PEM with the NIST algorithm identifiers, so that other tools (OpenSSL
//! 3.5 and later, the Python `cryptography` package) read the card's keys
//! and the card reads theirs.
//!
//! ```text
//! SubjectPublicKeyInfo ::= SEQUENCE {
//!     algorithm         SEQUENCE { algorithm OBJECT IDENTIFIER },  -- no parameters
//!     subjectPublicKey  BIT STRING }                               -- the raw key
//! ```
//!
//! The object identifiers are NIST's (CSOR, `2.16.840.1.101.3.4.4.{1,2,3}`
//! for ML-KEM-512, -768, -1024); the parameters field is absent, as the
//! IETF LAMPS profile for ML-KEM in X.509 requires.
//!
//! Parsing is strict: DER must be exactly this structure in its one
//! canonical encoding, with a known identifier, a key of that parameter
//! set's length and nothing after it; PEM must carry the label
//! `PUBLIC KEY` and valid base64 of such DER. Every failure is a typed
//! [`Error`] that says what was wrong.

use base64::Engine as _;

/// An ML-KEM parameter set (FIPS 203 section 8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MlKem {
    /// ML-KEM-512 (k = 2).
    MlKem512,
    /// ML-KEM-768 (k = 3).
    MlKem768,
    /// ML-KEM-1024 (k = 4), the CNSA 2.0 choice.
    MlKem1024,
}

impl MlKem {
    /// Every parameter set.
    pub const ALL: [MlKem; 3] = [MlKem::MlKem512, MlKem::MlKem768, MlKem::MlKem1024];

    /// The module rank k.
    pub fn k(self) -> usize {
        match self {
            MlKem::MlKem512 => 2,
            MlKem::MlKem768 => 3,
            MlKem::MlKem1024 => 4,
        }
    }

    /// Length of the encapsulation key: 384 k + 32 bytes.
    pub fn ek_len(self) -> usize {
        384 * self.k() + 32
    }

    /// The name FIPS 203 uses, e.g. `ML-KEM-768`.
    pub fn name(self) -> &'static str {
        match self {
            MlKem::MlKem512 => "ML-KEM-512",
            MlKem::MlKem768 => "ML-KEM-768",
            MlKem::MlKem1024 => "ML-KEM-1024",
        }
    }

    /// The object identifier, dotted (`2.16.840.1.101.3.4.4.n`).
    pub fn oid(self) -> &'static str {
        match self {
            MlKem::MlKem512 => "2.16.840.1.101.3.4.4.1",
            MlKem::MlKem768 => "2.16.840.1.101.3.4.4.2",
            MlKem::MlKem1024 => "2.16.840.1.101.3.4.4.3",
        }
    }

    fn oid_arc(self) -> u8 {
        self.k() as u8 - 1
    }

    fn from_ek_len(len: usize) -> Option<MlKem> {
        MlKem::ALL.into_iter().find(|p| p.ek_len() == len)
    }
}

/// How a public key is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The FIPS 203 encapsulation key bytes, nothing else.
    Raw,
    /// SubjectPublicKeyInfo, DER.
    Der,
    /// SubjectPublicKeyInfo, PEM (`-----BEGIN PUBLIC KEY-----`).
    Pem,
}

/// An ML-KEM encapsulation key with its parameter set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KemPublicKey {
    /// The parameter set.
    pub alg: MlKem,
    /// `ek`, [`MlKem::ek_len`] bytes.
    pub ek: Vec<u8>,
}

/// Why a public-key file was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// The key's length is not that of its parameter set.
    #[error("{alg} encapsulation keys are {expected} bytes, this one is {got}")]
    KeyLength {
        /// The parameter set.
        alg: &'static str,
        /// Its key length.
        expected: usize,
        /// The length found.
        got: usize,
    },
    /// Neither PEM, DER, nor a raw key of any parameter set's length.
    #[error(
        "not a public key file: {len} bytes is no raw ML-KEM key length (800, 1184, 1568), \
         and it is neither DER (SEQUENCE) nor PEM (-----BEGIN PUBLIC KEY-----)"
    )]
    Unrecognised {
        /// Length of the input.
        len: usize,
    },
    /// The DER is not a SubjectPublicKeyInfo of the expected shape.
    #[error("malformed SubjectPublicKeyInfo: {0}")]
    Malformed(&'static str),
    /// A well-formed SubjectPublicKeyInfo for an algorithm other than
    /// ML-KEM.
    #[error("the key's algorithm {0} is not ML-KEM (2.16.840.1.101.3.4.4.1, .2 or .3)")]
    UnknownAlgorithm(String),
    /// The key is of another parameter set than the one asked for.
    #[error("this is an {got} key, not {expected}")]
    WrongAlgorithm {
        /// The parameter set asked for.
        expected: &'static str,
        /// The key's.
        got: &'static str,
    },
    /// Bytes follow the SubjectPublicKeyInfo.
    #[error("{0} bytes of trailing data after the SubjectPublicKeyInfo")]
    Trailing(usize),
    /// The PEM armour or its base64 is wrong.
    #[error("bad PEM: {0}")]
    Pem(&'static str),
}

const PEM_BEGIN: &str = "-----BEGIN PUBLIC KEY-----";
const PEM_END: &str = "-----END PUBLIC KEY-----";
const DER_ALG_PREFIX: [u8; 12] = [
    0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x04,
];

impl KemPublicKey {
    /// A key from its parameter set and bytes; checks the length.
    pub fn new(alg: MlKem, ek: Vec<u8>) -> Result<KemPublicKey, Error> {
        if ek.len() != alg.ek_len() {
            return Err(Error::KeyLength {
                alg: alg.name(),
                expected: alg.ek_len(),
                got: ek.len(),
            });
        }
        Ok(KemPublicKey { alg, ek })
    }

    /// The key written in `format`.
    pub fn encode(&self, format: Format) -> Vec<u8> {
        match format {
            Format::Raw => self.ek.clone(),
            Format::Der => self.to_der(),
            Format::Pem => self.to_pem().into_bytes(),
        }
    }

    /// SubjectPublicKeyInfo, DER.
    pub fn to_der(&self) -> Vec<u8> {
        let mut bit_string = vec![0x03];
        push_len(&mut bit_string, self.ek.len() + 1);
        bit_string.push(0); // no unused bits
        bit_string.extend_from_slice(&self.ek);
        let mut body = DER_ALG_PREFIX.to_vec();
        body.push(self.alg.oid_arc());
        body.extend_from_slice(&bit_string);
        let mut der = vec![0x30];
        push_len(&mut der, body.len());
        der.extend_from_slice(&body);
        der
    }

    /// SubjectPublicKeyInfo, PEM: base64 in lines of 64 characters.
    pub fn to_pem(&self) -> String {
        let b64 = base64::engine::general_purpose::STANDARD.encode(self.to_der());
        let mut pem = format!("{PEM_BEGIN}\n");
        for line in b64.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
            pem.push('\n');
        }
        pem.push_str(PEM_END);
        pem.push('\n');
        pem
    }

    /// Parses DER SubjectPublicKeyInfo, strictly.
    pub fn from_der(der: &[u8]) -> Result<KemPublicKey, Error> {
        let (body, rest) = read_tlv(der, 0x30, "outer SEQUENCE")?;
        if !rest.is_empty() {
            return Err(Error::Trailing(rest.len()));
        }
        let (alg_id, after_alg) = read_tlv(body, 0x30, "AlgorithmIdentifier")?;
        let (oid, params) = read_tlv(alg_id, 0x06, "algorithm OBJECT IDENTIFIER")?;
        let alg = match oid {
            [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x04, n @ 1..=3] => {
                MlKem::ALL[*n as usize - 1]
            }
            _ => return Err(Error::UnknownAlgorithm(oid_to_string(oid))),
        };
        if !params.is_empty() {
            return Err(Error::Malformed(
                "AlgorithmIdentifier has parameters (they must be absent for ML-KEM)",
            ));
        }
        let (bits, after_key) = read_tlv(after_alg, 0x03, "subjectPublicKey BIT STRING")?;
        if !after_key.is_empty() {
            return Err(Error::Malformed(
                "data after subjectPublicKey inside the SEQUENCE",
            ));
        }
        match bits.split_first() {
            Some((0, ek)) => KemPublicKey::new(alg, ek.to_vec()),
            Some(_) => Err(Error::Malformed("BIT STRING has unused bits")),
            None => Err(Error::Malformed("empty BIT STRING")),
        }
    }

    /// Parses PEM (label `PUBLIC KEY`) around DER SubjectPublicKeyInfo.
    pub fn from_pem(pem: &str) -> Result<KemPublicKey, Error> {
        let text = pem.trim();
        let inner = text
            .strip_prefix(PEM_BEGIN)
            .ok_or(Error::Pem(
                "it does not begin with -----BEGIN PUBLIC KEY-----",
            ))?
            .strip_suffix(PEM_END)
            .ok_or(Error::Pem("it does not end with -----END PUBLIC KEY-----"))?;
        let b64: String = inner.split_whitespace().collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| Error::Pem("the body is not valid base64"))?;
        KemPublicKey::from_der(&der)
    }

    /// Reads a key file in any of the three formats: PEM by its armour,
    /// raw by its length (no DER encoding has a raw key's length), DER by
    /// its leading SEQUENCE. `expect`, when given, must be the key's
    /// parameter set.
    pub fn from_file_bytes(bytes: &[u8], expect: Option<MlKem>) -> Result<KemPublicKey, Error> {
        let key = if bytes.trim_ascii_start().starts_with(b"-----BEGIN") {
            let text = std::str::from_utf8(bytes).map_err(|_| Error::Pem("not UTF-8 text"))?;
            KemPublicKey::from_pem(text)?
        } else if let Some(alg) = MlKem::from_ek_len(bytes.len()) {
            KemPublicKey::new(alg, bytes.to_vec())?
        } else if bytes.first() == Some(&0x30) {
            KemPublicKey::from_der(bytes)?
        } else {
            return Err(Error::Unrecognised { len: bytes.len() });
        };
        match expect {
            Some(alg) if alg != key.alg => Err(Error::WrongAlgorithm {
                expected: alg.name(),
                got: key.alg.name(),
            }),
            _ => Ok(key),
        }
    }
}

/// DER length octets (short form below 128, else the minimal long form).
fn push_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

/// One DER TLV with tag `tag` at the start of `input`: (value, rest).
fn read_tlv<'a>(
    input: &'a [u8],
    tag: u8,
    what: &'static str,
) -> Result<(&'a [u8], &'a [u8]), Error> {
    let (&t, rest) = input.split_first().ok_or(Error::Malformed(what))?;
    if t != tag {
        return Err(Error::Malformed(what));
    }
    let (&first, rest) = rest
        .split_first()
        .ok_or(Error::Malformed("truncated length"))?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 3 || rest.len() < n {
            return Err(Error::Malformed("unsupported or truncated length"));
        }
        let len = rest[..n].iter().fold(0usize, |l, &b| l << 8 | b as usize);
        // DER: the minimal encoding only.
        if rest[0] == 0 || len < 0x80 {
            return Err(Error::Malformed("non-minimal length encoding (not DER)"));
        }
        (len, &rest[n..])
    };
    if rest.len() < len {
        return Err(Error::Malformed("truncated"));
    }
    Ok(rest.split_at(len))
}

/// Dotted form of an OID's content octets (for messages).
fn oid_to_string(oid: &[u8]) -> String {
    let mut arcs = Vec::new();
    let mut v: u64 = 0;
    for &b in oid {
        v = (v << 7) | (b & 0x7f) as u64;
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (v / 40).min(2);
                arcs.push(first);
                arcs.push(v - 40 * first);
            } else {
                arcs.push(v);
            }
            v = 0;
        }
    }
    arcs.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}
