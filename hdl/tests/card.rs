//! Block-level tests of the card in rust-hdl's simulator.

mod bench;
mod lint;

use bench::*;
use hsm_contract::hash::{self, HashAlg};
use hsm_contract::{regs, Descriptor, Opcode, Status, COMPLETION_VERSION};

#[test]
fn identity_registers_come_from_the_contract() {
    let mut b = Bench::new(4096, true);
    assert_eq!(b.read(&regs::ID), hsm_contract::DESIGN_ID);
    assert_eq!(
        b.read(&regs::CONTRACT_VERSION),
        hsm_contract::CONTRACT_VERSION
    );
    assert_eq!(b.read(&regs::BUILD_HASH_LO), 0x89ab_cdef);
    assert_eq!(b.read(&regs::BUILD_HASH_HI), 0x0123_4567);
    assert_eq!(b.read(&regs::CAPABILITIES), regs::CAPABILITIES.reset);
    let st = b.read(&regs::STATUS);
    assert_eq!(regs::status::TEST_MODE.get(st), 1);
    assert_eq!(regs::status::QUEUE_ENABLED.get(st), 0);
    b.write(&regs::SCRATCH, 0xdead_beef);
    assert_eq!(b.read(&regs::SCRATCH), 0xdead_beef);
    // Unmapped offsets read as zero.
    assert_eq!(b.read_at(0xffc), 0);

    let b2 = &mut Bench::new(4096, false);
    assert_eq!(regs::status::TEST_MODE.get(b2.read(&regs::STATUS)), 0);
}

#[test]
fn cycle_counter_reads_consistently() {
    let mut b = Bench::new(4096, false);
    let lo1 = b.read(&regs::CYCLES_LO);
    let hi1 = b.read(&regs::CYCLES_HI);
    for _ in 0..10 {
        b.tick();
    }
    let lo2 = b.read(&regs::CYCLES_LO);
    let hi2 = b.read(&regs::CYCLES_HI);
    let (c1, c2) = (
        ((hi1 as u64) << 32) | lo1 as u64,
        ((hi2 as u64) << 32) | lo2 as u64,
    );
    assert!(c2 > c1 + 10 && c2 < c1 + 20, "{c1} -> {c2}");
}

#[test]
fn nop_batch_completes_in_order_across_ring_wraps() {
    let mut b = Bench::new(4 << 20, false);
    let mut r = Rings::setup(&mut b, 3, 2);
    let mut done = Vec::new();
    for batch in 0..5u32 {
        let descs: Vec<_> = (0..7).map(|i| Descriptor::nop(batch * 100 + i)).collect();
        done.extend(r.run(&mut b, &descs));
    }
    assert_eq!(done.len(), 35);
    for (n, c) in done.iter().enumerate() {
        let want = (n as u32 / 7) * 100 + n as u32 % 7;
        assert_eq!(c.job_id, want);
        assert_eq!(c.status(), Some(Status::Ok));
        assert_eq!(c.version, COMPLETION_VERSION);
        assert_eq!(c.out_len, 0);
        assert!(
            c.cycles > 0 && c.cycles < 40,
            "NOP took {} cycles",
            c.cycles
        );
    }
    let jobs = b.read(&regs::JOBS_LO);
    assert_eq!(jobs, 35);
    assert_eq!(b.read(&regs::SQ_HEAD), r.sq_tail);
    assert_eq!(b.read(&regs::CQ_TAIL), r.cq_head);
}

#[test]
fn copy_any_length_any_alignment() {
    let mut b = Bench::new(4 << 20, false);
    let mut r = Rings::setup(&mut b, 4, 4);
    let mut id = 0;
    for &len in &[
        0usize, 1, 2, 15, 16, 17, 31, 32, 33, 100, 4095, 4096, 4097, 9000,
    ] {
        for (so, dof) in [
            (0u64, 0u64),
            (3, 0),
            (0, 5),
            (7, 7),
            (15, 1),
            (1, 15),
            (9, 4),
        ] {
            id += 1;
            let src = DATA_ADDR + 0x1000 * (id % 8) + so + 0x3000;
            let dst = DATA_ADDR + 0x10_0000 + dof + 0x5000 * (id % 3);
            let data = pattern(len, id);
            b.put(src, &data);
            // Guard bytes around the destination must survive.
            b.put(dst - 16, &[0xa5; 16]);
            b.put(dst, &vec![0xa5; len + 32]);
            let c = r.run(
                &mut b,
                &[Descriptor::copy(
                    id as u32, src, len as u32, dst, len as u32,
                )],
            );
            assert_eq!(
                c[0].status(),
                Some(Status::Ok),
                "len {len} src+{so} dst+{dof}"
            );
            assert_eq!(c[0].out_len, len as u32);
            assert_eq!(b.get(dst, len), data, "len {len} src+{so} dst+{dof}");
            assert_eq!(
                b.get(dst - 16, 16),
                vec![0xa5; 16],
                "bytes before dst clobbered"
            );
            assert_eq!(
                b.get(dst + len as u64, 32),
                vec![0xa5; 32],
                "bytes after dst clobbered"
            );
        }
    }
}

#[test]
fn copy_streams_one_beat_per_cycle() {
    let mut b = Bench::new(4 << 20, false);
    let mut r = Rings::setup(&mut b, 2, 2);
    let len = 256 * 1024;
    let data = pattern(len, 99);
    b.put(DATA_ADDR + 3, &data);
    let c = r.run(
        &mut b,
        &[Descriptor::copy(
            1,
            DATA_ADDR + 3,
            len as u32,
            DATA_ADDR + 0x10_0009,
            len as u32,
        )],
    );
    assert_eq!(c[0].status(), Some(Status::Ok));
    assert_eq!(b.get(DATA_ADDR + 0x10_0009, len), data);
    let bytes_per_cycle = len as f64 / c[0].cycles as f64;
    assert!(
        bytes_per_cycle > 15.0,
        "{bytes_per_cycle:.2} bytes/cycle ({} cycles)",
        c[0].cycles
    );
}

#[test]
fn copy_survives_backpressure_and_read_gaps() {
    let mut b = Bench::new(4 << 20, false);
    let mut r = Rings::setup(&mut b, 2, 2);
    b.read_gaps = true;
    let len = 5000;
    let data = pattern(len, 5);
    b.put(DATA_ADDR + 11, &data);
    r.submit(
        &mut b,
        &[Descriptor::copy(
            9,
            DATA_ADDR + 11,
            len as u32,
            DATA_ADDR + 0x8002,
            len as u32,
        )],
    );
    // Stall the write channel on and off while the job runs.
    for i in 0..4000 {
        b.write_ready = i % 3 != 0;
        b.tick();
    }
    b.write_ready = true;
    b.run_until_idle(100_000);
    let c = r.reap(&mut b);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].status(), Some(Status::Ok));
    assert_eq!(b.get(DATA_ADDR + 0x8002, len), data);
}

fn random_descriptor(seed: u64) -> Descriptor {
    use hsm_contract::crypto::{GcmParams, KeyAlg, KeyLoadParams};
    let ops = Opcode::ALL;
    let op = ops[(seed % ops.len() as u64) as usize];
    let k = seed / ops.len() as u64;
    // Well-formed for the operation, then one thing wrong at a time.
    let mut d = Descriptor {
        version: hsm_contract::DESCRIPTOR_VERSION,
        opcode: op as u8,
        job_id: pattern(4, seed).iter().fold(0, |a, x| (a << 8) | *x as u32),
        ..Descriptor::default()
    };
    let used = op.fields_used();
    let len = (k % 300) as u32;
    if used.contains(&"src_addr") {
        d.src_addr = DATA_ADDR + 16 * (k % 8);
        d.src_len = len;
    }
    if used.contains(&"dst_addr") {
        d.dst_addr = DATA_ADDR + 0x8_0000 + 16 * (k % 4);
        d.dst_len = len + 64;
    }
    if used.contains(&"key_slot") {
        d.key_slot = (k % 64) as u16;
    }
    let dec = op == Opcode::AesGcmDecrypt;
    let gp = GcmParams {
        iv_len: if k.is_multiple_of(3) && !dec {
            0
        } else {
            1 + (k % 20) as u16
        },
        tag_len: 4 + (k % 13) as u8,
        flags: if k.is_multiple_of(3) && !dec {
            GcmParams::CARD_IV
        } else {
            0
        },
        aad_len: (k % 40) as u32,
    };
    match op {
        Opcode::AesGcmEncrypt | Opcode::AesGcmDecrypt => {
            d.params = gp.to_bytes();
            d.aux_addr = DATA_ADDR + 0x4_0000;
            d.aux_len = gp.aux_len(dec) as u32;
            d.dst_len = gp.dst_len(len as u64, dec) as u32 + (k % 2) as u32;
        }
        Opcode::AesXtsEncrypt | Opcode::AesXtsDecrypt => {
            d.src_len = 16 + len;
            d.dst_len = d.src_len;
            d.params = [0x5a; 16];
        }
        Opcode::CardInit | Opcode::Login | Opcode::SetPin => {
            // PINs of 4 to 67 bytes; roles 1 and 2 (a limit for CARD_INIT).
            d.src_len = 4 + (k % 64) as u32;
            d.params[0] = 1 + (k % 2) as u8;
            if op == Opcode::CardInit {
                d.aux_addr = DATA_ADDR + 0x4_0000;
                d.aux_len = 32;
            }
        }
        Opcode::KeyLoad => {
            d.src_len = 32;
            d.aux_addr = DATA_ADDR + 0x4_0000;
            d.aux_len = 32;
            d.params = KeyLoadParams {
                alg: KeyAlg::Aes256 as u8,
                policy: 3,
            }
            .to_bytes();
        }
        _ => {}
    }
    if HashAlg::from_opcode(op).is_some() {
        // Some resumed and some partial (whole-rate) hash jobs.
        if k % 5 == 1 {
            d.flags |= hash::flags::RESUME;
            d.aux_addr = DATA_ADDR + 0x4_0000;
            d.aux_len = hash::SPONGE_STATE_BYTES;
        }
        if k % 4 == 1 {
            d.flags |= hash::flags::PARTIAL;
            d.src_len = HashAlg::from_opcode(op).unwrap().rate_bytes() * (k % 3) as u32;
            d.dst_len = 208;
        }
    }
    match (k * 7) % 20 {
        0 => d.version = (k >> 8) as u8 | 2,
        1 => d.opcode = 0x70 + (k >> 8) as u8 % 140,
        2 => d.flags = 1 << (k % 16),
        3 => d.aux_addr |= 0x100,
        4 => d.aux_len += 7,
        5 => d.key_slot = 64 + (k % 100) as u16,
        6 => d.reserved0 = 0x8000,
        7 => d.params[(k % 16) as usize] ^= 1 << (k % 8),
        8 => d.src_len = hsm_contract::MAX_JOB_BYTES + 1 + (k % 1000) as u32,
        9 => d.dst_len = d.dst_len.wrapping_sub(1 + (k % 20) as u32),
        10 => d.src_addr += 1 + k % 15,
        11 => d.dst_addr += 8,
        12 => d.src_len = k as u32 % 16,
        13 => d.params[2] = (k % 20) as u8,
        14 => d.params[0] = (k % 200) as u8,
        15 => d.params[3] = 2,
        _ => {}
    }
    let now = Opcode::from_u8(d.opcode);
    if matches!(now, Some(Opcode::CardZeroize | Opcode::CardInit)) && d.precheck(false).is_none() {
        // A valid one would zeroize the card and stop its queue
        // (`tests/zeroize.rs`), or initialise it (`tests/auth.rs`): here
        // it gets a field it does not use.
        d.key_slot = 1 + (k % 63) as u16;
    }
    d
}

#[test]
fn descriptor_checks_match_the_contract_and_the_card_keeps_serving() {
    // Operational mode, not initialised: a descriptor that passes the
    // stateless checks needs the user it cannot have (key jobs), finds no
    // PIN to check (LOGIN) and no login (SET_PIN), or succeeds.
    let mut b = Bench::new(4 << 20, false);
    let mut r = Rings::setup(&mut b, 5, 5);
    let descs: Vec<_> = (0..960u64).map(random_descriptor).collect();
    let mut classes = std::collections::HashSet::new();
    for chunk in descs.chunks(24) {
        let done = r.run(&mut b, chunk);
        for (d, c) in chunk.iter().zip(&done) {
            let op = Opcode::from_u8(d.opcode);
            let access =
                op.and_then(|op| hsm_contract::auth::access(op, Default::default(), false, false));
            let want = d.precheck(false).or(access).unwrap_or(match op {
                Some(Opcode::Login) => Status::NotInitialized,
                Some(Opcode::SetPin) => Status::NotLoggedIn,
                // The one check the hash engine makes while it reads.
                Some(op)
                    if HashAlg::from_opcode(op).is_some_and(|a| {
                        d.flags & hash::flags::PARTIAL != 0 && d.src_len % a.rate_bytes() != 0
                    }) =>
                {
                    Status::BadLength
                }
                _ => Status::Ok,
            });
            assert_eq!(c.job_id, d.job_id);
            assert_eq!(c.status(), Some(want), "{d:?}");
            classes.insert(want);
        }
    }
    for s in [
        Status::Ok,
        Status::BadVersion,
        Status::BadOpcode,
        Status::ReservedField,
        Status::LengthTooLarge,
        Status::OutputTooSmall,
        Status::Misaligned,
        Status::BadLength,
        Status::BadSlot,
        Status::NotInitialized,
        Status::NotLoggedIn,
        Status::BadRole,
        Status::NotTestMode,
        Status::BadIvLength,
        Status::BadTagLength,
        Status::BadAlgorithm,
    ] {
        assert!(classes.contains(&s), "no descriptor exercised {s:?}");
    }
}

#[test]
fn dma_faults_give_error_completions_and_fault_bits() {
    let mut b = Bench::new(4 << 20, false);
    let mut r = Rings::setup(&mut b, 2, 2);
    b.write(&regs::IRQ_ENABLE, regs::irq::FAULT.mask());
    let c = r.run(&mut b, &[Descriptor::copy(1, 0x40, 64, DATA_ADDR, 64)]);
    assert_eq!(c[0].status(), Some(Status::DmaReadError));
    assert_eq!(c[0].out_len, 0);
    let f = b.read(&regs::FAULT);
    assert_eq!(regs::fault::DMA_READ.get(f), 1);
    assert_eq!(b.read(&regs::FAULT_ADDR_LO), 0x40);
    assert_eq!(b.irqs, 1);
    b.write(&regs::FAULT, f);
    assert_eq!(b.read(&regs::FAULT), 0);
    b.write(&regs::IRQ_STATUS, u32::MAX);

    let c = r.run(
        &mut b,
        &[Descriptor::copy(2, DATA_ADDR, 64, 0x7000_0000, 64)],
    );
    assert_eq!(c[0].status(), Some(Status::DmaWriteError));
    assert_eq!(c[0].out_len, 0);
    assert_eq!(regs::fault::DMA_WRITE.get(b.read(&regs::FAULT)), 1);
    assert_eq!(b.read(&regs::FAULT_ADDR_LO), 0x7000_0000);
    assert_eq!(b.irqs, 2);
    b.write(&regs::FAULT, u32::MAX);

    let c = r.run(
        &mut b,
        &[Descriptor::copy(3, DATA_ADDR, 64, DATA_ADDR + 4096, 64)],
    );
    assert_eq!(c[0].status(), Some(Status::Ok));
}

#[test]
fn bad_ring_configuration_is_refused() {
    let mut b = Bench::new(4096, false);
    b.write(&regs::SQ_SIZE_LOG2, 17);
    b.write(&regs::CQ_SIZE_LOG2, 2);
    b.write(&regs::CONTROL, regs::control::QUEUE_ENABLE.mask());
    assert_eq!(regs::fault::RING_CONFIG.get(b.read(&regs::FAULT)), 1);
    assert_eq!(regs::status::QUEUE_ENABLED.get(b.read(&regs::STATUS)), 0);
    b.write(&regs::FAULT, u32::MAX);
    b.write(&regs::SQ_SIZE_LOG2, 2);
    b.write(&regs::SQ_BASE_LO, 0x20);
    b.write(&regs::CONTROL, regs::control::QUEUE_ENABLE.mask());
    assert_eq!(
        regs::fault::RING_CONFIG.get(b.read(&regs::FAULT)),
        1,
        "misaligned SQ accepted"
    );
    b.write(&regs::SQ_BASE_LO, 0x40);
    b.write(&regs::CONTROL, regs::control::QUEUE_ENABLE.mask());
    assert_eq!(regs::status::QUEUE_ENABLED.get(b.read(&regs::STATUS)), 1);
    // A doorbell past the ring is ignored and flagged.
    b.write(&regs::FAULT, u32::MAX);
    b.write(&regs::SQ_TAIL, 4);
    assert_eq!(regs::fault::DOORBELL.get(b.read(&regs::FAULT)), 1);
    assert_eq!(b.read(&regs::SQ_TAIL), 0);
    // Ring registers are read-only while the queue runs.
    b.write(&regs::SQ_SIZE_LOG2, 3);
    assert_eq!(b.read(&regs::SQ_SIZE_LOG2), 2);
}

#[test]
fn completion_interrupts_coalesce() {
    let mut b = Bench::new(4 << 20, false);
    let mut r = Rings::setup(&mut b, 4, 4);
    r.run(&mut b, &[Descriptor::nop(1)]);
    assert_eq!(b.irqs, 0, "interrupt while disabled");
    b.write(&regs::IRQ_STATUS, u32::MAX);
    b.write(&regs::IRQ_ENABLE, regs::irq::COMPLETION.mask());
    r.run(
        &mut b,
        &[Descriptor::nop(2), Descriptor::nop(3), Descriptor::nop(4)],
    );
    assert_eq!(b.irqs, 1, "one message until the status is cleared");
    assert_eq!(regs::irq::COMPLETION.get(b.read(&regs::IRQ_STATUS)), 1);
    b.write(&regs::IRQ_STATUS, regs::irq::COMPLETION.mask());
    r.run(&mut b, &[Descriptor::nop(5)]);
    assert_eq!(b.irqs, 2);
}

#[test]
fn soft_reset_mid_job_drains_and_recovers() {
    let mut b = Bench::new(8 << 20, false);
    let mut r = Rings::setup(&mut b, 2, 2);
    b.read_latency = 20;
    r.submit(
        &mut b,
        &[Descriptor::copy(
            1,
            DATA_ADDR,
            200_000,
            DATA_ADDR + 0x10_0000,
            200_000,
        )],
    );
    for _ in 0..100 {
        b.tick();
    }
    b.write(&regs::CONTROL, regs::control::SOFT_RESET.mask());
    b.run_until_idle(100_000);
    assert_eq!(regs::status::QUEUE_ENABLED.get(b.read(&regs::STATUS)), 0);
    b.read_latency = 3;
    let mut r = Rings::setup(&mut b, 2, 2);
    let data = pattern(100, 1);
    b.put(DATA_ADDR + 1, &data);
    let c = r.run(
        &mut b,
        &[Descriptor::copy(
            7,
            DATA_ADDR + 1,
            100,
            DATA_ADDR + 0x30_0000,
            100,
        )],
    );
    assert_eq!(c[0].job_id, 7);
    assert_eq!(c[0].status(), Some(Status::Ok));
    assert_eq!(b.get(DATA_ADDR + 0x30_0000, 100), data);
}

#[test]
fn completion_ring_full_stalls_until_host_returns_entries() {
    let mut b = Bench::new(4 << 20, false);
    let mut r = Rings::setup(&mut b, 4, 2);
    // 4-entry CQ holds 3 completions; submit 6.
    r.submit(&mut b, &(0..6).map(Descriptor::nop).collect::<Vec<_>>());
    b.run_until_idle(10_000);
    assert_eq!(b.read(&regs::CQ_TAIL), 3);
    let first = r.reap(&mut b);
    assert_eq!(
        first.iter().map(|c| c.job_id).collect::<Vec<_>>(),
        [0, 1, 2]
    );
    b.run_until_idle(10_000);
    let rest = r.reap(&mut b);
    assert_eq!(rest.iter().map(|c| c.job_id).collect::<Vec<_>>(), [3, 4, 5]);
}

#[test]
fn verilog_export_is_deterministic() {
    assert_eq!(hsm_hdl::verilog(), hsm_hdl::verilog());
}

#[test]
fn verilog_is_lint_clean() {
    lint::lint("card", &hsm_hdl::verilog());
}

#[test]
fn register_write_right_after_soft_reset_is_kept() {
    let mut b = Bench::new(4096, false);
    b.write(&regs::SQ_BASE_LO, 0x1000);
    b.write(&regs::CONTROL, regs::control::SOFT_RESET.mask());
    b.write(&regs::SQ_BASE_LO, 0x3000);
    assert_eq!(b.read(&regs::SQ_BASE_LO), 0x3000);
    assert_eq!(b.read(&regs::CONTROL), 0, "SOFT_RESET reads 0");
}
