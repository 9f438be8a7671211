//! The Verilated model through its Rust wrapper: registers, reset, DMA
//! servicing, tracing, speed.

mod common;

use std::os::fd::AsFd;
use std::time::Instant;

use common::*;
use hsm_contract::{regs, Status, COMPLETION_VERSION, DESIGN_ID};
use hsm_sim::{DmaMapping, Model, SimError};

/// Clocks the model until it is idle (at most `limit` cycles); returns the
/// irq pulses seen.
fn run_idle(model: &mut Model, limit: u64) -> u64 {
    let mut irqs = 0;
    let mut cycles = 0;
    loop {
        let r = model.run(10_000);
        irqs += r.irqs;
        cycles += r.cycles;
        if r.idle() && r.irqs == 0 {
            return irqs;
        }
        assert!(cycles < limit, "card still busy after {cycles} cycles");
    }
}

fn setup_queue(model: &mut Model, sq: u64, cq: u64) {
    for (offset, value) in queue_setup(sq, cq) {
        model.write(offset, value);
    }
}

#[test]
fn identity_scratch_and_reset() {
    let mut model = Model::new(false, None).expect("model");
    assert_eq!(model.read(regs::ID.offset).unwrap(), DESIGN_ID);
    assert_eq!(
        model.read(regs::CONTRACT_VERSION.offset).unwrap(),
        hsm_contract::CONTRACT_VERSION
    );
    let status = model.read(regs::STATUS.offset).unwrap();
    assert_eq!(regs::status::TEST_MODE.get(status), 0);

    model.write(regs::SCRATCH.offset, 0xdead_beef);
    assert_eq!(model.read(regs::SCRATCH.offset).unwrap(), 0xdead_beef);
    model.write(regs::SCRATCH.offset, 0x0123_4567);
    assert_eq!(model.read(regs::SCRATCH.offset).unwrap(), 0x0123_4567);

    // A hard reset clears SCRATCH and samples the test-mode strap.
    let before = model.cycles();
    model.reset(true);
    assert!(model.cycles() > before, "reset must clock the card");
    assert_eq!(model.read(regs::SCRATCH.offset).unwrap(), 0);
    let status = model.read(regs::STATUS.offset).unwrap();
    assert_eq!(regs::status::TEST_MODE.get(status), 1);
    model.reset(false);
    let status = model.read(regs::STATUS.offset).unwrap();
    assert_eq!(regs::status::TEST_MODE.get(status), 0);

    // After reset the card overwrites its key store (2048 cycles), runs
    // the engines' power-on self-tests (about 3,600 cycles, most of it the
    // ML-KEM test), then looks up its 64 persistent records (none here: a
    // few cycles each); after that an idle card is not clocked by run().
    let r = model.run(1_000_000);
    assert!(r.idle());
    eprintln!("reset to idle with empty storage: {} cycles", r.cycles);
    assert!(
        r.cycles >= 2048 + 3_000 + 64 && r.cycles < 2048 + 4_500 + 64 * 10,
        "{} cycles",
        r.cycles
    );
    let r = model.run(1_000_000);
    assert!(r.idle());
    assert_eq!(r.cycles, 0);
}

#[test]
fn unmapped_descriptor_fetch_is_a_read_fault() {
    let mut model = Model::new(false, None).expect("model");
    setup_queue(&mut model, SQ_IOVA, CQ_IOVA);
    model.write(regs::SQ_TAIL.offset, 1);
    run_idle(&mut model, 1_000_000);

    let stats = model.stats();
    assert!(stats.read_beats > 0, "the card fetched nothing: {stats:?}");
    assert_eq!(stats.read_errors, stats.read_beats, "{stats:?}");
    let fault = model.read(regs::FAULT.offset).unwrap();
    assert_ne!(regs::fault::DMA_READ.get(fault), 0, "FAULT = {fault:#x}");
    let lo = model.read(regs::FAULT_ADDR_LO.offset).unwrap();
    let hi = model.read(regs::FAULT_ADDR_HI.offset).unwrap();
    assert_eq!(u64::from(hi) << 32 | u64::from(lo), SQ_IOVA);
}

#[test]
fn nop_job_through_mapped_memory() {
    let mut model = Model::new(false, None).expect("model");
    let mem = memfd(0x2000);
    put_nop(&mem, 0, 0x5eed_0001);
    put_nop(&mem, 1, 0x5eed_0002);
    let mapping = DmaMapping::from_fd(SQ_IOVA, 0x2000, mem.as_fd(), 0, true, true).unwrap();
    model.map(mapping).unwrap();
    setup_queue(&mut model, SQ_IOVA, CQ_IOVA);
    model.write(regs::SQ_TAIL.offset, 2);
    let irqs = run_idle(&mut model, 1_000_000);

    for (index, job_id) in [(0, 0x5eed_0001), (1, 0x5eed_0002)] {
        let c = get_completion(&mem, CQ_IOVA - SQ_IOVA, index);
        assert_eq!(c.job_id, job_id, "completion {index}: {c:?}");
        assert_eq!(c.status(), Some(Status::Ok), "completion {index}: {c:?}");
        assert_eq!(c.version, COMPLETION_VERSION);
        assert!(c.phase(), "first pass through the ring has phase 1");
    }
    assert_eq!(model.read(regs::SQ_HEAD.offset).unwrap(), 2);
    assert_eq!(model.read(regs::CQ_TAIL.offset).unwrap(), 2);
    assert!(irqs >= 1, "no completion interrupt");
    let stats = model.stats();
    assert_eq!(stats.read_errors, 0, "{stats:?}");
    assert_eq!(stats.write_errors, 0, "{stats:?}");
    assert_eq!(stats.irqs, irqs);
    assert_eq!(model.read(regs::FAULT.offset).unwrap(), 0);
}

#[test]
fn unmapped_completion_write_is_a_write_fault() {
    let mut model = Model::new(false, None).expect("model");
    let mem = memfd(0x1000);
    put_nop(&mem, 0, 7);
    // Only the submission ring is mapped; the completion ring is not.
    let mapping = DmaMapping::from_fd(SQ_IOVA, 0x1000, mem.as_fd(), 0, true, false).unwrap();
    model.map(mapping).unwrap();
    setup_queue(&mut model, SQ_IOVA, CQ_IOVA);
    model.write(regs::SQ_TAIL.offset, 1);
    run_idle(&mut model, 1_000_000);

    let stats = model.stats();
    assert!(stats.write_errors > 0, "{stats:?}");
    let fault = model.read(regs::FAULT.offset).unwrap();
    assert_ne!(regs::fault::DMA_WRITE.get(fault), 0, "FAULT = {fault:#x}");
    let lo = model.read(regs::FAULT_ADDR_LO.offset).unwrap();
    assert_eq!(u64::from(lo), CQ_IOVA & 0xffff_ffff);
}

#[test]
fn mappings_must_not_overlap_and_unmap_exactly() {
    let mut model = Model::new(false, None).expect("model");
    let mem = memfd(0x3000);
    let map = |iova, len| DmaMapping::from_fd(iova, len, mem.as_fd(), 0, true, true).unwrap();
    model.map(map(0x1000, 0x2000)).unwrap();
    let overlap = model.map(map(0x2000, 0x1000)).unwrap_err();
    assert!(
        matches!(overlap, SimError::DmaMap { iova: 0x2000, .. }),
        "{overlap}"
    );
    model.map(map(0x3000, 0x1000)).unwrap();
    assert_eq!(model.mapping_count(), 2);

    // A range past the end of the file would fault when touched.
    let err = DmaMapping::from_fd(0x8000, 0x4000, mem.as_fd(), 0, true, true).unwrap_err();
    assert!(err.to_string().contains("0x8000"), "{err}");

    let err = model.unmap(0x1000, 0x1000).unwrap_err();
    assert!(
        matches!(
            err,
            SimError::DmaUnmap {
                iova: 0x1000,
                len: 0x1000
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("0x1000"), "{err}");
    let removed = model.unmap(0x1000, 0x2000).unwrap();
    assert_eq!((removed.iova(), removed.len()), (0x1000, 0x2000));
    assert_eq!(model.mapping_count(), 1);
    model.unmap_all();
    assert_eq!(model.mapping_count(), 0);
}

#[cfg(feature = "trace")]
#[test]
fn trace_file_records_the_ports() {
    let dir = TestDir::new("trace");
    let path = dir.path("card.vcd");
    {
        let mut model = Model::new(false, Some(&path)).expect("model");
        model.write(regs::SCRATCH.offset, 1);
        model.clock(10);
        assert_eq!(model.trace_path(), Some(path.as_path()));
    }
    let vcd = std::fs::read_to_string(&path).expect("trace written on drop");
    assert!(vcd.contains("$enddefinitions"), "not a VCD file");
    for port in ["reg_addr", "dmar_data", "irq", "busy"] {
        assert!(vcd.contains(port), "trace lacks {port}");
    }

    let bad = dir.path("no/such/dir/card.vcd");
    let err = Model::new(false, Some(&bad))
        .err()
        .expect("unwritable trace");
    assert!(err.to_string().contains("no/such/dir"), "{err}");
}

#[cfg(not(feature = "trace"))]
#[test]
fn trace_needs_the_trace_feature() {
    let path = std::env::temp_dir().join("hsm-sim-never-written.vcd");
    let err = Model::new(false, Some(&path))
        .err()
        .expect("no trace support");
    assert!(err.to_string().contains("trace"), "{err}");
    assert!(!path.exists());
}

#[test]
fn idle_clock_speed() {
    let mut model = Model::new(false, None).expect("model");
    let cycles = 3_000_000;
    let before = model.cycles();
    let start = Instant::now();
    model.clock(cycles);
    let elapsed = start.elapsed();
    assert_eq!(model.cycles() - before, cycles);
    let rate = cycles as f64 / elapsed.as_secs_f64();
    eprintln!(
        "idle clocking: {cycles} cycles in {:.3} s = {:.1} M cycles/s",
        elapsed.as_secs_f64(),
        rate / 1e6
    );
    // The card must still answer after a long idle run.
    assert_eq!(model.read(regs::ID.offset).unwrap(), DESIGN_ID);
}

#[test]
fn a_card_image_that_is_not_a_model_library_is_refused() {
    for (bytes, needle) in [
        (&b"not an ELF file"[..], "not a loadable card image"),
        (&[][..], "not a loadable card image"),
    ] {
        // SAFETY: the bytes are not a library; loading them must fail
        // before any of their code could run.
        let err = unsafe { hsm_sim::ModelLibrary::load(bytes, "test-image") }.unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("test-image") && text.contains(needle),
            "{text}"
        );
    }
    assert_eq!(hsm_sim::ModelLibrary::builtin().origin(), "built-in");
}
