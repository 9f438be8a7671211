//! Random bytes from the card's random bit generator (`RNG_GENERATE`
//! jobs; [`hsm_contract::rng`] is the contract).
//!
//! The card's generator is an SP 800-90A CTR_DRBG (AES-256 with the
//! derivation function), seeded at reset from a noise source that passes
//! the SP 800-90B health tests continuously. The host only reads its
//! output: [`Card::random`] asks for it in jobs of at most 1 MiB and hands
//! it back in a [`Zeroizing`] buffer, because random bytes often become
//! keys. The card's state is in `STATUS` ([`crate::CardStatus::rng_state`]):
//! after a health-test failure every job that needs randomness completes
//! with [`hsm_contract::Status::EntropyFailure`] until the card is reset
//! ([`Card::device_reset`]).

use hsm_contract::MAX_JOB_BYTES;
use zeroize::Zeroizing;

use crate::card::Card;
use crate::error::{Error, Result};
use crate::jobs::{unexpected, Job, JobOutput};

impl Card {
    /// `len` random bytes from the card's SP 800-90A CTR_DRBG, seeded from
    /// its own SP 800-90B health-tested noise source. Lengths over 1 MiB
    /// are split into RNG_GENERATE jobs of at most 1 MiB, run as one batch
    /// (inside the card each job is served by DRBG requests of at most
    /// [`hsm_contract::rng::MAX_REQUEST_BYTES`]). A request for 0 bytes
    /// still runs one empty job, so it fails like any other when the noise
    /// source has failed.
    ///
    /// The bytes are wiped from the driver's DMA memory at once and come
    /// back in a buffer that wipes them when dropped.
    ///
    /// # Errors
    /// [`Error::JobFailed`] with [`hsm_contract::Status::EntropyFailure`]
    /// when the card's noise source has failed its health tests (reset the
    /// card: [`Card::device_reset`]), or `BAD_OPCODE` from a card image
    /// without the generator; [`Error::ShortOutput`] when the card reports
    /// fewer bytes than asked; as [`Card::run_jobs`].
    pub fn random(&mut self, len: usize) -> Result<Zeroizing<Vec<u8>>> {
        let jobs = random_jobs(len);
        let mut out = Zeroizing::new(Vec::with_capacity(len));
        for (r, job) in self.run_jobs(&jobs)?.into_iter().zip(&jobs) {
            let Job::RngGenerate { len: want } = *job else {
                unreachable!("random_jobs makes RNG_GENERATE jobs only")
            };
            let job_id = r.completion.job_id;
            match r.into_output()? {
                JobOutput::Random(b) if b.len() == want as usize => out.extend_from_slice(&b),
                JobOutput::Random(b) => {
                    return Err(Error::ShortOutput {
                        device: self.device().into(),
                        op: hsm_contract::Opcode::RngGenerate.name(),
                        job_id,
                        expected: want as usize,
                        got: b.len(),
                    })
                }
                other => return Err(unexpected(other)),
            }
        }
        Ok(out)
    }
}

/// The RNG_GENERATE jobs for `len` bytes: 1 MiB each, the last one the
/// rest; one empty job for 0 bytes.
fn random_jobs(len: usize) -> Vec<Job<'static>> {
    let max = MAX_JOB_BYTES as usize;
    if len == 0 {
        return vec![Job::RngGenerate { len: 0 }];
    }
    (0..len)
        .step_by(max)
        .map(|at| Job::RngGenerate {
            len: (len - at).min(max) as u32,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock::{MockCard, MockTransport};
    use crate::RngState;
    use hsm_contract::{Opcode, Status};
    use std::sync::Arc;

    fn card(test_mode: bool) -> (Arc<MockCard>, Card) {
        let mock = MockCard::new();
        mock.state().test_mode = test_mode;
        let c = Card::from_transport(Box::new(MockTransport(mock.clone()))).unwrap();
        (mock, c)
    }

    fn lens(len: usize) -> Vec<u32> {
        random_jobs(len)
            .iter()
            .map(|j| match j {
                Job::RngGenerate { len } => *len,
                _ => unreachable!(),
            })
            .collect()
    }

    #[test]
    fn requests_split_at_one_mib() {
        let mib = MAX_JOB_BYTES;
        assert_eq!(lens(0), [0]);
        assert_eq!(lens(1), [1]);
        assert_eq!(lens(mib as usize), [mib]);
        assert_eq!(lens(mib as usize + 5), [mib, 5]);
        assert_eq!(lens(3 * mib as usize), [mib, mib, mib]);
        assert_eq!(lens(64 << 20).len(), 64);
    }

    /// The descriptor names `dst` and nothing else, 16-byte aligned, and
    /// passes the contract's precheck in either mode.
    #[test]
    fn descriptors_name_dst_only() {
        for test_mode in [true, false] {
            let (mock, mut c) = card(test_mode);
            let out = c.random(4096 + 17).unwrap();
            assert_eq!(out.len(), 4113);
            assert!(c.random(0).unwrap().is_empty());
            let seen = &mock.state().seen;
            assert_eq!(seen.len(), 2);
            let (d, src, aux) = &seen[0];
            assert_eq!(d.opcode, Opcode::RngGenerate as u8);
            assert_eq!(d.dst_len, 4113);
            assert_ne!(d.dst_addr, 0);
            assert_eq!(d.dst_addr % 16, 0);
            let empty = hsm_contract::Descriptor {
                version: d.version,
                opcode: d.opcode,
                job_id: d.job_id,
                dst_addr: d.dst_addr,
                dst_len: d.dst_len,
                ..Default::default()
            };
            assert_eq!(*d, empty, "only dst is named");
            assert!(src.is_empty() && aux.is_empty());
            assert_eq!(d.precheck(test_mode), None);
            let (d, ..) = &seen[1];
            assert_eq!((d.dst_addr, d.dst_len), (0, 0));
            assert_eq!(d.precheck(test_mode), None);
        }
    }

    /// The contract's precheck of RNG_GENERATE: the driver's limits match.
    #[test]
    fn contract_precheck_of_rng_generate() {
        let good = hsm_contract::Descriptor {
            version: hsm_contract::DESCRIPTOR_VERSION,
            opcode: Opcode::RngGenerate as u8,
            dst_addr: 0x1_0000_0000,
            dst_len: MAX_JOB_BYTES,
            ..Default::default()
        };
        assert_eq!(good.precheck(false), None);
        let with = |f: &dyn Fn(&mut hsm_contract::Descriptor)| {
            let mut d = good;
            f(&mut d);
            d.precheck(false)
        };
        assert_eq!(
            with(&|d| d.dst_len = MAX_JOB_BYTES + 1),
            Some(Status::LengthTooLarge)
        );
        assert_eq!(with(&|d| d.dst_addr += 8), Some(Status::Misaligned));
        assert_eq!(with(&|d| d.src_addr = 0x1000), Some(Status::ReservedField));
        assert_eq!(with(&|d| d.src_len = 1), Some(Status::ReservedField));
        assert_eq!(with(&|d| d.key_slot = 1), Some(Status::ReservedField));
        assert_eq!(with(&|d| d.flags = 1), Some(Status::ReservedField));
        assert_eq!(with(&|d| d.params[0] = 1), Some(Status::ReservedField));
        // The driver refuses what the card would, before sending it.
        let (mock, mut c) = card(false);
        let e = c
            .run_jobs(&[Job::RngGenerate {
                len: MAX_JOB_BYTES + 1,
            }])
            .unwrap_err();
        assert!(e.to_string().contains("over the card's 1 MiB limit"), "{e}");
        assert!(mock.state().seen.is_empty());
    }

    /// Over 1 MiB: two jobs in one batch, their outputs in order, and no
    /// random byte left in DMA memory.
    #[test]
    fn long_requests_are_reassembled_and_wiped() {
        let (mock, mut c) = card(false);
        let n = (1 << 20) + 5;
        let out = c.random(n).unwrap();
        assert_eq!(out.len(), n);
        let st = mock.state();
        assert_eq!(st.seen.len(), 2);
        assert_eq!(st.seen[0].0.dst_len, 1 << 20);
        assert_eq!(st.seen[1].0.dst_len, 5);
        assert_eq!(st.doorbells.len(), 1, "one batch");
        drop(st);
        // The mock's filler (not random): job n, byte i = (31 i + 97 n) mod 251 + 1.
        let fill = |job: u32, i: u32| ((i * 31 + job * 97) % 251 + 1) as u8;
        assert_eq!(out[0], fill(1, 0));
        assert_eq!(out[(1 << 20) - 1], fill(1, (1 << 20) - 1));
        assert_eq!(
            out[1 << 20..],
            (0..5).map(|i| fill(2, i)).collect::<Vec<_>>()[..]
        );
        let arena = c.arena.as_ref().unwrap().as_slice();
        assert!(
            arena.iter().all(|&b| b == 0),
            "random bytes left in DMA memory"
        );
    }

    #[test]
    fn entropy_failure_is_reported_and_status_says_failed() {
        let (mock, mut c) = card(false);
        assert_eq!(c.status().unwrap().rng_state(), RngState::Ready);
        mock.state().rng_fault = true;
        let st = c.status().unwrap();
        assert!(st.rng_fault && !st.rng_ready);
        assert_eq!(st.rng_state(), RngState::Failed);
        assert_eq!(
            c.wait_rng(std::time::Duration::ZERO).unwrap(),
            RngState::Failed
        );
        for n in [0, 32, (1 << 20) + 1] {
            let e = c.random(n).unwrap_err();
            assert_eq!(e.status(), Some(Status::EntropyFailure));
            let msg = e.to_string();
            assert!(
                msg.contains("ENTROPY_FAILURE (0x0017)")
                    && msg.contains("noise source failed its SP 800-90B health tests")
                    && msg.contains("until it is reset"),
                "{msg}"
            );
        }
        assert_eq!(
            serde_json::to_value(RngState::Seeding).unwrap(),
            serde_json::json!("seeding")
        );
    }

    #[test]
    fn status_bits_decode() {
        use hsm_contract::regs::status as s;
        let st = crate::CardStatus::from_raw(s::RNG_READY.mask());
        assert!(st.rng_ready && !st.rng_fault);
        assert_eq!(st.rng_state(), RngState::Ready);
        assert_eq!(
            crate::CardStatus::from_raw(0).rng_state(),
            RngState::Seeding
        );
        let st = crate::CardStatus::from_raw(s::RNG_FAULT.mask());
        assert_eq!(st.rng_state(), RngState::Failed);
        assert_eq!(st.rng_state().name(), "failed");
    }
}
