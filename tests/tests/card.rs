//! The driver against the real simulated card: identity, COPY, batches,
//! interrupts, malformed descriptors, one client at a time.

use std::time::{Duration, Instant};

use hsm_contract::{Descriptor, Status, CONTRACT_MAJOR, CONTRACT_MINOR};
use hsm_driver::{Card, Error, QueueConfig, WaitMode};
use hsm_tests::{pattern, TestCard};

fn queue(log2: u32, mode: WaitMode) -> QueueConfig {
    QueueConfig {
        sq_log2: log2,
        cq_log2: log2,
        mode,
        timeout: Duration::from_secs(60),
    }
}

#[test]
fn identify_reports_the_contract() {
    let sim = TestCard::start(false);
    let card = sim.open();
    let id = card.identify().unwrap();
    assert_eq!(id.design_id, hsm_contract::DESIGN_ID);
    assert_eq!(id.design_name, "HSM1");
    assert_eq!(
        (id.contract_major, id.contract_minor),
        (CONTRACT_MAJOR, CONTRACT_MINOR)
    );
    assert_ne!(id.build_hash, 0, "the build hash is fixed at build time");
    assert_eq!(id.capabilities.raw, hsm_contract::regs::CAPABILITIES.reset);
    assert!(id.capabilities.op_nop && id.capabilities.op_copy);
    assert_eq!(id.capabilities.ring_max_log2, hsm_contract::RING_MAX_LOG2);
    assert_eq!(
        u64::from(id.capabilities.dma_beat_bytes),
        hsm_contract::DMA_BEAT_BYTES
    );
    assert!(!id.test_mode && !id.status.test_mode);
    assert!(!id.status.fault);
    assert_eq!(id.device, format!("sim:{}", sim.socket().display()));
    // Register accesses clock the card: the counter moves.
    let again = card.identify().unwrap();
    assert!(
        again.cycles > id.cycles,
        "{} then {}",
        id.cycles,
        again.cycles
    );
    assert_eq!(again.build_hash, id.build_hash);
    card.scratch_test().unwrap();
}

#[test]
fn identify_reports_test_mode() {
    let sim = TestCard::start(true);
    let card = sim.open();
    let id = card.identify().unwrap();
    assert!(id.test_mode && id.status.test_mode);
}

#[test]
fn copy_round_trips_at_unaligned_addresses() {
    let sim = TestCard::start(false);
    let mut card = sim.open();
    const LENS: [usize; 8] = [0, 1, 15, 16, 4095, 4096, 65537, 1 << 20];
    const GUARD: usize = 64;
    let mut src = card.alloc_dma((1 << 20) + 2 * GUARD).unwrap();
    let mut dst = card.alloc_dma((1 << 20) + 2 * GUARD).unwrap();
    let jobs_before = card.jobs_completed().unwrap();
    for (i, &len) in LENS.iter().enumerate() {
        // Different misalignments of source and destination, relative to
        // the 16-byte beat and to each other.
        let src_off = [1, 3, 7, 13, 0, 9, 15, 5][i];
        let dst_off = [6, 0, 11, 2, 14, 1, 8, 10][i];
        let data = pattern(len, i as u64 + 1);
        src.as_mut_slice().fill(0x11);
        src.as_mut_slice()[src_off..src_off + len].copy_from_slice(&data);
        dst.as_mut_slice().fill(0xee);
        let done = card.copy(&src, src_off, len, &mut dst, dst_off).unwrap();
        assert_eq!(done.status, Status::Ok);
        assert_eq!(done.out_len as usize, len, "len {len}");
        let d = dst.as_slice();
        assert!(
            d[dst_off..dst_off + len] == data[..],
            "len {len}: data differs"
        );
        assert!(
            d[..dst_off].iter().all(|&b| b == 0xee),
            "len {len}: wrote before dst"
        );
        assert!(
            d[dst_off + len..].iter().all(|&b| b == 0xee),
            "len {len}: wrote past dst"
        );
    }
    assert_eq!(
        card.jobs_completed().unwrap() - jobs_before,
        LENS.len() as u64
    );
    // Bus addresses above 4 GiB were used throughout.
    assert!(src.iova() > u64::from(u32::MAX) && dst.iova() > u64::from(u32::MAX));
}

#[test]
fn thousand_jobs_with_few_doorbells_complete_in_order() {
    let sim = TestCard::start(false);
    let mut card = sim.open();
    const JOBS: usize = 1200;
    const CHUNK: usize = 48;
    let copies = JOBS / 2;
    let mut src = card.alloc_dma(copies * CHUNK).unwrap();
    let dst = card.alloc_dma(copies * CHUNK).unwrap();
    let data = pattern(copies * CHUNK, 77);
    src.as_mut_slice().copy_from_slice(&data);
    let q = card.start_queue(queue(11, WaitMode::Poll)).unwrap();
    let descs: Vec<Descriptor> = (0..JOBS)
        .map(|i| {
            let id = 5000 + i as u32;
            if i % 2 == 0 {
                Descriptor::nop(id)
            } else {
                let off = (i / 2 * CHUNK) as u64;
                Descriptor::copy(
                    id,
                    src.iova() + off,
                    CHUNK as u32,
                    dst.iova() + off,
                    CHUNK as u32,
                )
            }
        })
        .collect();
    let out = q.run_batch(&descs).unwrap();
    assert_eq!(out.len(), JOBS);
    for (c, d) in out.iter().zip(&descs) {
        assert_eq!(c.job_id, d.job_id);
        assert_eq!(c.status, Status::Ok, "job {}", c.job_id);
        assert_eq!(c.out_len, d.src_len);
    }
    let s = q.stats();
    assert_eq!(
        s.doorbells, 1,
        "all 1200 fit in a 2048-entry ring: one doorbell"
    );
    assert!(
        s.cq_head_writes < 100,
        "{} CQ_HEAD writes",
        s.cq_head_writes
    );
    assert_eq!(dst.as_slice(), &data[..]);
}

#[test]
fn small_rings_wrap_many_times() {
    let sim = TestCard::start(false);
    let mut card = sim.open();
    let q = card.start_queue(queue(3, WaitMode::Poll)).unwrap(); // capacity 7
    let descs: Vec<Descriptor> = (0..1000).map(|i| Descriptor::nop(i + 1)).collect();
    let out = q.run_batch(&descs).unwrap();
    let ids: Vec<u32> = out.iter().map(|c| c.job_id).collect();
    assert_eq!(ids, (1..=1000).collect::<Vec<_>>());
    assert!(out.iter().all(|c| c.status == Status::Ok));
    // Refills come in batches of at least half the ring.
    assert!(
        q.stats().doorbells <= 1000 / 3 + 1,
        "{} doorbells",
        q.stats().doorbells
    );
}

#[test]
fn interrupt_waiting_works_like_polling() {
    let sim = TestCard::start(false);
    let mut card = sim.open();
    assert!(
        card.transport().has_irq(),
        "the simulated card wires MSI-X vector 0"
    );
    let len = 1 << 20;
    let mut src = card.alloc_dma(len).unwrap();
    src.as_mut_slice().copy_from_slice(&pattern(len, 9));
    let dst = card.alloc_dma(len).unwrap();
    for mode in [WaitMode::Interrupt, WaitMode::Poll] {
        let q = card.start_queue(queue(4, mode)).unwrap();
        // Long jobs (65k cycles each) so that the first poll finds nothing.
        let descs: Vec<Descriptor> = (0..4)
            .map(|i| Descriptor::copy(100 + i, src.iova(), len as u32, dst.iova(), len as u32))
            .collect();
        let out = q.run_batch(&descs).unwrap();
        assert_eq!(
            out.iter().map(|c| c.job_id).collect::<Vec<_>>(),
            vec![100, 101, 102, 103]
        );
        assert!(out.iter().all(|c| c.status == Status::Ok));
        let s = q.stats();
        match mode {
            WaitMode::Interrupt => assert!(s.irq_sleeps > 0, "never slept on the interrupt"),
            WaitMode::Poll => assert_eq!(s.irq_sleeps, 0),
        }
    }
    assert_eq!(dst.as_slice(), src.as_slice());
}

#[test]
fn interrupt_wait_times_out_naming_the_job() {
    let sim = TestCard::start(false);
    let mut card = sim.open();
    let len = 1 << 20;
    let src = card.alloc_dma(len).unwrap();
    let dst = card.alloc_dma(len).unwrap();
    let q = card.start_queue(queue(5, WaitMode::Interrupt)).unwrap();
    q.set_timeout(Duration::from_millis(1));
    let descs: Vec<Descriptor> = (0..20)
        .map(|i| Descriptor::copy(700 + i, src.iova(), len as u32, dst.iova(), len as u32))
        .collect();
    q.submit(&descs).unwrap();
    let mut out = Vec::new();
    let e = q.wait(&mut out).unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("completion of job 700 (20 outstanding"),
        "{e}"
    );
    // Given time, everything completes.
    q.set_timeout(Duration::from_secs(60));
    q.wait_all(&mut out).unwrap();
    assert_eq!(out.len(), 20);
}

fn expect_status(card: &mut Card, d: Descriptor, want: Status) {
    let out = card.run_batch(&[d]).unwrap();
    assert_eq!(out[0].job_id, d.job_id);
    assert_eq!(out[0].status, want, "descriptor {d:?}");
    assert_eq!(out[0].out_len, 0, "a failed job writes nothing");
    // The next valid job still succeeds.
    let ok = card.nop().unwrap();
    assert_eq!(ok.status, Status::Ok);
}

#[test]
fn malformed_descriptors_get_their_own_status() {
    let sim = TestCard::start(false);
    let mut card = sim.open();
    let src = card.alloc_dma(4096).unwrap();
    let mut dst = card.alloc_dma(4096).unwrap();
    let good = |id| Descriptor::copy(id, src.iova(), 100, dst.iova(), 100);

    let mut d = good(1);
    d.version = 2;
    expect_status(&mut card, d, Status::BadVersion);

    let mut d = good(2);
    d.opcode = 0x7e;
    expect_status(&mut card, d, Status::BadOpcode);

    for (i, set) in [
        |d: &mut Descriptor| d.flags = 1,
        |d: &mut Descriptor| d.reserved0 = 0x8000,
        |d: &mut Descriptor| d.key_slot = 3,
        |d: &mut Descriptor| d.aux_len = 16,
        |d: &mut Descriptor| d.aux_addr = 0x1000,
        |d: &mut Descriptor| d.params[15] = 1,
    ]
    .iter()
    .enumerate()
    {
        let mut d = good(10 + i as u32);
        set(&mut d);
        expect_status(&mut card, d, Status::ReservedField);
    }
    let mut d = Descriptor::nop(20);
    d.src_len = 1;
    expect_status(&mut card, d, Status::ReservedField);

    let d = Descriptor::copy(
        30,
        src.iova(),
        hsm_contract::MAX_JOB_BYTES + 1,
        dst.iova(),
        u32::MAX,
    );
    expect_status(&mut card, d, Status::LengthTooLarge);

    let d = Descriptor::copy(31, src.iova(), 100, dst.iova(), 99);
    expect_status(&mut card, d, Status::OutputTooSmall);

    // DMA from and to addresses nobody mapped.
    let unmapped = 0x7_0000_0000u64;
    card.clear_faults().unwrap();
    let d = Descriptor::copy(40, unmapped, 64, dst.iova(), 64);
    expect_status(&mut card, d, Status::DmaReadError);
    let f = card.faults().unwrap();
    assert!(f.dma_read, "{f:?}");
    assert_eq!(f.addr & !0xfff, unmapped);
    card.clear_faults().unwrap();
    let d = Descriptor::copy(41, src.iova(), 64, unmapped, 64);
    expect_status(&mut card, d, Status::DmaWriteError);
    assert!(card.faults().unwrap().dma_write);
    card.clear_faults().unwrap();
    assert_eq!(card.faults().unwrap().raw, 0);

    // The copy helper turns a failed status into a typed error.
    let big = card.alloc_dma(2 << 20).unwrap();
    let mut big_dst = card.alloc_dma(2 << 20).unwrap();
    let e = card
        .copy(&big, 0, (1 << 20) + 1, &mut big_dst, 0)
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::JobFailed {
                status: Status::LengthTooLarge,
                ..
            }
        ),
        "{e}"
    );
    // And the card still copies.
    card.copy(&src, 0, 4096, &mut dst, 0).unwrap();
}

#[test]
fn a_second_client_is_told_the_card_is_busy() {
    let sim = TestCard::start(false);
    let first = sim.open();
    first.identify().unwrap();
    let t0 = Instant::now();
    let e = Card::open(&sim.spec()).err().expect("the card is in use");
    assert!(
        t0.elapsed() < Duration::from_secs(2),
        "took {:?}",
        t0.elapsed()
    );
    match &e {
        Error::CardBusy { socket, .. } => assert_eq!(socket, sim.socket()),
        other => panic!("expected CardBusy, got {other}"),
    }
    assert!(e.to_string().contains("in use by another process"), "{e}");
    assert!(e.is_device_unavailable());
    // Once the first client is gone, the card serves the next.
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match Card::open(&sim.spec()) {
            Ok(c) => {
                c.identify().unwrap();
                break;
            }
            Err(Error::CardBusy { .. }) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(e) => panic!("reopening: {e}"),
        }
    }
}

#[test]
fn reset_stops_the_queue_and_a_new_one_starts() {
    let sim = TestCard::start(false);
    let mut card = sim.open();
    card.nop().unwrap();
    assert!(card.identify().unwrap().status.queue_enabled);
    card.reset().unwrap();
    assert!(!card.identify().unwrap().status.queue_enabled);
    // The next job starts a fresh queue.
    card.nop().unwrap();
    assert!(card.identify().unwrap().status.queue_enabled);
}

#[test]
fn state_survives_reconnecting() {
    let sim = TestCard::start(false);
    let jobs = {
        let mut card = sim.open();
        for _ in 0..3 {
            card.nop().unwrap();
        }
        card.jobs_completed().unwrap()
    };
    assert!(jobs >= 3);
    let deadline = Instant::now() + Duration::from_secs(10);
    let card = loop {
        match Card::open(&sim.spec()) {
            Ok(c) => break c,
            Err(Error::CardBusy { .. }) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(e) => panic!("reopening: {e}"),
        }
    };
    assert_eq!(
        card.jobs_completed().unwrap(),
        jobs,
        "the card keeps its counters"
    );
}
