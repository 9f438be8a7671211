//! A test-only model of the card behind a [`Transport`], for unit tests of
//! the ring logic. It follows the contract's register and ring rules
//! (doorbells, phase bits, never overwriting unreleased completions,
//! coalesced interrupts) and runs jobs instantly, or later when told to
//! hold them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use hsm_contract::{regs, Completion, Descriptor, Status, COMPLETION_BYTES, DESCRIPTOR_BYTES};

use crate::dma::{DmaBuffer, DmaMapper, HostMemory, IovaAllocator};
use crate::error::Result;
use crate::transport::Transport;

#[derive(Default)]
pub(crate) struct State {
    regs: BTreeMap<u32, u32>,
    /// iova -> (host address, length)
    mem: BTreeMap<u64, (usize, usize)>,
    iova: IovaAllocator,
    enabled: bool,
    sq_head: u32,
    sq_tail: u32,
    cq_tail: u32,
    cq_head: u32,
    phase: bool,
    pub doorbells: Vec<u32>,
    pub cq_head_writes: Vec<u32>,
    pub unmapped: Vec<(u64, u64)>,
    pub irq_msgs: u32,
    pub irq_status_clears: u32,
    /// Jobs are not run until released (by `release()` or, with
    /// `run_on_irq_wait`, by the driver sleeping on the interrupt).
    pub hold: bool,
    pub run_on_irq_wait: bool,
    pub contract_version: u32,
    pub jobs: u64,
}

pub(crate) struct MockCard {
    state: Mutex<State>,
}

impl MockCard {
    pub(crate) fn new() -> Arc<MockCard> {
        Arc::new(MockCard {
            state: Mutex::new(State {
                contract_version: hsm_contract::CONTRACT_VERSION,
                ..State::default()
            }),
        })
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    /// Run every job the doorbell made available (as room allows).
    pub(crate) fn release(&self) {
        let mut s = self.state();
        s.hold = false;
        s.run();
    }
}

impl State {
    fn reg(&self, r: &regs::Register) -> u32 {
        self.regs.get(&r.offset).copied().unwrap_or(0)
    }

    fn ptr(&self, iova: u64, len: usize) -> *mut u8 {
        let (&base, &(host, mlen)) = self
            .mem
            .range(..=iova)
            .next_back()
            .expect("mock: DMA to an unmapped address");
        assert!(
            iova + len as u64 <= base + mlen as u64,
            "mock: DMA past a mapping"
        );
        (host + (iova - base) as usize) as *mut u8
    }

    fn ring_base(&self, lo: &regs::Register, hi: &regs::Register) -> u64 {
        ((self.reg(hi) as u64) << 32) | self.reg(lo) as u64
    }

    fn run(&mut self) {
        if !self.enabled || self.hold {
            return;
        }
        let sq_size = 1u32 << self.reg(&regs::SQ_SIZE_LOG2);
        let cq_size = 1u32 << self.reg(&regs::CQ_SIZE_LOG2);
        let sq_base = self.ring_base(&regs::SQ_BASE_LO, &regs::SQ_BASE_HI);
        let cq_base = self.ring_base(&regs::CQ_BASE_LO, &regs::CQ_BASE_HI);
        while self.sq_head != self.sq_tail && (self.cq_tail + 1) % cq_size != self.cq_head {
            let mut b = [0u8; DESCRIPTOR_BYTES];
            let p = self.ptr(sq_base + self.sq_head as u64 * 64, DESCRIPTOR_BYTES);
            // SAFETY: p points at 64 mapped bytes (checked by ptr()).
            unsafe { std::ptr::copy_nonoverlapping(p, b.as_mut_ptr(), DESCRIPTOR_BYTES) };
            let d = Descriptor::from_bytes(&b);
            let status = d.precheck().unwrap_or(Status::Ok);
            let c = Completion {
                job_id: d.job_id,
                out_len: if status == Status::Ok { d.src_len } else { 0 },
                cycles: 3,
                status: status as u16,
                version: hsm_contract::COMPLETION_VERSION,
                flags: self.phase as u8,
            };
            let p = self.ptr(cq_base + self.cq_tail as u64 * 16, COMPLETION_BYTES);
            // SAFETY: p points at 16 mapped bytes.
            unsafe { std::ptr::copy_nonoverlapping(c.to_bytes().as_ptr(), p, COMPLETION_BYTES) };
            self.sq_head = (self.sq_head + 1) % sq_size;
            self.cq_tail = (self.cq_tail + 1) % cq_size;
            if self.cq_tail == 0 {
                self.phase = !self.phase;
            }
            self.jobs += 1;
            let en = self.reg(&regs::IRQ_ENABLE);
            let st = self.reg(&regs::IRQ_STATUS);
            let bit = regs::irq::COMPLETION.mask();
            if st & en == 0 && en & bit != 0 {
                self.irq_msgs += 1;
            }
            self.regs.insert(regs::IRQ_STATUS.offset, st | bit);
        }
    }
}

impl DmaMapper for MockCard {
    fn unmap(&self, iova: u64, len: u64) -> Result<()> {
        let mut s = self.state();
        let (_, mlen) = s
            .mem
            .remove(&iova)
            .expect("mock: unmap of an unmapped IOVA");
        assert_eq!(
            mlen as u64, len,
            "mock: unmap length differs from map length"
        );
        s.unmapped.push((iova, len));
        s.iova.release(iova, len);
        Ok(())
    }
}

/// The transport face of a [`MockCard`].
pub(crate) struct MockTransport(pub Arc<MockCard>);

impl Transport for MockTransport {
    fn device(&self) -> &str {
        "mock:card"
    }

    fn read32(&self, offset: u32) -> Result<u32> {
        let s = self.0.state();
        Ok(match offset {
            o if o == regs::ID.offset => hsm_contract::DESIGN_ID,
            o if o == regs::CONTRACT_VERSION.offset => s.contract_version,
            o if o == regs::CAPABILITIES.offset => regs::CAPABILITIES.reset,
            o if o == regs::STATUS.offset => regs::status::QUEUE_ENABLED.set(0, s.enabled as u32),
            o if o == regs::SQ_HEAD.offset => s.sq_head,
            o if o == regs::CQ_TAIL.offset => s.cq_tail,
            o if o == regs::JOBS_LO.offset => s.jobs as u32,
            o => s.regs.get(&o).copied().unwrap_or(0),
        })
    }

    fn write32(&self, offset: u32, value: u32) -> Result<()> {
        let mut s = self.0.state();
        match offset {
            o if o == regs::SQ_TAIL.offset => {
                s.doorbells.push(value);
                s.sq_tail = value;
                s.run();
            }
            o if o == regs::CQ_HEAD.offset => {
                s.cq_head_writes.push(value);
                s.cq_head = value;
                s.run();
            }
            o if o == regs::IRQ_STATUS.offset => {
                s.irq_status_clears += 1;
                let v = s.reg(&regs::IRQ_STATUS) & !value;
                s.regs.insert(o, v);
            }
            o if o == regs::CONTROL.offset => {
                if regs::control::SOFT_RESET.get(value) != 0 {
                    s.enabled = false;
                    s.regs.remove(&regs::IRQ_ENABLE.offset);
                    s.regs.remove(&regs::IRQ_STATUS.offset);
                } else if regs::control::QUEUE_ENABLE.get(value) != 0 {
                    let ok = [regs::SQ_SIZE_LOG2, regs::CQ_SIZE_LOG2]
                        .iter()
                        .all(|r| (1..=16).contains(&s.reg(r)));
                    if ok {
                        s.enabled = true;
                        s.sq_head = 0;
                        s.sq_tail = 0;
                        s.cq_tail = 0;
                        s.cq_head = 0;
                        s.phase = true;
                    } else {
                        let f = s.reg(&regs::FAULT) | regs::fault::RING_CONFIG.mask();
                        s.regs.insert(regs::FAULT.offset, f);
                    }
                }
            }
            o => {
                s.regs.insert(o, value);
            }
        }
        Ok(())
    }

    fn alloc_dma(&self, len: usize) -> Result<DmaBuffer> {
        let mem = HostMemory::new(len)?;
        let mut s = self.0.state();
        let iova = s.iova.alloc(mem.len() as u64)?;
        s.mem.insert(iova, (mem.as_ptr() as usize, mem.len()));
        drop(s);
        let mapper: Arc<dyn DmaMapper> = self.0.clone();
        Ok(DmaBuffer::from_mapped(
            mem,
            len,
            iova,
            Arc::downgrade(&mapper),
        ))
    }

    fn has_irq(&self) -> bool {
        true
    }

    fn wait_irq(&self, timeout: Duration) -> Result<bool> {
        let mut s = self.0.state();
        if s.run_on_irq_wait && s.hold {
            s.hold = false;
            s.run();
        }
        if s.irq_msgs > 0 {
            s.irq_msgs -= 1;
            return Ok(true);
        }
        drop(s);
        std::thread::sleep(timeout.min(Duration::from_millis(2)));
        Ok(false)
    }

    fn reset(&self) -> Result<()> {
        Ok(())
    }
}
