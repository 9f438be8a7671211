//! Post-quantum polynomial arithmetic: the NTT datapath shared by ML-KEM
//! (FIPS 203, q = 3329) and ML-DSA (FIPS 204, q = 8380417).
//!
//! - [`modarith`]: add, subtract and multiply mod q for both moduli,
//!   chosen per operation by an `mldsa` bit, on 24-bit lanes.
//! - [`butterfly`]: the Cooley-Tukey / Gentleman-Sande butterfly around one
//!   modular multiplier.
//! - [`poly`]: the polynomial unit: a memory of 32 polynomials in 2 x 4
//!   banked RAMs, four butterflies, and commands over those polynomials:
//!   forward and inverse NTT for both schemes, multiplication in the NTT
//!   domain (with accumulation), addition, subtraction.
//! - [`pipe`]: the delay line that carries operands beside the multipliers.
//! - [`codec`]: ML-KEM (de)compression and byte (de)coding of polynomials
//!   (FIPS 203 Algorithms 5 and 6, equations 4.7 and 4.8).
//! - [`sampler`]: the ML-KEM samplers (FIPS 203 Algorithms 7 and 8).
//! - [`xof`]: a whole sponge with lane streams in and out, for the hash
//!   functions and XOFs of ML-KEM and ML-DSA.
//! - [`kem`]: the ML-KEM compute core: a micro-program sequencer over
//!   the units above (so far K-PKE.KeyGen), with a seed store and the
//!   double buffer between SampleNTT and the polynomial unit.
//!
//! # One datapath for both moduli
//!
//! Both schemes use n = 256 and the same butterflies; they differ in q, in
//! the number of layers (7 for ML-KEM, whose NTT stops at degree-1
//! factors, 8 for ML-DSA) and in the twiddles. One datapath sized for
//! ML-DSA (24-bit lanes, 24x24-bit products) serves both: the modulus is a
//! multiplexer on a few constants (q, the Barrett constant and shifts),
//! and the layer count and twiddle table are a bit of the command. Two
//! separate datapaths would duplicate the polynomial memory, the address
//! generation and the control, to save only multiplier width on the
//! ML-KEM side (a 12-bit datapath needs one 16x16 product per
//! multiplication instead of eight); since the card needs the ML-DSA
//! datapath anyway, sharing it costs ML-KEM nothing in time (the schedule
//! is the same) and saves a whole second engine.

pub mod butterfly;
pub mod codec;
pub mod kem;
pub mod modarith;
pub mod pipe;
pub mod poly;
pub mod sampler;
pub mod xof;
