//! SHA-3 and SHAKE through the whole stack: driver, vfio-user, Verilator,
//! RTL. The software reference is the RustCrypto `sha3` crate
//! (dev-dependency only).

use hsm_contract::hash::{flags, HashAlg, SPONGE_STATE_BYTES};
use hsm_contract::{Descriptor, Status, DESCRIPTOR_VERSION};
use hsm_driver::{Card, Hasher, Job, JobOutput};
use hsm_tests::{pattern, TestCard};
use rand::{Rng, SeedableRng};
use sha3::digest::{Digest, ExtendableOutput, Update};

/// The software hash of `msg`: the digest, or `out_len` bytes of SHAKE.
fn sw(alg: HashAlg, msg: &[u8], out_len: usize) -> Vec<u8> {
    match alg {
        HashAlg::Sha3_224 => sha3::Sha3_224::digest(msg).to_vec(),
        HashAlg::Sha3_256 => sha3::Sha3_256::digest(msg).to_vec(),
        HashAlg::Sha3_384 => sha3::Sha3_384::digest(msg).to_vec(),
        HashAlg::Sha3_512 => sha3::Sha3_512::digest(msg).to_vec(),
        HashAlg::Shake128 => {
            let mut o = vec![0; out_len];
            sha3::Shake128::default()
                .chain(msg)
                .finalize_xof_into(&mut o);
            o
        }
        HashAlg::Shake256 => {
            let mut o = vec![0; out_len];
            sha3::Shake256::default()
                .chain(msg)
                .finalize_xof_into(&mut o);
            o
        }
    }
}

fn job<'a>(alg: HashAlg, data: &'a [u8], out_len: u32) -> Job<'a> {
    Job::Hash {
        alg,
        data,
        out_len,
        resume: None,
        partial: false,
    }
}

/// Every message length from 0 to three blocks plus one, for every
/// function, against the `sha3` crate.
#[test]
fn every_length_up_to_three_blocks() {
    let sim = TestCard::start(false);
    let mut card = sim.open();
    let msg = pattern(3 * 168 + 1, 11);
    for alg in HashAlg::ALL {
        let n = 3 * alg.rate_bytes() as usize + 1;
        let jobs: Vec<Job<'_>> = (0..=n).map(|l| job(*alg, &msg[..l], 48)).collect();
        let results = card.run_jobs(&jobs).unwrap();
        for (l, r) in results.into_iter().enumerate() {
            match r.into_output().unwrap() {
                JobOutput::Digest(d) => {
                    assert_eq!(d, sw(*alg, &msg[..l], 48), "{} of {l} bytes", alg.name())
                }
                o => panic!("{o:?}"),
            }
        }
    }
}

/// Random messages of random lengths (0 to 4 KiB, every length around the
/// rates of every function) and random SHAKE output lengths, in batches,
/// against the `sha3` crate.
#[test]
fn random_hashes_match_the_sha3_crate() {
    let sim = TestCard::start(false);
    let mut card = sim.open();
    assert!(card.capabilities().op_hash, "{:?}", card.capabilities());
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5a3);
    let mut cases = Vec::new();
    for i in 0..1200usize {
        let alg = HashAlg::ALL[i % HashAlg::ALL.len()];
        let rate = alg.rate_bytes() as usize;
        let len = match i % 4 {
            // Around block boundaries: k * rate - 2 ..= k * rate + 2.
            0 => (rng.gen_range(0..4usize) * rate + rng.gen_range(0..5usize)).saturating_sub(2),
            1 => rng.gen_range(0..64),
            _ => rng.gen_range(0..4096),
        };
        let out_len = match alg.digest_bytes() {
            Some(d) => d as usize,
            None => match i % 3 {
                0 => rng.gen_range(0..=rate + 1),
                1 => rng.gen_range(0..2000),
                _ => rate * rng.gen_range(1..4usize) + rng.gen_range(0..16usize),
            },
        };
        let mut msg = vec![0u8; len];
        rng.fill(&mut msg[..]);
        cases.push((alg, msg, out_len));
    }
    let jobs: Vec<Job<'_>> = cases
        .iter()
        .map(|(a, m, n)| job(*a, m, *n as u32))
        .collect();
    let results = card.run_jobs(&jobs).unwrap();
    let mut wrong = Vec::new();
    for ((alg, msg, n), r) in cases.iter().zip(results) {
        let what = format!("{} of {} bytes, {n} out", alg.name(), msg.len());
        assert_eq!(r.status(), Status::Ok, "{what}");
        assert_eq!(r.completion.out_len as usize, *n, "{what}");
        match r.into_output().unwrap() {
            JobOutput::Digest(d) if d == sw(*alg, msg, *n) => {}
            JobOutput::Digest(_) => wrong.push(what),
            o => panic!("{what}: {o:?}"),
        }
    }
    assert!(wrong.is_empty(), "{} wrong: {wrong:#?}", wrong.len());
}

/// Messages longer than a job: chains of partial jobs carrying the sponge
/// state, through [`Hasher`] and through [`Card::hash`], fed in pieces of
/// awkward sizes.
#[test]
fn long_messages_chain_partial_jobs() {
    let sim = TestCard::start(false);
    let mut card = sim.open();
    let msg = pattern((5 << 20) / 2 + 77, 9);
    for alg in [HashAlg::Sha3_256, HashAlg::Shake128, HashAlg::Sha3_512] {
        let mut h = Hasher::new(alg);
        for piece in msg.chunks(333_333) {
            h.update(&mut card, piece).unwrap();
        }
        assert_eq!(
            h.jobs(),
            2,
            "{}: two whole chunks, then the final job",
            alg.name()
        );
        let out = h.finish(&mut card, 100).unwrap();
        assert_eq!(out, sw(alg, &msg, 100), "{}", alg.name());
    }
    // A message of exactly one chunk: the final job absorbs nothing.
    let alg = HashAlg::Shake256;
    let exact = pattern(Hasher::chunk_bytes(alg), 3);
    assert_eq!(card.hash(alg, &exact, 64).unwrap(), sw(alg, &exact, 64));
    // The state a partial job writes is FIPS 202's S: resuming it in a
    // second card job gives the same as one job.
    let rate = HashAlg::Sha3_384.rate_bytes() as usize;
    let m = pattern(3 * rate + 5, 4);
    let r = card
        .run_jobs(&[Job::Hash {
            alg: HashAlg::Sha3_384,
            data: &m[..3 * rate],
            out_len: 0,
            resume: None,
            partial: true,
        }])
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(r.completion.out_len, SPONGE_STATE_BYTES);
    let JobOutput::SpongeState(st) = r.into_output().unwrap() else {
        panic!("no state")
    };
    let r = card
        .run_jobs(&[Job::Hash {
            alg: HashAlg::Sha3_384,
            data: &m[3 * rate..],
            out_len: 0,
            resume: Some(&st),
            partial: false,
        }])
        .unwrap()
        .pop()
        .unwrap();
    let JobOutput::Digest(d) = r.into_output().unwrap() else {
        panic!("no digest")
    };
    assert_eq!(d, sw(HashAlg::Sha3_384, &m, 0));
}

/// A job's cycle count depends on its lengths only.
#[test]
fn hash_cycles_depend_on_lengths_only() {
    let sim = TestCard::start(false);
    let mut card = sim.open();
    for alg in HashAlg::ALL {
        for len in [0usize, 135, 136, 1000] {
            let msgs: Vec<Vec<u8>> = (0..6).map(|s| pattern(len, s * 77 + 1)).collect();
            let jobs: Vec<Job<'_>> = msgs.iter().map(|m| job(*alg, m, 200)).collect();
            let cycles: Vec<u32> = card
                .run_jobs(&jobs)
                .unwrap()
                .iter()
                .map(|r| r.cycles())
                .collect();
            assert!(
                cycles.iter().all(|&c| c == cycles[0]),
                "{} of {len} bytes: {cycles:?}",
                alg.name()
            );
        }
    }
}

fn raw(card: &mut Card, d: Descriptor) -> Status {
    let q = card.queue().unwrap();
    let mut d = d;
    d.job_id = q.next_job_id();
    let s = q.run_batch(&[d]).unwrap()[0].status;
    card.nop().expect("the card keeps serving after an error");
    s
}

/// Malformed hash jobs get their own statuses, and the card keeps serving.
#[test]
fn malformed_hash_jobs_are_refused() {
    let sim = TestCard::start(false);
    let mut card = sim.open();
    let mut buf = card.alloc_dma(8192).unwrap();
    buf.as_mut_slice()[4096..4096 + 256].fill(0xaa);
    let base = |alg: HashAlg| Descriptor {
        version: DESCRIPTOR_VERSION,
        opcode: alg.opcode() as u8,
        src_addr: buf.iova(),
        src_len: 100,
        dst_addr: buf.iova() + 4096,
        dst_len: 64,
        ..Descriptor::default()
    };
    let cases: Vec<(&str, Descriptor, Status)> = vec![
        (
            "a key slot",
            Descriptor {
                key_slot: 1,
                ..base(HashAlg::Sha3_256)
            },
            Status::ReservedField,
        ),
        (
            "params",
            Descriptor {
                params: [1; 16],
                ..base(HashAlg::Sha3_256)
            },
            Status::ReservedField,
        ),
        (
            "flag bit 2",
            Descriptor {
                flags: 4,
                ..base(HashAlg::Sha3_256)
            },
            Status::ReservedField,
        ),
        (
            "a 1 MiB + 1 message",
            Descriptor {
                src_len: (1 << 20) + 1,
                ..base(HashAlg::Sha3_256)
            },
            Status::LengthTooLarge,
        ),
        (
            "1 MiB + 1 of SHAKE output",
            Descriptor {
                dst_len: (1 << 20) + 1,
                ..base(HashAlg::Shake128)
            },
            Status::LengthTooLarge,
        ),
        (
            "a misaligned source",
            Descriptor {
                src_addr: buf.iova() + 8,
                ..base(HashAlg::Sha3_256)
            },
            Status::Misaligned,
        ),
        (
            "RESUME without a state",
            Descriptor {
                flags: flags::RESUME,
                ..base(HashAlg::Sha3_256)
            },
            Status::BadLength,
        ),
        (
            "aux without RESUME",
            Descriptor {
                aux_addr: buf.iova(),
                aux_len: 200,
                ..base(HashAlg::Sha3_256)
            },
            Status::BadLength,
        ),
        (
            "a short digest buffer",
            Descriptor {
                dst_len: 47,
                ..base(HashAlg::Sha3_384)
            },
            Status::OutputTooSmall,
        ),
        (
            "a short state buffer",
            Descriptor {
                flags: flags::PARTIAL,
                src_len: 136,
                dst_len: 199,
                ..base(HashAlg::Sha3_256)
            },
            Status::OutputTooSmall,
        ),
        (
            "a partial job of 100 bytes",
            Descriptor {
                flags: flags::PARTIAL,
                dst_len: 200,
                ..base(HashAlg::Sha3_256)
            },
            Status::BadLength,
        ),
        (
            "a partial job of 135 bytes",
            Descriptor {
                flags: flags::PARTIAL,
                src_len: 135,
                dst_len: 200,
                ..base(HashAlg::Sha3_256)
            },
            Status::BadLength,
        ),
        (
            "an unmapped source",
            Descriptor {
                src_addr: 0x7000_0000_0000,
                ..base(HashAlg::Sha3_256)
            },
            Status::DmaReadError,
        ),
    ];
    for (what, d, want) in cases {
        assert_eq!(raw(&mut card, d), want, "{what}");
    }
    // A job that fails writes nothing: the output buffer is intact.
    assert!(buf.as_slice()[4096..4096 + 256].iter().all(|&b| b == 0xaa));
    assert_eq!(
        card.hash(HashAlg::Sha3_256, b"abc", 0).unwrap(),
        sw(HashAlg::Sha3_256, b"abc", 0)
    );
}
