//! A test-only model of the card behind a [`Transport`], for unit tests of
//! the ring logic. It follows the contract's register and ring rules
//! (doorbells, phase bits, never overwriting unreleased completions,
//! coalesced interrupts) and runs jobs instantly, or later when told to
//! hold them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use hsm_contract::crypto::{pad16, policy, GcmParams, KeyAlg, KeyLoadParams, SlotRecord};
use hsm_contract::{
    regs, Completion, Descriptor, Opcode, Status, COMPLETION_BYTES, DESCRIPTOR_BYTES,
};

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
    pub test_mode: bool,
    /// Model a faulty card that leaves plaintext behind on AUTH_FAILED.
    pub leak_on_auth_failure: bool,
    /// Key slots: (algorithm, policy, label, key, invocations).
    pub slots: BTreeMap<u16, MockSlot>,
    /// Answer ML-KEM jobs with OK and a byte pattern (i mod 251) in
    /// `dst` instead of BAD_OPCODE: not ML-KEM, a check of the driver's
    /// output offsets.
    pub fake_kem_output: bool,
    /// Every ML-KEM and RNG_GENERATE descriptor the card fetched, with the
    /// `src` and `aux` bytes it read, in order.
    pub seen: Vec<(Descriptor, Vec<u8>, Vec<u8>)>,
    /// Model a card whose noise source failed its health tests:
    /// STATUS.RNG_FAULT, and ENTROPY_FAILURE for every job that needs the
    /// DRBG.
    pub rng_fault: bool,
    /// RNG_GENERATE jobs run so far (the filler's seed).
    pub rng_jobs: u32,
    /// Model a card that left the bus: every register reads all ones.
    pub gone: bool,
}

/// A key slot of the mock card.
#[derive(Clone)]
pub(crate) struct MockSlot {
    pub alg: KeyAlg,
    pub policy: u16,
    pub label: [u8; 32],
    pub key: Vec<u8>,
    pub invocations: u64,
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

    fn read(&self, iova: u64, len: usize) -> Vec<u8> {
        if len == 0 {
            return Vec::new();
        }
        let p = self.ptr(iova, len);
        // SAFETY: ptr() checked that len bytes at p are mapped.
        unsafe { std::slice::from_raw_parts(p, len) }.to_vec()
    }

    fn write(&self, iova: u64, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let p = self.ptr(iova, data.len());
        // SAFETY: ptr() checked that the bytes at p are mapped.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), p, data.len()) };
    }

    /// Run a descriptor that passed the precheck, in software: the GCM
    /// model takes 12-byte IVs only (all the driver's unit tests need).
    fn execute(&mut self, d: &Descriptor) -> (Status, u32) {
        use aes_gcm::aead::AeadInPlace;
        use aes_gcm::{Aes128Gcm, Aes256Gcm, KeyInit, Nonce};
        let op = Opcode::from_u8(d.opcode).expect("prechecked");
        if matches!(op, Opcode::Nop | Opcode::Copy) {
            if op == Opcode::Copy {
                let data = self.read(d.src_addr, d.src_len as usize);
                self.write(d.dst_addr, &data);
            }
            return (Status::Ok, d.src_len);
        }
        let kem = matches!(
            op,
            Opcode::KemKeygen | Opcode::KemEncaps | Opcode::KemDecaps
        );
        let drbg = op == Opcode::RngGenerate
            || (matches!(op, Opcode::KemKeygen | Opcode::KemEncaps) && !d.kem_host_randomness());
        if drbg && self.rng_fault {
            return (Status::EntropyFailure, 0);
        }
        if op == Opcode::RngGenerate {
            // NOT RANDOM, test only: a filler that differs between jobs and
            // is never all zeros, so that the driver's splitting,
            // reassembly and wiping can be checked. The mock has no DRBG.
            self.rng_jobs += 1;
            let n = self.rng_jobs;
            let out: Vec<u8> = (0..d.dst_len)
                .map(|i| (i.wrapping_mul(31).wrapping_add(n.wrapping_mul(97)) % 251 + 1) as u8)
                .collect();
            self.write(d.dst_addr, &out);
            return (Status::Ok, d.dst_len);
        }
        if kem && self.fake_kem_output {
            // Not ML-KEM: a byte pattern where the outputs go, so that the
            // driver's decoding offsets can be checked.
            let out: Vec<u8> = (0..d.dst_len).map(|i| (i % 251) as u8).collect();
            self.write(d.dst_addr, &out);
            return (Status::Ok, d.dst_len);
        }
        if hsm_contract::hash::HashAlg::from_opcode(op).is_some()
            || matches!(
                op,
                Opcode::KemKeygen
                    | Opcode::KemEncaps
                    | Opcode::KemDecaps
                    | Opcode::KeyGenerate
                    | Opcode::CardZeroize
                    | Opcode::CardInit
                    | Opcode::Login
                    | Opcode::Logout
                    | Opcode::SetPin
                    | Opcode::CardInfo
            )
        {
            // The mock is a card image without the hash and ML-KEM engines,
            // without a DRBG, persistent storage or logins.
            return (Status::BadOpcode, 0);
        }
        let slot = d.key_slot;
        match op {
            Opcode::KeyLoad => {
                let p = KeyLoadParams::from_bytes(&d.params).expect("prechecked");
                if self.slots.contains_key(&slot) {
                    return (Status::SlotOccupied, 0);
                }
                let key = self.read(d.src_addr, d.src_len as usize);
                let alg = KeyAlg::from_u8(p.alg).expect("prechecked");
                if alg == KeyAlg::XtsAes256 && key[..32] == key[32..] {
                    return (Status::WeakKey, 0);
                }
                let mut label = [0u8; 32];
                label.copy_from_slice(&self.read(d.aux_addr, 32));
                self.slots.insert(
                    slot,
                    MockSlot {
                        alg,
                        policy: p.policy,
                        label,
                        key,
                        invocations: 0,
                    },
                );
                return (Status::Ok, 0);
            }
            Opcode::KeyClear => {
                self.slots.remove(&slot);
                return (Status::Ok, 0);
            }
            Opcode::SlotInfo => {
                let r = match self.slots.get(&slot) {
                    // (No check values, creation numbers or fixed fields:
                    // the mock checks the driver's ring logic.)
                    Some(s) => SlotRecord {
                        alg: s.alg as u8,
                        policy: s.policy,
                        kcv: [0; 3],
                        invocations: s.invocations,
                        created: 0,
                        iv_fixed: (slot as u32).to_le_bytes(),
                        label: s.label,
                    },
                    None => SlotRecord {
                        alg: 0,
                        policy: 0,
                        kcv: [0; 3],
                        invocations: 0,
                        created: 0,
                        iv_fixed: [0; 4],
                        label: [0; 32],
                    },
                };
                self.write(d.dst_addr, &r.to_bytes());
                return (Status::Ok, 64);
            }
            _ => {}
        }
        let Some(s) = self.slots.get(&slot).cloned() else {
            return (Status::SlotEmpty, 0);
        };
        let encrypt = matches!(op, Opcode::AesGcmEncrypt | Opcode::AesXtsEncrypt);
        let need = if encrypt {
            policy::ENCRYPT
        } else {
            policy::DECRYPT
        };
        let xts = matches!(op, Opcode::AesXtsEncrypt | Opcode::AesXtsDecrypt);
        if xts != (s.alg == KeyAlg::XtsAes256) {
            return (Status::WrongKeyType, 0);
        }
        if s.policy & need == 0 {
            return (Status::PolicyDenied, 0);
        }
        let mut data = self.read(d.src_addr, d.src_len as usize);
        if xts {
            use aes::cipher::KeyInit as _;
            let k1 = aes::Aes256::new_from_slice(&s.key[..32]).unwrap();
            let k2 = aes::Aes256::new_from_slice(&s.key[32..]).unwrap();
            let x = xts_mode::Xts128::new(k1, k2);
            if encrypt {
                x.encrypt_sector(&mut data, d.params);
            } else {
                x.decrypt_sector(&mut data, d.params);
            }
            self.write(d.dst_addr, &data);
            return (Status::Ok, d.src_len);
        }
        let p = GcmParams::from_bytes(&d.params).expect("prechecked");
        let aux = self.read(d.aux_addr, d.aux_len as usize);
        let card_iv = p.flags & GcmParams::CARD_IV != 0;
        let iv: Vec<u8> = if card_iv {
            let slot_entry = self.slots.get_mut(&slot).expect("present");
            let mut iv = (slot as u32).to_le_bytes().to_vec();
            iv.extend_from_slice(&slot_entry.invocations.to_le_bytes());
            slot_entry.invocations += 1;
            iv
        } else {
            aux[..p.iv_len as usize].to_vec()
        };
        assert_eq!(iv.len(), 12, "mock: 12-byte GCM IVs only");
        let mut x = p.iv_area() as usize;
        let expected_tag = (!encrypt).then(|| {
            x += 16;
            aux[x - 16..x - 16 + p.tag_len as usize].to_vec()
        });
        let aad = &aux[x..];
        let nonce = Nonce::from_slice(&iv);
        // CTR is its own inverse: "encrypting" the ciphertext yields the
        // plaintext, and encrypting that gives the tag to compare.
        let seal = |buf: &mut Vec<u8>| -> Vec<u8> {
            let t = if s.alg == KeyAlg::Aes128 {
                Aes128Gcm::new_from_slice(&s.key)
                    .unwrap()
                    .encrypt_in_place_detached(nonce, aad, buf)
            } else {
                Aes256Gcm::new_from_slice(&s.key)
                    .unwrap()
                    .encrypt_in_place_detached(nonce, aad, buf)
            };
            t.unwrap().to_vec()
        };
        if encrypt {
            let tag = seal(&mut data);
            let n = pad16(d.src_len as u64);
            self.write(d.dst_addr, &data);
            self.write(d.dst_addr + n, &tag[..p.tag_len as usize]);
            if card_iv {
                self.write(d.dst_addr + n + 16, &iv);
            }
            (Status::Ok, d.src_len)
        } else {
            seal(&mut data);
            let mut again = data.clone();
            let tag = seal(&mut again);
            if tag[..p.tag_len as usize] == expected_tag.unwrap()[..] {
                self.write(d.dst_addr, &data);
                (Status::Ok, d.src_len)
            } else if self.leak_on_auth_failure {
                // A faulty card: writes the plaintext anyway.
                self.write(d.dst_addr, &data);
                (Status::AuthFailed, 0)
            } else {
                self.write(d.dst_addr, &vec![0; data.len()]);
                (Status::AuthFailed, 0)
            }
        }
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
            if matches!(
                Opcode::from_u8(d.opcode),
                Some(
                    Opcode::KemKeygen | Opcode::KemEncaps | Opcode::KemDecaps | Opcode::RngGenerate
                )
            ) {
                let src = self.read(d.src_addr, d.src_len as usize);
                let aux = self.read(d.aux_addr, d.aux_len as usize);
                self.seen.push((d, src, aux));
            }
            let (status, out_len) = match d.precheck(self.test_mode) {
                Some(st) => (st, 0),
                None => self.execute(&d),
            };
            let c = Completion {
                job_id: d.job_id,
                out_len,
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
        if s.gone {
            return Ok(u32::MAX);
        }
        Ok(match offset {
            o if o == regs::ID.offset => hsm_contract::DESIGN_ID,
            o if o == regs::CONTRACT_VERSION.offset => s.contract_version,
            o if o == regs::CAPABILITIES.offset => regs::CAPABILITIES.reset,
            o if o == regs::STATUS.offset => {
                use regs::status as st;
                let mut v = st::QUEUE_ENABLED.set(0, s.enabled as u32);
                v = st::TEST_MODE.set(v, s.test_mode as u32);
                v = st::RNG_READY.set(v, !s.rng_fault as u32);
                st::RNG_FAULT.set(v, s.rng_fault as u32)
            }
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
