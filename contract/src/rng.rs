//! The card's random bit generator: an SP 800-90B noise source with its
//! health tests, feeding an SP 800-90A CTR_DRBG.
//!
//! # Choice
//! CTR_DRBG with AES-256 and the derivation function (SP 800-90A Rev. 1,
//! 10.2.1). AES is already the card's bulk cipher, so the DRBG needs one
//! small iterative AES core and no new primitive; NIST publishes
//! known-answer tests for it (CAVP `CTR_DRBG.rsp`, "AES-256 use df"),
//! which Hash_DRBG over SHA-3 does not have; and the derivation function
//! lets it take a noise source that is not full-entropy, which a ring
//! oscillator never is.
//!
//! # Noise source
//! On a real card the noise source is a ring oscillator sampled into 8-bit
//! samples; the simulated card feeds the same port from the host's
//! `getrandom` and says so in its documentation. The claimed min-entropy is
//! [`NOISE_MIN_ENTROPY_BITS`] bits per sample. Every sample passes the
//! continuous health tests of SP 800-90B 4.4 (repetition count, cutoff
//! [`RCT_CUTOFF`]; adaptive proportion, window [`APT_WINDOW`], cutoff
//! [`APT_CUTOFF`]; both at a false-positive rate of 2^-20), and the
//! first [`STARTUP_SAMPLES`] after reset are tested and discarded (4.3).
//! A failure is sticky until reset: the DRBG is zeroized,
//! `STATUS.RNG_FAULT` is set, and every job that needs randomness
//! completes with [`crate::Status::EntropyFailure`].
//!
//! # Seeding
//! At reset, once the start-up test has passed, the card instantiates the
//! DRBG with [`ENTROPY_INPUT_SAMPLES`] samples of entropy input (256 bits
//! of min-entropy: the security strength), [`NONCE_SAMPLES`] samples of
//! nonce (128 bits) and the personalization string [`PERSONALIZATION`],
//! then sets `STATUS.RNG_READY`. It reseeds with
//! [`ENTROPY_INPUT_SAMPLES`] fresh samples every [`RESEED_INTERVAL`]
//! generate requests and before every request for key material (KeyGen
//! seeds and key generation: prediction resistance). A request asks the
//! DRBG for at most [`MAX_REQUEST_BYTES`] at a time (SP 800-90A's
//! 2^19-bit limit); longer `RNG_GENERATE` jobs are split.
//!
//! # Users
//! `RNG_GENERATE` jobs ([`crate::Opcode::RngGenerate`]) return DRBG output
//! to the host; ML-KEM KeyGen (d, z) and Encaps (m) take theirs from it
//! ([`crate::kem`]).

/// Bits per noise-source sample.
pub const NOISE_SAMPLE_BITS: u32 = 8;
/// Claimed min-entropy per sample, in bits (H in SP 800-90B).
pub const NOISE_MIN_ENTROPY_BITS: u32 = 4;
/// Repetition count test cutoff: 1 + ceil(20 / H) (SP 800-90B 4.4.1).
pub const RCT_CUTOFF: u32 = 6;
/// Adaptive proportion test window, in samples (non-binary source).
pub const APT_WINDOW: u32 = 512;
/// Adaptive proportion test cutoff: 1 + CRITBINOM(512, 2^-4, 1 - 2^-20)
/// (SP 800-90B 4.4.2).
pub const APT_CUTOFF: u32 = 62;
/// Samples tested and discarded at start-up (SP 800-90B 4.3).
pub const STARTUP_SAMPLES: u32 = 1024;
/// Samples of entropy input per instantiate or reseed (256 bits of
/// min-entropy at [`NOISE_MIN_ENTROPY_BITS`]).
pub const ENTROPY_INPUT_SAMPLES: u32 = 64;
/// Samples of nonce at instantiation (128 bits of min-entropy).
pub const NONCE_SAMPLES: u32 = 32;
/// The personalization string of every instantiation (16 bytes).
pub const PERSONALIZATION: &[u8; 16] = b"HSM1 CTR_DRBG v1";
/// Generate requests between reseeds.
pub const RESEED_INTERVAL: u32 = 1 << 16;
/// The most one DRBG generate request returns, in bytes (2^19 bits).
pub const MAX_REQUEST_BYTES: u32 = 1 << 16;

#[cfg(test)]
mod tests {
    use super::*;

    /// The cutoffs follow from SP 800-90B's formulas at alpha = 2^-20.
    #[test]
    fn health_test_cutoffs() {
        let h = NOISE_MIN_ENTROPY_BITS as f64;
        assert_eq!(RCT_CUTOFF, 1 + (20.0 / h).ceil() as u32);
        // CRITBINOM(W, p, 1 - alpha): the smallest k with P(X <= k) >= 1 - alpha.
        let (w, p, alpha) = (APT_WINDOW as i32, 2f64.powf(-h), 2f64.powi(-20));
        let mut pmf = (1.0 - p).powi(w);
        let mut cdf = pmf;
        let mut k = 0;
        while cdf < 1.0 - alpha {
            pmf *= (w - k) as f64 / (k + 1) as f64 * p / (1.0 - p);
            k += 1;
            cdf += pmf;
        }
        assert_eq!(APT_CUTOFF, 1 + k as u32);
        assert_eq!(ENTROPY_INPUT_SAMPLES * NOISE_MIN_ENTROPY_BITS, 256);
        assert_eq!(NONCE_SAMPLES * NOISE_MIN_ENTROPY_BITS, 128);
    }
}
