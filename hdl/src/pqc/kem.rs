//! [`MlKemCore`]: the ML-KEM engine's compute core. A micro-program
//! sequencer runs FIPS 203's algorithms as programs over the PQC units: a
//! sponge ([`XofStream`]), the samplers ([`SampleNtt`], [`SampleCbd`]),
//! the polynomial unit ([`PolyUnit`]), the encoder ([`PolyEncoder`]) and
//! the decoder ([`PolyDecoder`]).
//! It also holds a seed store of 32 lanes and the double buffer in which
//! `SampleNtt` leaves the matrix entries that the polynomial unit
//! multiplies.
//!
//! The programs are built in Rust, encoded as [`INSN_BITS`]-bit words
//! ([`Insn::encode`]) and held in a ROM. Each instruction starts one
//! unit, once the units it needs are free, and does not wait for it to
//! finish. `Wait` waits. So the sponge samples the next matrix entry while
//! the polynomial unit multiplies the current one.
//!
//! The core talks to the outside through a lane stream in (seeds, keys,
//! ciphertexts) and a lane stream out (keys, ciphertexts). See
//! `docs/pqc-engine.md` for the engine around it and the plan.
//!
//! Programs so far:
//! - [`keygen_program`]: K-PKE.KeyGen as used by ML-KEM.KeyGen_internal(d,
//!   z) (FIPS 203 Algorithms 13 and 16). d and z in; ek =
//!   ByteEncode12(t̂) || rho out and, in this test-mode form, dk_PKE =
//!   ByteEncode12(ŝ).
//! - [`encaps_program`]: ML-KEM.Encaps_internal(ek, m) (Algorithms 17 and
//!   14). ek and m in (ek decoded with the modulus check and hashed in
//!   one pass); the ciphertext out and, in this test-mode form, the
//!   shared secret K.
//! - [`decaps_program`]: ML-KEM.Decaps_internal (Algorithm 18) for a key
//!   held as its seed (d, z): the key pair re-derived, c decrypted, K' and
//!   K̄ = J(z || c) both computed, c re-encrypted and compared with c
//!   read a second time, and K' or K̄ chosen by a multiplexer: the same
//!   schedule for valid and invalid ciphertexts (implicit rejection in
//!   constant time).

use super::codec::{PolyDecoder, PolyEncoder};
use super::poly::{PolyUnit, CMD_ADD, CMD_INTT, CMD_MUL, CMD_MULACC, CMD_NTT, CMD_SUB};
use super::sampler::{SampleCbd, SampleNtt};
use super::xof::XofStream;
use rust_hdl::prelude::*;

/// Sponge function of an [`Insn::Xof`] (FIPS 203 section 4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XofMode {
    /// G = SHA3-512.
    G,
    /// H = SHA3-256.
    H,
    /// The SampleNTT stream: SHAKE128.
    Shake128,
    /// PRF and J: SHAKE256.
    Shake256,
}

/// Where the input of an [`Insn::Xof`] comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XofSrc {
    /// Seed lanes from group `group` on (`len / 8` whole lanes), then the
    /// instruction's suffix for the remaining bytes.
    Seed(u8),
    /// Lanes pushed by the instructions that follow: input-stream lanes
    /// as `InSeed` and `Decode` consume them (e.g. H(ek) while ek is
    /// decoded), encoder output (`Encode` to [`OutDst::Xof`]) and seed
    /// lanes (`OutSeed` to the sponge). With `z_prefix`, four lanes of
    /// seed group `src` come first (J(z || c)).
    Pushed {
        /// Seed group of the 4-lane prefix, if any.
        prefix: Option<u8>,
    },
}

/// Where encoder or seed output goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutDst {
    /// The output stream.
    Out,
    /// The sponge (an [`XofSrc::Pushed`] `Xof`).
    Xof,
    /// Seed group `.0` (encoder only; 4 lanes).
    Seed(u8),
    /// Compared with the input stream, lane by lane (encoder only): any
    /// difference sets the job's mismatch flag (the re-encryption check
    /// of Decaps).
    Compare,
}

/// Where the output of an [`Insn::Xof`] goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XofDst {
    /// `lanes` lanes into the seed store from group `group` on.
    Seed {
        /// First group of 4 lanes.
        group: u8,
        /// Lanes to write (4 or 8).
        lanes: u8,
    },
    /// SampleNTT, into half `half` of the matrix buffer.
    SampleNtt {
        /// Buffer half (0 or 1).
        half: u8,
    },
    /// SamplePolyCBD_eta into polynomial `poly`.
    Cbd {
        /// eta = 3 (else 2).
        eta3: bool,
        /// Destination polynomial.
        poly: u8,
    },
}

/// One instruction of the sequencer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Insn {
    /// The program ends once every unit is idle.
    End,
    /// Four lanes from the input stream into seed group `group`.
    InSeed {
        /// Seed group (4 lanes).
        group: u8,
    },
    /// Seed group `group` (four lanes) to the output stream or the sponge.
    OutSeed {
        /// Seed group (4 lanes).
        group: u8,
        /// Destination ([`OutDst::Out`] or [`OutDst::Xof`]).
        dst: OutDst,
        /// If the mismatch flag is set, group `alt` instead (FIPS 203's
        /// implicit rejection, a multiplexer on the address: the same
        /// cycles either way).
        alt: Option<u8>,
    },
    /// A sponge over seed lanes and a suffix, or over the input stream.
    Xof {
        /// The function.
        mode: XofMode,
        /// The input.
        src: XofSrc,
        /// Input length in bytes.
        len: u16,
        /// The input's last bytes after the seed lanes (e.g. `k`,
        /// `j || i`, `N`), little-endian.
        suffix: u16,
        /// The output's destination.
        dst: XofDst,
    },
    /// A polynomial-unit command.
    Poly {
        /// `CMD_*` of [`PolyUnit`].
        cmd: u64,
        /// Operand a (or the NTT's polynomial).
        pa: u8,
        /// Operand b.
        pb: u8,
        /// Result.
        pc: u8,
        /// Operand a from half `half` of the matrix buffer.
        a_ext: bool,
        /// The half.
        half: u8,
    },
    /// (Compress_d and) ByteEncode_d of polynomial `poly`.
    Encode {
        /// The polynomial.
        poly: u8,
        /// d.
        d: u8,
        /// Compress_d first (d < 12).
        compress: bool,
        /// Where the bytes go.
        dst: OutDst,
    },
    /// ByteDecode_d (and Decompress_d) into polynomial `poly`, from the
    /// input stream (`group` None) or four seed lanes.
    Decode {
        /// The polynomial.
        poly: u8,
        /// d.
        d: u8,
        /// Decompress_d after decoding (d < 12).
        decompress: bool,
        /// Seed group, or the input stream.
        group: Option<u8>,
    },
    /// Wait until the named units are idle.
    Wait {
        /// The sponge and the sampler it feeds.
        xof: bool,
        /// The polynomial unit.
        poly: bool,
        /// The output stream (encoder, seed output).
        out: bool,
    },
}

impl Insn {
    /// The instruction word, [`INSN_BITS`] wide (field layout in the
    /// source).
    pub fn encode(self) -> u64 {
        let b = |v: bool| v as u64;
        match self {
            Insn::End => 0,
            Insn::InSeed { group } => 1 | (group as u64) << 4,
            Insn::OutSeed { group, dst, alt } => {
                assert!(matches!(dst, OutDst::Out | OutDst::Xof));
                2 | (group as u64) << 4
                    | b(dst == OutDst::Xof) << 7
                    | b(alt.is_some()) << 9
                    | (alt.unwrap_or(0) as u64) << 10
            }
            Insn::Xof {
                mode,
                src,
                len,
                suffix,
                dst,
            } => {
                assert!(len < 2048);
                let mode = match mode {
                    XofMode::G => 0,
                    XofMode::H => 1,
                    XofMode::Shake128 => 2,
                    XofMode::Shake256 => 3,
                };
                let (group, input, pre4) = match src {
                    XofSrc::Seed(g) => (g, false, false),
                    XofSrc::Pushed { prefix } => (prefix.unwrap_or(0), true, prefix.is_some()),
                };
                let (kind, eta3, arg, lanes) = match dst {
                    XofDst::Seed { group, lanes } => (0, false, group, lanes),
                    XofDst::SampleNtt { half } => (1, false, half, 0),
                    XofDst::Cbd { eta3, poly } => (2, eta3, poly, 0),
                };
                3 | mode << 4
                    | (group as u64) << 6
                    | b(input) << 9
                    | (len as u64) << 10
                    | (suffix as u64) << 21
                    | kind << 37
                    | b(eta3) << 39
                    | (arg as u64) << 40
                    | (lanes as u64) << 45
                    | b(pre4) << 49
            }
            Insn::Poly {
                cmd,
                pa,
                pb,
                pc,
                a_ext,
                half,
            } => {
                4 | cmd << 4
                    | (pa as u64) << 7
                    | (pb as u64) << 12
                    | (pc as u64) << 17
                    | b(a_ext) << 22
                    | (half as u64) << 23
            }
            Insn::Encode {
                poly,
                d,
                compress,
                dst,
            } => {
                let (kind, group) = match dst {
                    OutDst::Out => (0, 0),
                    OutDst::Xof => (1, 0),
                    OutDst::Seed(g) => (2, g),
                    OutDst::Compare => (3, 0),
                };
                5 | (poly as u64) << 4
                    | (d as u64) << 9
                    | b(compress) << 13
                    | kind << 14
                    | (group as u64) << 16
            }
            Insn::Wait { xof, poly, out } => 6 | b(xof) << 4 | b(poly) << 5 | b(out) << 6,
            Insn::Decode {
                poly,
                d,
                decompress,
                group,
            } => {
                7 | (poly as u64) << 4
                    | (d as u64) << 9
                    | b(decompress) << 13
                    | b(group.is_none()) << 14
                    | (group.unwrap_or(0) as u64) << 15
            }
        }
    }
}

/// Width of an instruction word.
pub const INSN_BITS: usize = 50;

/// Seed groups of the programs (4 lanes = 32 bytes each).
const G_D: u8 = 0;
const G_Z: u8 = 1;
const G_RHO: u8 = 2;
const G_SIGMA: u8 = 3;
const G_M: u8 = 4;
const G_H: u8 = 5;
const G_K: u8 = 6;
const G_R: u8 = 7;

const fn wait_xof() -> Insn {
    Insn::Wait {
        xof: true,
        poly: false,
        out: false,
    }
}

fn poly(cmd: u64, pa: usize, pb: usize, pc: usize) -> Insn {
    Insn::Poly {
        cmd,
        pa: pa as u8,
        pb: pb as u8,
        pc: pc as u8,
        a_ext: false,
        half: 0,
    }
}

/// `Â[row][col] = SampleNTT(rho || col || row)` into half `n % 2`.
fn sample(row: usize, col: usize, n: usize) -> Insn {
    Insn::Xof {
        mode: XofMode::Shake128,
        src: XofSrc::Seed(G_RHO),
        len: 34,
        suffix: (col | row << 8) as u16,
        dst: XofDst::SampleNtt {
            half: (n % 2) as u8,
        },
    }
}

/// `CBD_eta(PRF(seed, n))` into `poly`.
fn prf_cbd(seed: u8, n: usize, eta3: bool, poly: usize) -> Insn {
    Insn::Xof {
        mode: XofMode::Shake256,
        src: XofSrc::Seed(seed),
        len: 33,
        suffix: n as u16,
        dst: XofDst::Cbd {
            eta3,
            poly: poly as u8,
        },
    }
}

/// Sum over `terms` (row, col, b-polynomial) of `Â[row][col] * b` into
/// `pc`, each matrix entry sampled into one buffer half while the entry
/// before it is multiplied from the other.
fn matrix_row(p: &mut Vec<Insn>, terms: &[(usize, usize, usize)], pc: usize) {
    p.push(sample(terms[0].0, terms[0].1, 0));
    for (n, &(_, _, pb)) in terms.iter().enumerate() {
        p.push(wait_xof());
        p.push(Insn::Poly {
            cmd: if n == 0 { CMD_MUL } else { CMD_MULACC },
            pa: 0,
            pb: pb as u8,
            pc: pc as u8,
            a_ext: true,
            half: (n % 2) as u8,
        });
        if let Some(&(row, col, _)) = terms.get(n + 1) {
            p.push(sample(row, col, n + 1));
        }
    }
}

fn encode(poly: usize, d: u8, compress: bool, dst: OutDst) -> Insn {
    Insn::Encode {
        poly: poly as u8,
        d,
        compress,
        dst,
    }
}

/// (eta1 = 3, d_u, d_v) of the parameter set with rank k (FIPS 203
/// section 8).
fn params(k: usize) -> (bool, u8, u8) {
    match k {
        2 => (true, 10, 4),
        3 => (false, 10, 4),
        _ => (false, 11, 5),
    }
}

/// K-PKE.KeyGen's core (Algorithm 13, lines 1-18) from d in seed group
/// `G_D`: rho and sigma into their groups, ŝ_i into polynomials `s + i`,
/// t̂_i into `t + i`.
fn kpke_keygen(p: &mut Vec<Insn>, k: usize, s: usize, t: usize) {
    let (eta3, _, _) = params(k);
    // (rho, sigma) = G(d || k)
    p.push(Insn::Xof {
        mode: XofMode::G,
        src: XofSrc::Seed(G_D),
        len: 33,
        suffix: k as u16,
        dst: XofDst::Seed {
            group: G_RHO,
            lanes: 8,
        },
    });
    p.push(wait_xof());
    // s_i = CBD(PRF(sigma, i)), e_i = CBD(PRF(sigma, k + i)); e_i goes
    // where t̂_i will be, and the products accumulate onto it.
    for n in 0..2 * k {
        let dst = if n < k { s + n } else { t + n - k };
        p.push(prf_cbd(G_SIGMA, n, eta3, dst));
    }
    p.push(wait_xof());
    for i in 0..k {
        p.push(poly(CMD_NTT, s + i, 0, 0));
        p.push(poly(CMD_NTT, t + i, 0, 0));
    }
    // t̂_i = ê_i + sum_j Â[i][j] ŝ_j
    let sample_n = |n: usize| sample(n / k, n % k, n);
    p.push(sample_n(0));
    for n in 0..k * k {
        let (i, j) = (n / k, n % k);
        p.push(wait_xof());
        p.push(Insn::Poly {
            cmd: CMD_MULACC,
            pa: 0,
            pb: (s + j) as u8,
            pc: (t + i) as u8,
            a_ext: true,
            half: (n % 2) as u8,
        });
        if n + 1 < k * k {
            p.push(sample_n(n + 1));
        }
    }
}

/// Polynomials of K-PKE.Encrypt: t̂, y, e1, u (k each), v, e2, mu.
struct EncPolys {
    t: usize,
    y: usize,
    e1: usize,
    u: usize,
    v: usize,
    e2: usize,
    mu: usize,
}

/// K-PKE.Encrypt (Algorithm 14, lines 9-23) with t̂ and rho in place, m in
/// seed group `G_M` and r in `G_R`; the ciphertext to `dst`.
fn kpke_encrypt(p: &mut Vec<Insn>, k: usize, e: &EncPolys, dst: OutDst) {
    let (eta1_3, du, dv) = params(k);
    for i in 0..k {
        p.push(prf_cbd(G_R, i, eta1_3, e.y + i));
    }
    for i in 0..k {
        p.push(prf_cbd(G_R, k + i, false, e.e1 + i));
    }
    p.push(prf_cbd(G_R, 2 * k, false, e.e2));
    p.push(wait_xof());
    for i in 0..k {
        p.push(poly(CMD_NTT, e.y + i, 0, 0));
    }
    // u_i = INTT(sum_j Â[j][i] ŷ_j) + e1_i
    for i in 0..k {
        let terms: Vec<_> = (0..k).map(|j| (j, i, e.y + j)).collect();
        matrix_row(p, &terms, e.u + i);
        p.push(poly(CMD_INTT, e.u + i, 0, 0));
        p.push(poly(CMD_ADD, e.u + i, e.e1 + i, e.u + i));
    }
    // v = INTT(sum_j t̂_j ŷ_j) + e2 + Decompress_1(m)
    p.push(poly(CMD_MUL, e.t, e.y, e.v));
    for j in 1..k {
        p.push(poly(CMD_MULACC, e.t + j, e.y + j, e.v));
    }
    p.push(poly(CMD_INTT, e.v, 0, 0));
    p.push(poly(CMD_ADD, e.v, e.e2, e.v));
    p.push(Insn::Decode {
        poly: e.mu as u8,
        d: 1,
        decompress: true,
        group: Some(G_M),
    });
    p.push(poly(CMD_ADD, e.v, e.mu, e.v));
    for i in 0..k {
        p.push(encode(e.u + i, du, true, dst));
    }
    p.push(encode(e.v, dv, true, dst));
}

/// ML-KEM.KeyGen_internal(d, z) up to the public key, as a program for
/// module rank `k`: d and z come in (4 lanes each); ek =
/// ByteEncode12(t̂) || rho goes out, then dk_PKE = ByteEncode12(ŝ)
/// (FIPS 203 Algorithm 13). Polynomials: ŝ_i in 0..k, t̂_i in 4..4+k.
pub fn keygen_program(k: usize) -> Vec<Insn> {
    keygen(k, true)
}

/// ML-KEM.KeyGen_internal(d, z) as the card runs it outside test mode: as
/// [`keygen_program`] but only ek goes out; dk_PKE is never encoded (the
/// key stays in the card as its seed).
pub fn keygen_ek_program(k: usize) -> Vec<Insn> {
    keygen(k, false)
}

fn keygen(k: usize, with_dk: bool) -> Vec<Insn> {
    assert!((2..=4).contains(&k));
    let mut p = vec![Insn::InSeed { group: G_D }, Insn::InSeed { group: G_Z }];
    kpke_keygen(&mut p, k, 0, 4);
    for i in 0..k {
        p.push(encode(4 + i, 12, false, OutDst::Out));
    }
    p.push(Insn::OutSeed {
        group: G_RHO,
        dst: OutDst::Out,
        alt: None,
    });
    if with_dk {
        for i in 0..k {
            p.push(encode(i, 12, false, OutDst::Out));
        }
    }
    p.push(Insn::End);
    p
}

/// ML-KEM.Encaps_internal(ek, m) (FIPS 203 Algorithms 17 and 14) as a
/// program for rank `k`: ek comes in (decoded, with the modulus check, and
/// hashed in the same pass), then m; the ciphertext c = c1 || c2 goes
/// out, then, in this test-mode form, the shared secret K.
/// Polynomials: t̂ 0..4, y 4..8, e1 8..12, u 12..16, v 16, e2 17, mu 18.
pub fn encaps_program(k: usize) -> Vec<Insn> {
    assert!((2..=4).contains(&k));
    let e = EncPolys {
        t: 0,
        y: 4,
        e1: 8,
        u: 12,
        v: 16,
        e2: 17,
        mu: 18,
    };
    let mut p = vec![
        // H(ek) while ek is decoded into t̂ and rho is kept.
        Insn::Xof {
            mode: XofMode::H,
            src: XofSrc::Pushed { prefix: None },
            len: (384 * k + 32) as u16,
            suffix: 0,
            dst: XofDst::Seed {
                group: G_H,
                lanes: 4,
            },
        },
    ];
    for i in 0..k {
        p.push(Insn::Decode {
            poly: (e.t + i) as u8,
            d: 12,
            decompress: false,
            group: None,
        });
    }
    p.push(Insn::InSeed { group: G_RHO });
    p.push(Insn::InSeed { group: G_M });
    p.push(wait_xof());
    // (K, r) = G(m || H(ek))
    p.push(Insn::Xof {
        mode: XofMode::G,
        src: XofSrc::Seed(G_M),
        len: 64,
        suffix: 0,
        dst: XofDst::Seed {
            group: G_K,
            lanes: 8,
        },
    });
    p.push(wait_xof());
    kpke_encrypt(&mut p, k, &e, OutDst::Out);
    p.push(Insn::OutSeed {
        group: G_K,
        dst: OutDst::Out,
        alt: None,
    });
    p.push(Insn::End);
    p
}

/// ML-KEM.Decaps_internal (FIPS 203 Algorithm 18) for a key stored as its
/// seed (d, z), as a program for rank `k`. In: d and z (4 lanes each),
/// the ciphertext c, then c again (the engine reads its input buffer
/// twice rather than hold c on the card). The key pair is re-derived
/// (K-PKE.KeyGen and H(ek)); m' is decrypted; K' and r' come from
/// G(m' || h), K̄ from J(z || c); c is re-encrypted and compared with c;
/// out goes K' when they match and K̄ when they do not, chosen by a
/// multiplexer after both were computed, so the schedule is the same
/// either way. Polynomials: ŝ 0..4, t̂ 4..8, u' 8..12, y 12..16,
/// e1 16..20, u 20..24, v 24, e2 25, mu 26, v' 27, w 28.
pub fn decaps_program(k: usize) -> Vec<Insn> {
    assert!((2..=4).contains(&k));
    let (_, du, dv) = params(k);
    let (s, t, up, vp, w) = (0, 4, 8, 27, 28);
    let ct_len = 32 * (du as usize * k + dv as usize);
    let mut p = vec![Insn::InSeed { group: G_D }, Insn::InSeed { group: G_Z }];
    kpke_keygen(&mut p, k, s, t);
    // h = H(ek), ek = ByteEncode12(t̂) || rho, never leaving the core.
    p.push(Insn::Xof {
        mode: XofMode::H,
        src: XofSrc::Pushed { prefix: None },
        len: (384 * k + 32) as u16,
        suffix: 0,
        dst: XofDst::Seed {
            group: G_H,
            lanes: 4,
        },
    });
    for i in 0..k {
        p.push(encode(t + i, 12, false, OutDst::Xof));
    }
    p.push(Insn::OutSeed {
        group: G_RHO,
        dst: OutDst::Xof,
        alt: None,
    });
    p.push(wait_xof());
    // K̄ = J(z || c) (into the d group, free now) while c is decoded.
    p.push(Insn::Xof {
        mode: XofMode::Shake256,
        src: XofSrc::Pushed { prefix: Some(G_Z) },
        len: (32 + ct_len) as u16,
        suffix: 0,
        dst: XofDst::Seed {
            group: G_D,
            lanes: 4,
        },
    });
    for i in 0..k {
        p.push(Insn::Decode {
            poly: (up + i) as u8,
            d: du,
            decompress: true,
            group: None,
        });
    }
    p.push(Insn::Decode {
        poly: vp as u8,
        d: dv,
        decompress: true,
        group: None,
    });
    p.push(wait_xof());
    // m' = ByteEncode1(Compress1(v' - INTT(ŝ^T NTT(u'))))
    for i in 0..k {
        p.push(poly(CMD_NTT, up + i, 0, 0));
    }
    p.push(poly(CMD_MUL, s, up, w));
    for i in 1..k {
        p.push(poly(CMD_MULACC, s + i, up + i, w));
    }
    p.push(poly(CMD_INTT, w, 0, 0));
    p.push(poly(CMD_SUB, vp, w, w));
    p.push(encode(w, 1, true, OutDst::Seed(G_M)));
    p.push(Insn::Wait {
        xof: false,
        poly: false,
        out: true,
    });
    // (K', r') = G(m' || h)
    p.push(Insn::Xof {
        mode: XofMode::G,
        src: XofSrc::Seed(G_M),
        len: 64,
        suffix: 0,
        dst: XofDst::Seed {
            group: G_K,
            lanes: 8,
        },
    });
    p.push(wait_xof());
    // c' = K-PKE.Encrypt(ek, m', r'), compared with c as it comes again.
    let e = EncPolys {
        t,
        y: 12,
        e1: 16,
        u: 20,
        v: 24,
        e2: 25,
        mu: 26,
    };
    kpke_encrypt(&mut p, k, &e, OutDst::Compare);
    p.push(Insn::Wait {
        xof: false,
        poly: false,
        out: true,
    });
    p.push(Insn::OutSeed {
        group: G_K,
        dst: OutDst::Out,
        alt: Some(G_D),
    });
    p.push(Insn::End);
    p
}

/// The programs, in ROM order (the `prog` input selects one).
pub const PROGRAMS: [fn(usize) -> Vec<Insn>; 4] = [
    keygen_program,
    encaps_program,
    decaps_program,
    keygen_ek_program,
];

/// Polynomial-unit commands program `prog` ([`PROGRAMS`]) runs for rank
/// `k`: what the core's `poly_cmds` must read when it is done.
pub fn poly_commands(prog: usize, k: usize) -> usize {
    PROGRAMS[prog](k)
        .iter()
        .filter(|i| matches!(i, Insn::Poly { .. }))
        .count()
}

/// The program ROM: every program, and the entry of program `prog`
/// ([`PROGRAMS`]) for k = 2, 3, 4 at `[prog][k - 2]`.
pub fn program_rom() -> (Vec<u64>, [[usize; 3]; 4]) {
    let mut words = Vec::new();
    let mut entries = [[0; 3]; 4];
    for (prog, build) in PROGRAMS.into_iter().enumerate() {
        for (e, k) in entries[prog].iter_mut().zip(2..=4) {
            *e = words.len();
            words.extend(build(k).into_iter().map(Insn::encode));
        }
    }
    assert!(words.len() <= 1024, "program ROM overflow");
    (words, entries)
}

/// The ML-KEM compute core: sequencer, seed store, matrix buffer and the
/// PQC units.
///
/// `start` (when not `busy`) runs program `prog` (0: KeyGen_internal up
/// to ek and dk_PKE, [`keygen_program`]; 1: Encaps_internal,
/// [`encaps_program`]) for rank `k` (2, 3 or 4); `done` pulses when it has
/// ended. Input lanes (little-endian) are taken on `in_valid`/`in_ready`,
/// output lanes given on `out_valid`/`out_ready`, in the order the program
/// reads and writes them.
#[derive(LogicBlock)]
pub struct MlKemCore {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset.
    pub reset: Signal<In, Bit>,
    /// Pulse: run program `prog` for rank `k`.
    pub start: Signal<In, Bit>,
    /// The program: 0 KeyGen, 1 Encaps, 2 Decaps, 3 KeyGen to ek only
    /// ([`PROGRAMS`]).
    pub prog: Signal<In, Bits<2>>,
    /// Module rank k: 2 (ML-KEM-512), 3 (768) or 4 (1024).
    pub k: Signal<In, Bits<3>>,
    /// An input lane is offered.
    pub in_valid: Signal<In, Bit>,
    /// Input lane.
    pub in_data: Signal<In, Bits<64>>,
    /// The input lane is taken at this edge if valid.
    pub in_ready: Signal<Out, Bit>,
    /// An output lane is offered.
    pub out_valid: Signal<Out, Bit>,
    /// Output lane.
    pub out_data: Signal<Out, Bits<64>>,
    /// The consumer takes the output lane at this edge.
    pub out_ready: Signal<In, Bit>,
    /// A program is running, or the memories are being overwritten after
    /// reset (`start` is ignored while busy).
    pub busy: Signal<Out, Bit>,
    /// Pulse: the program has ended.
    pub done: Signal<Out, Bit>,
    /// Which units are working (for cycle profiles): bit 0 the sponge
    /// chain, 1 the polynomial unit, 2 a sampler, 3 the encoder or decoder.
    pub units_busy: Signal<Out, Bits<4>>,
    /// Polynomial-unit commands completed since `start`.
    pub poly_cmds: Signal<Out, Bits<8>>,
    /// Sticky since `start`: the input failed a check of FIPS 203 (the
    /// encapsulation key's modulus check: a coefficient of 3329 or more).
    pub input_err: Signal<Out, Bit>,
    /// Sticky since `start`: an internal fault (the encoder saw an
    /// unreduced coefficient, or the sponge's permutation count disagreed
    /// with its core); never set in normal operation.
    pub fault: Signal<Out, Bit>,

    rom: SyncROM<Bits<50>, 10>,
    seed: RAM<Bits<64>, 5>,
    abuf: RAM<Bits<192>, 6>,
    xof: XofStream,
    sntt: SampleNtt,
    cbd: SampleCbd,
    poly: PolyUnit,
    enc: PolyEncoder,
    dec: PolyDecoder,

    // Sequencer.
    run: DFF<Bit>,
    pc: DFF<Bits<10>>,
    iv: DFF<Bit>,
    done_q: DFF<Bit>,
    // After `End`: overwriting the seed store (d, z, sigma, m, K, r)
    // with zeros, one lane per cycle, before `done`.
    wipe: DFF<Bit>,
    wcnt: DFF<Bits<5>>,
    zclr: DFF<Bit>,
    zcnt: DFF<Bits<6>>,
    // The seed store's read port answers in the next cycle: its one
    // user at a time (sponge feed, OutSeed, Decode from seeds) presents
    // a lane when this phase bit is set.
    sph: DFF<Bit>,
    // Sponge chain: active, destination kind (0 seed, 1 SampleNTT, 2
    // CBD), source group, lanes to feed, whole seed lanes, suffix, lanes
    // fed, destination group/half/poly and lane count.
    xact: DFF<Bit>,
    xkind: DFF<Bits<2>>,
    xsrc: DFF<Bits<3>>,
    xin: DFF<Bit>,
    // Lanes fed from the seed store before pushed lanes (0 or 4), or all
    // of them for a seed-sourced sponge.
    xsn: DFF<Bits<8>>,
    xfull: DFF<Bits<8>>,
    xsuf: DFF<Bits<16>>,
    fidx: DFF<Bits<8>>,
    xarg: DFF<Bits<5>>,
    xcnt: DFF<Bits<4>>,
    xlanes: DFF<Bits<4>>,
    // Input to the seed store.
    iact: DFF<Bit>,
    igrp: DFF<Bits<3>>,
    icnt: DFF<Bits<2>>,
    // Seed store to the output.
    oact: DFF<Bit>,
    ogrp: DFF<Bits<3>>,
    ocnt: DFF<Bits<2>>,
    // The seed lanes go to the sponge.
    odx: DFF<Bit>,
    // Polynomial memory to the encoder.
    eact: DFF<Bit>,
    epoly: DFF<Bits<5>>,
    eridx: DFF<Bits<6>>,
    // Read-ahead: a read was issued last cycle (ep1); its word, captured
    // from the read port into rdq (rdv), so that no logic here reads the
    // polynomial unit's rd_data combinationally; then a queue of three
    // words (e0 first, ecount of them) in front of the encoder. The
    // encoder gets a word every cycle.
    ep1: DFF<Bit>,
    rdv: DFF<Bit>,
    rdq: DFF<Bits<192>>,
    ecount: DFF<Bits<2>>,
    e0: DFF<Bits<192>>,
    e1: DFF<Bits<192>>,
    e2: DFF<Bits<192>>,
    epop: Signal<Local, Bit>,
    eocc: Signal<Local, Bits<3>>,
    eslot: Signal<Local, Bits<2>>,
    // Encoder destination (0 out, 1 sponge, 2 seed group egrp, 3 compare
    // with the input) and seed lanes written.
    edst: DFF<Bits<2>>,
    egrp: DFF<Bits<3>>,
    ecnt: DFF<Bits<2>>,
    // The re-encryption differed from the input (Decaps).
    neq: DFF<Bit>,
    phalf: DFF<Bit>,
    // The decoder: active, fed from the input stream (else seed lanes
    // from group dgrp, lanes fed dlane), destination
    // polynomial and words written.
    dact: DFF<Bit>,
    dsin: DFF<Bit>,
    dgrp: DFF<Bits<3>>,
    dlane: DFF<Bits<3>>,
    dpoly: DFF<Bits<5>>,
    dcnt: DFF<Bits<5>>,
    ncmd: DFF<Bits<8>>,
    flt: DFF<Bit>,
    ierr: DFF<Bit>,
    pre4: Signal<Local, Bit>,
    xpre: Signal<Local, Bit>,

    insn: Signal<Local, Bits<50>>,
    op: Signal<Local, Bits<4>>,
    can: Signal<Local, Bit>,
    issue: Signal<Local, Bit>,
    xmode: Signal<Local, Bits<2>>,
    xlen: Signal<Local, Bits<11>>,
    xkind_i: Signal<Local, Bits<2>>,
    tee: Signal<Local, Bit>,
    cons_rdy: Signal<Local, Bit>,
    in_go: Signal<Local, Bit>,
    kg2: Constant<Bits<10>>,
    kg3: Constant<Bits<10>>,
    kg4: Constant<Bits<10>>,
    kx2: Constant<Bits<10>>,
    kx3: Constant<Bits<10>>,
    kx4: Constant<Bits<10>>,
    en2: Constant<Bits<10>>,
    en3: Constant<Bits<10>>,
    en4: Constant<Bits<10>>,
    de2: Constant<Bits<10>>,
    de3: Constant<Bits<10>>,
    de4: Constant<Bits<10>>,
}

impl Default for MlKemCore {
    fn default() -> Self {
        let (words, entries) = program_rom();
        let entry = |e: usize| Constant::new(bits(e as u64));
        Self {
            clock: Default::default(),
            reset: Default::default(),
            start: Default::default(),
            prog: Default::default(),
            k: Default::default(),
            in_valid: Default::default(),
            in_data: Default::default(),
            in_ready: Default::default(),
            out_valid: Default::default(),
            out_data: Default::default(),
            out_ready: Default::default(),
            busy: Default::default(),
            done: Default::default(),
            units_busy: Default::default(),
            poly_cmds: Default::default(),
            input_err: Default::default(),
            fault: Default::default(),
            rom: SyncROM::from(words.into_iter().map(bits::<50>)),
            seed: Default::default(),
            abuf: Default::default(),
            xof: Default::default(),
            sntt: Default::default(),
            cbd: Default::default(),
            poly: Default::default(),
            enc: Default::default(),
            dec: Default::default(),
            run: Default::default(),
            pc: Default::default(),
            iv: Default::default(),
            done_q: Default::default(),
            wipe: Default::default(),
            wcnt: Default::default(),
            zclr: Default::default(),
            zcnt: Default::default(),
            sph: Default::default(),
            xact: Default::default(),
            xkind: Default::default(),
            xsrc: Default::default(),
            xin: Default::default(),
            xsn: Default::default(),
            xfull: Default::default(),
            xsuf: Default::default(),
            fidx: Default::default(),
            xarg: Default::default(),
            xcnt: Default::default(),
            xlanes: Default::default(),
            iact: Default::default(),
            igrp: Default::default(),
            icnt: Default::default(),
            oact: Default::default(),
            ogrp: Default::default(),
            ocnt: Default::default(),
            eact: Default::default(),
            epoly: Default::default(),
            eridx: Default::default(),
            ep1: Default::default(),
            rdv: Default::default(),
            rdq: Default::default(),
            ecount: Default::default(),
            e0: Default::default(),
            e1: Default::default(),
            e2: Default::default(),
            epop: Default::default(),
            eocc: Default::default(),
            eslot: Default::default(),
            phalf: Default::default(),
            dact: Default::default(),
            dsin: Default::default(),
            dgrp: Default::default(),
            dlane: Default::default(),
            dpoly: Default::default(),
            dcnt: Default::default(),
            ncmd: Default::default(),
            flt: Default::default(),
            ierr: Default::default(),
            pre4: Default::default(),
            xpre: Default::default(),
            odx: Default::default(),
            edst: Default::default(),
            egrp: Default::default(),
            ecnt: Default::default(),
            neq: Default::default(),
            insn: Default::default(),
            op: Default::default(),
            can: Default::default(),
            issue: Default::default(),
            xmode: Default::default(),
            xlen: Default::default(),
            xkind_i: Default::default(),
            tee: Default::default(),
            cons_rdy: Default::default(),
            in_go: Default::default(),
            kg2: entry(entries[0][0]),
            kg3: entry(entries[0][1]),
            kg4: entry(entries[0][2]),
            kx2: entry(entries[3][0]),
            kx3: entry(entries[3][1]),
            kx4: entry(entries[3][2]),
            en2: entry(entries[1][0]),
            en3: entry(entries[1][1]),
            en4: entry(entries[1][2]),
            de2: entry(entries[2][0]),
            de3: entry(entries[2][1]),
            de4: entry(entries[2][2]),
        }
    }
}

impl Logic for MlKemCore {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, run, pc, iv, done_q, wipe, wcnt, zclr, zcnt, xact, xkind, xsrc, xfull,
            xsuf, fidx, sph, xarg, xcnt, xlanes, iact, igrp, icnt, oact, ogrp, ocnt, eact, epoly,
            eridx, ep1, rdv, rdq, ecount, e0, e1, e2, phalf, dact, dsin, dgrp, dlane, dpoly, dcnt,
            ncmd, flt, ierr, xin, xsn, odx, edst, egrp, ecnt, neq
        );
        self.rom.clock.next = self.clock.val();
        self.seed.read_clock.next = self.clock.val();
        self.seed.write_clock.next = self.clock.val();
        self.abuf.read_clock.next = self.clock.val();
        self.abuf.write_clock.next = self.clock.val();
        self.xof.clock.next = self.clock.val();
        self.sntt.clock.next = self.clock.val();
        self.cbd.clock.next = self.clock.val();
        self.poly.clock.next = self.clock.val();
        self.enc.clock.next = self.clock.val();
        self.dec.clock.next = self.clock.val();
        self.dec.reset.next = self.reset.val();

        self.xof.reset.next = self.reset.val();
        self.sntt.reset.next = self.reset.val();
        self.cbd.reset.next = self.reset.val();
        self.poly.reset.next = self.reset.val();
        // After reset every memory is overwritten with zeros: whatever a
        // job was doing when the card reset (zeroization included), none
        // of its secrets stays.
        self.poly.clear.next = self.reset.val();
        self.enc.reset.next = self.reset.val();

        // ---- Decode. ----
        self.rom.address.next = self.pc.q.val();
        self.insn.next = self.rom.data.val();
        self.op.next = self.insn.val().get_bits::<4>(0);
        self.xmode.next = self.insn.val().get_bits::<2>(4);
        self.xlen.next = self.insn.val().get_bits::<11>(10);
        self.xkind_i.next = self.insn.val().get_bits::<2>(37);
        self.pre4.next = self.insn.val().get_bit(49);

        // ---- Unit inputs: defaults and fixed routing. ----
        self.xof.start.next = false;
        self.xof.stop.next = false;
        self.xof.rate.next = bits::<5>(9);
        self.xof.dom.next = bits::<8>(0x06);
        if self.xmode.val() == bits::<2>(1) {
            self.xof.rate.next = bits::<5>(17);
        }
        if self.xmode.val() == bits::<2>(2) {
            self.xof.rate.next = bits::<5>(21);
            self.xof.dom.next = bits::<8>(0x1f);
        }
        if self.xmode.val() == bits::<2>(3) {
            self.xof.rate.next = bits::<5>(17);
            self.xof.dom.next = bits::<8>(0x1f);
        }
        self.xof.len.next = bit_cast::<16, 11>(self.xlen.val());
        self.xof.in_valid.next = false;
        self.xof.in_data.next = self.seed.read_data.val();
        self.xof.out_ready.next = false;
        self.sntt.start.next = false;
        self.sntt.in_valid.next = false;
        self.sntt.in_data.next = self.xof.out_data.val();
        self.sntt.out_ready.next = true;
        self.cbd.start.next = false;
        self.cbd.eta3.next = self.insn.val().get_bit(39);
        self.cbd.in_valid.next = false;
        self.cbd.in_data.next = self.xof.out_data.val();
        self.cbd.out_ready.next = true;
        self.poly.start.next = false;
        self.poly.cmd.next = self.insn.val().get_bits::<3>(4);
        self.poly.mldsa.next = false;
        self.poly.pa.next = self.insn.val().get_bits::<5>(7);
        self.poly.pb.next = self.insn.val().get_bits::<5>(12);
        self.poly.pc.next = self.insn.val().get_bits::<5>(17);
        self.poly.a_ext.next = self.insn.val().get_bit(22);
        self.poly.ext_rd_data.next = self.abuf.read_data.val();
        self.poly.wr_en.next = false;
        self.poly.wr_poly.next = self.xarg.q.val();
        self.poly.wr_index.next = self.cbd.out_index.val();
        self.poly.wr_data.next = self.cbd.out_data.val();
        self.poly.rd_en.next = false;
        self.poly.rd_poly.next = self.epoly.q.val();
        self.poly.rd_index.next = self.eridx.q.val().get_bits::<5>(0);
        self.abuf.read_address.next = (bit_cast::<6, 1>(self.phalf.q.val().into()) << 5)
            | bit_cast::<6, 5>(self.poly.ext_rd_index.val());
        self.abuf.write_address.next = (bit_cast::<6, 1>(self.xarg.q.val().get_bits::<1>(0)) << 5)
            | bit_cast::<6, 5>(self.sntt.out_index.val());
        self.abuf.write_data.next = self.sntt.out_data.val();
        self.abuf.write_enable.next = false;
        self.enc.start.next = false;
        self.enc.d.next = self.insn.val().get_bits::<4>(9);
        self.enc.compress.next = self.insn.val().get_bit(13);
        self.enc.in_valid.next = self.ecount.q.val().any();
        self.enc.in_data.next = self.e0.q.val();
        // The read port's word, registered (see `ep1`).
        self.rdq.d.next = self.poly.rd_data.val();
        self.rdv.d.next = self.ep1.q.val() & self.poly.rd_valid.val();
        self.ep1.d.next = false;
        self.epop.next = false;
        self.eocc.next = bits::<3>(0);
        self.eslot.next = bits::<2>(0);
        self.enc.out_ready.next = false;
        self.dec.start.next = false;
        self.dec.d.next = self.insn.val().get_bits::<4>(9);
        self.dec.decompress.next = self.insn.val().get_bit(13);
        self.dec.in_valid.next = false;
        self.dec.in_data.next = self.in_data.val();
        self.dec.out_ready.next = true;
        self.seed.read_address.next =
            (bit_cast::<5, 3>(self.xsrc.q.val()) << 2) + bit_cast::<5, 8>(self.fidx.q.val());
        self.seed.write_address.next =
            (bit_cast::<5, 3>(self.igrp.q.val()) << 2) | bit_cast::<5, 2>(self.icnt.q.val());
        self.seed.write_data.next = self.in_data.val();
        self.seed.write_enable.next = false;
        // The input stream goes to InSeed or to the decoder and, while a
        // sponge takes the input stream, to the sponge as well (a lane
        // moves when all its takers are ready).
        self.tee.next =
            self.xact.q.val() & self.xin.q.val() & (self.fidx.q.val() >= self.xsn.q.val());
        // (While a pushed sponge still takes its seed prefix, nothing
        // moves on the input stream.)
        self.xpre.next =
            self.xact.q.val() & self.xin.q.val() & (self.fidx.q.val() < self.xsn.q.val());
        self.cons_rdy.next = !self.xpre.val()
            & (self.iact.q.val()
                | (self.dact.q.val() & self.dsin.q.val() & self.dec.in_ready.val())
                | (self.eact.q.val()
                    & (self.edst.q.val() == bits::<2>(3))
                    & self.enc.out_valid.val()));
        self.in_ready.next = self.cons_rdy.val() & (!self.tee.val() | self.xof.in_ready.val());
        self.in_go.next =
            self.in_valid.val() & self.cons_rdy.val() & (!self.tee.val() | self.xof.in_ready.val());
        if self.tee.val() {
            // From the input stream, the encoder or the seed store.
            self.xof.in_valid.next = self.in_valid.val() & self.cons_rdy.val();
            self.xof.in_data.next = self.in_data.val();
            if self.eact.q.val() & (self.edst.q.val() == bits::<2>(1)) {
                self.xof.in_valid.next = self.enc.out_valid.val();
                self.xof.in_data.next = self.enc.out_data.val();
            }
            if self.oact.q.val() & self.odx.q.val() {
                self.xof.in_valid.next = self.sph.q.val();
                self.xof.in_data.next = self.seed.read_data.val();
            }
        }
        if self.dact.q.val() & self.dsin.q.val() {
            self.dec.in_valid.next = self.in_valid.val()
                & !self.xpre.val()
                & (!self.tee.val() | self.xof.in_ready.val());
        }

        self.out_valid.next = false;
        self.out_data.next = self.enc.out_data.val();
        self.done_q.d.next = false;

        // ---- Sponge chain: feed seed lanes and the suffix, route output. ----
        if self.xact.q.val() & (self.fidx.q.val() < self.xsn.q.val()) {
            if !self.sph.q.val() {
                // The seed store's read port settles this cycle.
                self.sph.d.next = true;
            } else {
                self.xof.in_valid.next = true;
                self.xof.in_data.next = self.seed.read_data.val();
                if self.fidx.q.val() >= self.xfull.q.val() {
                    self.xof.in_data.next = bit_cast::<64, 16>(self.xsuf.q.val());
                }
                if self.xof.in_ready.val() {
                    self.fidx.d.next = self.fidx.q.val() + 1;
                    self.sph.d.next = false;
                }
            }
        }
        if self.xact.q.val() {
            if self.xkind.q.val() == bits::<2>(0) {
                self.xof.out_ready.next = self.xcnt.q.val() < self.xlanes.q.val();
                if self.xof.out_valid.val() & (self.xcnt.q.val() < self.xlanes.q.val()) {
                    self.seed.write_enable.next = true;
                    self.seed.write_address.next =
                        (bit_cast::<5, 3>(self.xarg.q.val().get_bits::<3>(0)) << 2)
                            + bit_cast::<5, 4>(self.xcnt.q.val());
                    self.seed.write_data.next = self.xof.out_data.val();
                    self.xcnt.d.next = self.xcnt.q.val() + 1;
                    if self.xcnt.q.val() + 1 == self.xlanes.q.val() {
                        self.xact.d.next = false;
                        self.xof.stop.next = true;
                    }
                }
            }
            if self.xkind.q.val() == bits::<2>(1) {
                self.sntt.in_valid.next = self.xof.out_valid.val();
                self.xof.out_ready.next = self.sntt.in_ready.val();
                self.abuf.write_enable.next = self.sntt.out_valid.val();
                if self.sntt.done.val() {
                    self.xact.d.next = false;
                    self.xof.stop.next = true;
                }
            }
            if self.xkind.q.val() == bits::<2>(2) {
                self.cbd.in_valid.next = self.xof.out_valid.val();
                self.xof.out_ready.next = self.cbd.in_ready.val();
                self.poly.wr_en.next = self.cbd.out_valid.val();
                if self.cbd.done.val() {
                    self.xact.d.next = false;
                    self.xof.stop.next = true;
                }
            }
        }

        // ---- Input stream to the seed store. ----
        if self.iact.q.val() & self.in_go.val() {
            self.seed.write_enable.next = true;
            self.icnt.d.next = self.icnt.q.val() + 1;
            if self.icnt.q.val() == bits::<2>(3) {
                self.iact.d.next = false;
            }
        }

        // ---- Output stream: the encoder, or seed lanes. ----
        if self.eact.q.val() {
            if self.edst.q.val() == bits::<2>(0) {
                self.out_valid.next = self.enc.out_valid.val();
                self.enc.out_ready.next = self.out_ready.val();
            }
            if self.edst.q.val() == bits::<2>(1) {
                self.enc.out_ready.next = self.tee.val() & self.xof.in_ready.val();
            }
            if self.edst.q.val() == bits::<2>(2) {
                self.enc.out_ready.next = true;
                if self.enc.out_valid.val() {
                    self.seed.write_enable.next = true;
                    self.seed.write_address.next = (bit_cast::<5, 3>(self.egrp.q.val()) << 2)
                        | bit_cast::<5, 2>(self.ecnt.q.val());
                    self.seed.write_data.next = self.enc.out_data.val();
                    self.ecnt.d.next = self.ecnt.q.val() + 1;
                }
            }
            if self.edst.q.val() == bits::<2>(3) {
                // Compare with the input: a lane moves when both are there.
                self.enc.out_ready.next = self.in_valid.val();
                if self.in_go.val() & (self.in_data.val() != self.enc.out_data.val()) {
                    self.neq.d.next = true;
                }
            }
            // Read ahead while the queue has room for every word in flight.
            self.epop.next = self.ecount.q.val().any() & self.enc.in_ready.val();
            self.eocc.next = bit_cast::<3, 2>(self.ecount.q.val())
                + bit_cast::<3, 1>(self.ep1.q.val().into())
                + bit_cast::<3, 1>(self.rdv.q.val().into());
            if (self.eridx.q.val() < bits::<6>(32))
                & ((self.eocc.val() <= bits::<3>(2))
                    | (self.epop.val() & (self.eocc.val() == bits::<3>(3))))
            {
                self.poly.rd_en.next = true;
                self.ep1.d.next = true;
                self.eridx.d.next = self.eridx.q.val() + 1;
            }
            if self.epop.val() {
                self.e0.d.next = self.e1.q.val();
                self.e1.d.next = self.e2.q.val();
            }
            self.eslot.next = self.ecount.q.val() - bit_cast::<2, 1>(self.epop.val().into());
            if self.rdv.q.val() {
                if self.eslot.val() == bits::<2>(0) {
                    self.e0.d.next = self.rdq.q.val();
                }
                if self.eslot.val() == bits::<2>(1) {
                    self.e1.d.next = self.rdq.q.val();
                }
                if self.eslot.val() == bits::<2>(2) {
                    self.e2.d.next = self.rdq.q.val();
                }
            }
            self.ecount.d.next = self.eslot.val() + bit_cast::<2, 1>(self.rdv.q.val().into());
            if self.enc.done.val() {
                self.eact.d.next = false;
            }
        }
        if self.enc.range_err.val() | self.xof.fault.val() {
            self.flt.d.next = true;
        }

        // ---- Decoder: from the input stream or seed lanes, into a
        // polynomial through the polynomial unit's write port. ----
        if self.dact.q.val() {
            self.poly.wr_en.next = self.dec.out_valid.val();
            self.poly.wr_poly.next = self.dpoly.q.val();
            self.poly.wr_index.next = self.dcnt.q.val();
            self.poly.wr_data.next = self.dec.out_data.val();
            if self.dec.out_valid.val() {
                self.dcnt.d.next = self.dcnt.q.val() + 1;
            }
            if !self.dsin.q.val() {
                self.seed.read_address.next = (bit_cast::<5, 3>(self.dgrp.q.val()) << 2)
                    | bit_cast::<5, 2>(self.dlane.q.val().get_bits::<2>(0));
                if self.dlane.q.val() < bits::<3>(4) {
                    if !self.sph.q.val() {
                        self.sph.d.next = true;
                    } else {
                        self.dec.in_valid.next = true;
                        self.dec.in_data.next = self.seed.read_data.val();
                        if self.dec.in_ready.val() {
                            self.dlane.d.next = self.dlane.q.val() + 1;
                            self.sph.d.next = false;
                        }
                    }
                }
            }
            if self.dec.done.val() {
                self.dact.d.next = false;
            }
        }
        if self.dec.range_err.val() {
            self.ierr.d.next = true;
        }
        if self.oact.q.val() {
            self.seed.read_address.next =
                (bit_cast::<5, 3>(self.ogrp.q.val()) << 2) | bit_cast::<5, 2>(self.ocnt.q.val());
            if !self.sph.q.val() {
                self.sph.d.next = true;
            } else {
                self.out_valid.next = !self.odx.q.val();
                self.out_data.next = self.seed.read_data.val();
                if (!self.odx.q.val() & self.out_ready.val())
                    | (self.odx.q.val() & self.tee.val() & self.xof.in_ready.val())
                {
                    self.ocnt.d.next = self.ocnt.q.val() + 1;
                    self.sph.d.next = false;
                    if self.ocnt.q.val() == bits::<2>(3) {
                        self.oact.d.next = false;
                    }
                }
            }
        }
        if self.poly.done.val() {
            self.ncmd.d.next = self.ncmd.q.val() + 1;
        }

        // ---- Issue: an instruction starts once what it needs is free. ----
        self.can.next = false;
        if self.op.val() == bits::<4>(0) {
            self.can.next = !self.xact.q.val()
                & !self.iact.q.val()
                & !self.oact.q.val()
                & !self.eact.q.val()
                & !self.dact.q.val()
                & !self.poly.busy.val();
        }
        if self.op.val() == bits::<4>(1) {
            self.can.next = (!self.xact.q.val() | self.xin.q.val())
                & !self.iact.q.val()
                & !(self.dact.q.val() & self.dsin.q.val());
        }
        if self.op.val() == bits::<4>(2) {
            // To the output: the seed port is free; to the sponge: it takes
            // pushed lanes.
            self.can.next = ((self.insn.val().get_bit(7) & self.tee.val())
                | (!self.insn.val().get_bit(7) & !self.xact.q.val()))
                & !self.oact.q.val()
                & !self.eact.q.val()
                & !self.dact.q.val();
        }
        if self.op.val() == bits::<4>(3) {
            self.can.next = !self.xact.q.val()
                & !self.iact.q.val()
                & !self.oact.q.val()
                & !self.dact.q.val()
                & self.xof.ready.val()
                & ((self.xkind_i.val() != bits::<2>(2))
                    | (!self.poly.busy.val() & !self.eact.q.val()));
        }
        if self.op.val() == bits::<4>(4) {
            self.can.next = !self.poly.busy.val()
                & !self.eact.q.val()
                & !self.dact.q.val()
                & !(self.xact.q.val() & (self.xkind.q.val() == bits::<2>(2)));
        }
        if self.op.val() == bits::<4>(7) {
            self.can.next = !self.dact.q.val()
                & !self.poly.busy.val()
                & !(self.xact.q.val() & (self.xkind.q.val() == bits::<2>(2)))
                & ((self.insn.val().get_bit(14) & !self.iact.q.val())
                    | (!self.insn.val().get_bit(14) & !self.xact.q.val() & !self.oact.q.val()));
        }
        if self.op.val() == bits::<4>(5) {
            self.can.next = !self.eact.q.val()
                & !self.oact.q.val()
                & !self.poly.busy.val()
                & ((self.insn.val().get_bits::<2>(14) != bits::<2>(2))
                    | (!self.xact.q.val() & !self.iact.q.val()))
                & ((self.insn.val().get_bits::<2>(14) != bits::<2>(3))
                    | (!self.iact.q.val() & !(self.dact.q.val() & self.dsin.q.val())));
        }
        if self.op.val() == bits::<4>(6) {
            self.can.next = (!self.insn.val().get_bit(4) | !self.xact.q.val())
                & (!self.insn.val().get_bit(5) | !self.poly.busy.val())
                & (!self.insn.val().get_bit(6) | (!self.eact.q.val() & !self.oact.q.val()));
        }
        self.issue.next = self.run.q.val() & self.iv.q.val() & self.can.val();
        if self.run.q.val() & !self.iv.q.val() {
            self.iv.d.next = true;
        }
        if self.issue.val() {
            self.pc.d.next = self.pc.q.val() + 1;
            self.iv.d.next = false;
            if self.op.val() == bits::<4>(0) {
                self.run.d.next = false;
                self.wipe.d.next = true;
                self.wcnt.d.next = bits::<5>(0);
            }
            if self.op.val() == bits::<4>(1) {
                self.iact.d.next = true;
                self.igrp.d.next = self.insn.val().get_bits::<3>(4);
                self.icnt.d.next = bits::<2>(0);
            }
            if self.op.val() == bits::<4>(2) {
                self.oact.d.next = true;
                self.ogrp.d.next = self.insn.val().get_bits::<3>(4);
                if self.insn.val().get_bit(9) & self.neq.q.val() {
                    self.ogrp.d.next = self.insn.val().get_bits::<3>(10);
                }
                self.odx.d.next = self.insn.val().get_bit(7);
                self.ocnt.d.next = bits::<2>(0);
                self.sph.d.next = false;
            }
            if self.op.val() == bits::<4>(3) {
                self.xof.start.next = true;
                self.xact.d.next = true;
                self.xkind.d.next = self.xkind_i.val();
                self.xsrc.d.next = self.insn.val().get_bits::<3>(6);
                self.xin.d.next = self.insn.val().get_bit(9);
                self.xsn.d.next = bit_cast::<8, 11>((self.xlen.val() + bits::<11>(7)) >> 3);
                if self.insn.val().get_bit(9) {
                    self.xsn.d.next = bits::<8>(0);
                    if self.pre4.val() {
                        self.xsn.d.next = bits::<8>(4);
                    }
                }

                self.xfull.d.next = bit_cast::<8, 11>(self.xlen.val() >> 3);
                self.xsuf.d.next = self.insn.val().get_bits::<16>(21);
                self.fidx.d.next = bits::<8>(0);
                self.sph.d.next = false;
                self.xarg.d.next = self.insn.val().get_bits::<5>(40);
                self.xcnt.d.next = bits::<4>(0);
                self.xlanes.d.next = self.insn.val().get_bits::<4>(45);
                if self.xkind_i.val() == bits::<2>(1) {
                    self.sntt.start.next = true;
                }
                if self.xkind_i.val() == bits::<2>(2) {
                    self.cbd.start.next = true;
                }
            }
            if self.op.val() == bits::<4>(4) {
                self.poly.start.next = true;
                self.phalf.d.next = self.insn.val().get_bit(23);
            }
            if self.op.val() == bits::<4>(7) {
                self.dec.start.next = true;
                self.dact.d.next = true;
                self.dsin.d.next = self.insn.val().get_bit(14);
                self.dgrp.d.next = self.insn.val().get_bits::<3>(15);
                self.dlane.d.next = bits::<3>(0);
                self.sph.d.next = false;
                self.dpoly.d.next = self.insn.val().get_bits::<5>(4);
                self.dcnt.d.next = bits::<5>(0);
            }
            if self.op.val() == bits::<4>(5) {
                self.edst.d.next = self.insn.val().get_bits::<2>(14);
                self.egrp.d.next = self.insn.val().get_bits::<3>(16);
                self.ecnt.d.next = bits::<2>(0);
                self.enc.start.next = true;
                self.eact.d.next = true;
                self.epoly.d.next = self.insn.val().get_bits::<5>(4);
                self.eridx.d.next = bits::<6>(0);
                self.ecount.d.next = bits::<2>(0);
            }
        }
        if self.zclr.q.val() {
            self.seed.write_enable.next = true;
            self.seed.write_address.next = self.zcnt.q.val().get_bits::<5>(0);
            self.seed.write_data.next = bits::<64>(0);
            self.abuf.write_enable.next = true;
            self.abuf.write_address.next = self.zcnt.q.val();
            self.abuf.write_data.next = bits::<192>(0);
            self.zcnt.d.next = self.zcnt.q.val() + 1;
            if self.zcnt.q.val().all() {
                self.zclr.d.next = false;
            }
        }
        if self.start.val()
            & !self.run.q.val()
            & !self.wipe.q.val()
            & !self.zclr.q.val()
            & !self.poly.busy.val()
        {
            self.run.d.next = true;
            self.iv.d.next = false;
            self.ncmd.d.next = bits::<8>(0);
            self.flt.d.next = false;
            self.ierr.d.next = false;
            self.neq.d.next = false;
            self.pc.d.next = self.kg4.val();
            if self.k.val() == bits::<3>(2) {
                self.pc.d.next = self.kg2.val();
            }
            if self.k.val() == bits::<3>(3) {
                self.pc.d.next = self.kg3.val();
            }
            if self.prog.val() == bits::<2>(1) {
                self.pc.d.next = self.en4.val();
                if self.k.val() == bits::<3>(2) {
                    self.pc.d.next = self.en2.val();
                }
                if self.k.val() == bits::<3>(3) {
                    self.pc.d.next = self.en3.val();
                }
            }
            if self.prog.val() == bits::<2>(2) {
                self.pc.d.next = self.de4.val();
                if self.k.val() == bits::<3>(2) {
                    self.pc.d.next = self.de2.val();
                }
                if self.k.val() == bits::<3>(3) {
                    self.pc.d.next = self.de3.val();
                }
            }
            if self.prog.val() == bits::<2>(3) {
                self.pc.d.next = self.kx4.val();
                if self.k.val() == bits::<3>(2) {
                    self.pc.d.next = self.kx2.val();
                }
                if self.k.val() == bits::<3>(3) {
                    self.pc.d.next = self.kx3.val();
                }
            }
        }
        // Nothing of the job's seeds outlives it in the seed store (the
        // units are idle once `End` issues).
        if self.wipe.q.val() {
            self.seed.write_enable.next = true;
            self.seed.write_address.next = self.wcnt.q.val();
            self.seed.write_data.next = bits::<64>(0);
            self.wcnt.d.next = self.wcnt.q.val() + 1;
            if self.wcnt.q.val() == bits::<5>(31) {
                self.wipe.d.next = false;
                self.done_q.d.next = true;
            }
        }
        if self.reset.val() {
            self.zclr.d.next = true;
            self.zcnt.d.next = bits::<6>(0);
            self.wipe.d.next = false;
            self.run.d.next = false;
            self.iv.d.next = false;
            self.xact.d.next = false;
            self.iact.d.next = false;
            self.oact.d.next = false;
            self.eact.d.next = false;
            self.dact.d.next = false;
            self.ep1.d.next = false;
            self.ecount.d.next = bits::<2>(0);
        }
        self.busy.next =
            self.run.q.val() | self.wipe.q.val() | self.zclr.q.val() | self.poly.busy.val();
        self.done.next = self.done_q.q.val();
        self.units_busy.next = bit_cast::<4, 1>(self.xact.q.val().into())
            | (bit_cast::<4, 1>(self.poly.busy.val().into()) << 1)
            | (bit_cast::<4, 1>((self.sntt.busy.val() | self.cbd.busy.val()).into()) << 2)
            | (bit_cast::<4, 1>((self.enc.busy.val() | self.dec.busy.val()).into()) << 3);
        self.poly_cmds.next = self.ncmd.q.val();
        self.fault.next = self.flt.q.val();
        self.input_err.next = self.ierr.q.val();
    }
}
