//! A test bench for the card in rust-hdl's own simulator: host memory and
//! a DMA responder that follow `docs/card-ports.md`, and register access.
#![allow(dead_code)]

use hsm_contract::auth::Role;
use hsm_contract::crypto::{policy, KeyAlg, KeyLoadParams, SlotRecord};
use hsm_contract::{
    regs, storage, Completion, Descriptor, Opcode, COMPLETION_BYTES, DESCRIPTOR_BYTES,
    DESCRIPTOR_VERSION,
};
use hsm_hdl::HsmCard;
use rust_hdl::prelude::*;
use std::collections::VecDeque;

pub mod scan;

/// Bus address where the bench's host memory starts.
pub const MEM_BASE: u64 = 0x0000_0010_0000_0000;

/// The card plus a flat host memory window at [`MEM_BASE`].
pub struct Bench {
    pub card: Box<HsmCard>,
    pub mem: Vec<u8>,
    /// Read bursts accepted: (address, beats left, cycle at which data may start).
    reads: VecDeque<(u64, u64, u64)>,
    pub read_latency: u64,
    write_err_next: bool,
    pub cycle: u64,
    pub irqs: u64,
    /// Whether the host side accepts write beats (to test back-pressure).
    pub write_ready: bool,
    /// Alternate read-data valid on and off (to test stalls).
    pub read_gaps: bool,
    /// The noise source: a xorshift stream (the card's health tests pass
    /// it; its randomness does not matter to these tests).
    noise: u64,
    /// The persistent storage the card's vault reaches (kept by
    /// [`Bench::power_cycle`]).
    pub store: Store,
    nv_reply: Option<(bool, u128)>,
    bb_reply: bool,
    /// When set, every RAM write is recorded (see [`scan`]).
    pub shadow: Option<scan::Shadow>,
}

/// The bench's persistent storage, as `hsm_contract::storage` describes it:
/// the master-key store and the record store.
#[derive(Clone, Debug, Default)]
pub struct Store {
    /// The master-key store: key and epoch, when it holds a key.
    pub master: Option<([u8; 32], u32)>,
    /// The master-key store's freshness table (absent entries are 0).
    pub versions: std::collections::BTreeMap<u8, u64>,
    /// The record store.
    pub records: std::collections::BTreeMap<u8, [u8; storage::RECORD_BYTES]>,
    /// Beats staged for the next commit.
    staged: Vec<u8>,
    /// Refuse commits (a full or failing storage).
    pub fail_commits: bool,
    /// Refuse master-key store writes.
    pub fail_master_writes: bool,
    /// Master-key store writes seen.
    pub master_writes: u64,
}

impl Bench {
    pub fn new(mem_len: usize, test_mode: bool) -> Bench {
        let mut card = Box::new(HsmCard::new(0x0123_4567_89ab_cdef));
        card.connect_all();
        let mut b = Bench {
            card,
            mem: vec![0; mem_len],
            reads: VecDeque::new(),
            read_latency: 3,
            write_err_next: false,
            cycle: 0,
            irqs: 0,
            write_ready: true,
            read_gaps: false,
            noise: 0x9e37_79b9_7f4a_7c15,
            store: Store::default(),
            nv_reply: None,
            bb_reply: false,
            shadow: None,
        };
        b.reset(test_mode);
        b
    }

    /// A card whose storage is `store`, as after a power cycle.
    pub fn with_store(mem_len: usize, test_mode: bool, store: Store) -> Bench {
        let mut b = Bench::new(mem_len, test_mode);
        b.store = store;
        b.reset(test_mode);
        b
    }

    /// Resets the card (a power cycle: the storage stays).
    pub fn reset(&mut self, test_mode: bool) {
        self.card.test_mode_strap.next = test_mode;
        self.card.reset.next = true;
        self.tick();
        self.tick();
        self.card.reset.next = false;
        self.card.test_mode_strap.next = false;
        self.tick();
    }

    fn index(&self, addr: u64, len: u64) -> Option<usize> {
        if addr >= MEM_BASE && addr + len <= MEM_BASE + self.mem.len() as u64 {
            Some((addr - MEM_BASE) as usize)
        } else {
            None
        }
    }

    /// One clock cycle: drive inputs, settle, transfer, rising edge.
    pub fn tick(&mut self) {
        let gap = self.read_gaps && self.cycle % 2 == 1;
        let beat = match self.reads.front() {
            Some(&(addr, _, ready_at)) if ready_at <= self.cycle && !gap => Some(addr),
            _ => None,
        };
        let (data, err) = match beat {
            Some(addr) => match self.index(addr, 16) {
                Some(i) => {
                    let mut b = [0u8; 16];
                    b.copy_from_slice(&self.mem[i..i + 16]);
                    (u128::from_le_bytes(b), false)
                }
                None => (0, true),
            },
            None => (0, false),
        };
        // The noise source runs while the card enables it.
        let enable = self.card.noise_enable.val();
        self.noise ^= self.noise << 13;
        self.noise ^= self.noise >> 7;
        self.noise ^= self.noise << 17;
        let sample = if enable { self.noise as u8 } else { 0 };
        // The stores answer in the cycle after a request.
        let master = self.store.master;
        // The freshness table answers the entry named in the cycle before.
        let entry = self.card.bb_ver_index.val().to_u64() as u8;
        let version = self.store.versions.get(&entry).copied().unwrap_or(0);
        let c = &mut self.card;
        c.bb_ver.next = version.into();
        c.bb_valid.next = master.is_some();
        let (mkey, mepoch) = master.unwrap_or(([0; 32], 0));
        c.bb_key.next = (bit_cast::<256, 128>(to_bits128(u128::from_le_bytes(
            mkey[16..].try_into().unwrap(),
        ))) << 128)
            | bit_cast::<256, 128>(to_bits128(u128::from_le_bytes(
                mkey[..16].try_into().unwrap(),
            )));
        c.bb_epoch.next = (mepoch as u64).into();
        c.bb_ack.next = std::mem::take(&mut self.bb_reply);
        c.bb_ok.next = !self.store.fail_master_writes;
        let nv = self.nv_reply.take();
        c.nv_ack.next = nv.is_some();
        c.nv_ok.next = nv.map(|r| r.0).unwrap_or(false);
        c.nv_rdata.next = to_bits128(nv.map(|r| r.1).unwrap_or(0));
        c.noise_valid.next = enable;
        c.noise_sample.next = (sample as u64).into();
        c.clock.next = false.into();
        c.dmar_req_ready.next = true;
        c.dmaw_ready.next = self.write_ready;
        c.dmaw_err.next = self.write_err_next;
        c.dmar_data_valid.next = beat.is_some();
        c.dmar_data.next = to_bits128(data);
        c.dmar_data_err.next = err;
        assert!(
            simulate(&mut *self.card, 200),
            "combinational logic did not settle"
        );

        if let Some(shadow) = &mut self.shadow {
            shadow.observe(&self.card);
        }
        let c = &self.card;
        // Sample the handshakes before the edge.
        if c.dmar_req_valid.val() {
            let addr = c.dmar_req_addr.val().to_u64();
            let beats = c.dmar_req_beats.val().to_u64();
            assert_eq!(addr % 16, 0, "unaligned read request");
            assert!((1..=256).contains(&beats), "burst of {beats} beats");
            assert_eq!(
                addr / 4096,
                (addr + beats * 16 - 1) / 4096,
                "burst crosses 4 KiB"
            );
            self.reads
                .push_back((addr, beats, self.cycle + self.read_latency));
        }
        if beat.is_some() && c.dmar_data_ready.val() {
            let front = self.reads.front_mut().unwrap();
            front.0 += 16;
            front.1 -= 1;
            if front.1 == 0 {
                self.reads.pop_front();
            }
        }
        let write = (c.dmaw_valid.val() && self.write_ready).then(|| {
            (
                c.dmaw_addr.val().to_u64(),
                from_bits128(c.dmaw_data.val()).to_le_bytes(),
                c.dmaw_strb.val().to_u64(),
            )
        });
        let irq = c.irq.val();
        if c.bb_write.val() {
            let lo = from_bits128(c.bb_wkey.val().get_bits::<128>(0)).to_le_bytes();
            let hi = from_bits128(c.bb_wkey.val().get_bits::<128>(128)).to_le_bytes();
            let mut key = [0u8; 32];
            key[..16].copy_from_slice(&lo);
            key[16..].copy_from_slice(&hi);
            let epoch = c.bb_wepoch.val().to_u64() as u32;
            if !self.store.fail_master_writes {
                self.store.master = c.bb_wvalid.val().then_some((key, epoch));
                if !c.bb_wvalid.val() {
                    self.store.versions.clear();
                }
            }
            self.store.master_writes += 1;
            self.bb_reply = true;
        }
        if c.bb_vwrite.val() {
            let index = c.bb_ver_index.val().to_u64() as u8;
            if !self.store.fail_master_writes {
                self.store.versions.insert(index, c.bb_wver.val().to_u64());
            }
            self.bb_reply = true;
        }
        if c.nv_req.val() {
            let op = c.nv_op.val().to_u64() as u8;
            let index = c.nv_index.val().to_u64() as u8;
            let beat = c.nv_beat.val().to_u64() as usize;
            let st = &mut self.store;
            self.nv_reply = Some(match op {
                storage::nv_op::READ => match st.records.get(&index) {
                    Some(r) => (
                        true,
                        u128::from_le_bytes(r[16 * beat..16 * beat + 16].try_into().unwrap()),
                    ),
                    None => (false, 0),
                },
                storage::nv_op::WRITE => {
                    st.staged.resize(storage::RECORD_BYTES, 0);
                    st.staged[16 * beat..16 * beat + 16]
                        .copy_from_slice(&from_bits128(c.nv_wdata.val()).to_le_bytes());
                    (true, 0)
                }
                storage::nv_op::COMMIT => {
                    if st.fail_commits {
                        (false, 0)
                    } else {
                        st.records
                            .insert(index, st.staged.clone().try_into().unwrap());
                        (true, 0)
                    }
                }
                _ => {
                    st.records.remove(&index);
                    (true, 0)
                }
            });
        }
        self.write_err_next = false;
        if let Some((addr, data, strb)) = write {
            assert_eq!(addr % 16, 0, "unaligned write beat");
            match self.index(addr, 16) {
                Some(i) => {
                    for (k, byte) in data.iter().enumerate() {
                        if strb & (1 << k) != 0 {
                            self.mem[i + k] = *byte;
                        }
                    }
                }
                None => self.write_err_next = true,
            }
        }
        if irq {
            self.irqs += 1;
        }
        self.card.clock.next = true.into();
        assert!(
            simulate(&mut *self.card, 200),
            "sequential logic did not settle"
        );
        self.card.reg_read.next = false;
        self.card.reg_write.next = false;
        self.cycle += 1;
    }

    pub fn read(&mut self, r: &regs::Register) -> u32 {
        self.read_at(r.offset)
    }

    pub fn read_at(&mut self, offset: u32) -> u32 {
        self.card.reg_addr.next = (offset as u64).into();
        self.card.reg_read.next = true;
        self.tick();
        assert!(
            self.card.reg_rvalid.val(),
            "no read data one cycle after reg_read"
        );
        self.card.reg_rdata.val().to_u64() as u32
    }

    pub fn write(&mut self, r: &regs::Register, v: u32) {
        self.card.reg_addr.next = (r.offset as u64).into();
        self.card.reg_wdata.next = (v as u64).into();
        self.card.reg_write.next = true;
        self.tick();
    }

    pub fn run_until_idle(&mut self, max: u64) -> u64 {
        let start = self.cycle;
        while (self.card.busy.val() || !self.reads.is_empty()) && self.cycle - start < max {
            self.tick();
        }
        assert!(
            self.cycle - start < max,
            "card still busy after {max} cycles"
        );
        self.cycle - start
    }

    pub fn put(&mut self, addr: u64, bytes: &[u8]) {
        let i = self
            .index(addr, bytes.len() as u64)
            .expect("address in bench memory");
        self.mem[i..i + bytes.len()].copy_from_slice(bytes);
    }

    pub fn get(&self, addr: u64, len: usize) -> Vec<u8> {
        let i = self
            .index(addr, len as u64)
            .expect("address in bench memory");
        self.mem[i..i + len].to_vec()
    }
}

pub fn to_bits128(v: u128) -> Bits<128> {
    let lo: Bits<128> = (v as u64).into();
    let hi: Bits<128> = ((v >> 64) as u64).into();
    (hi << 64) | lo
}

pub fn from_bits128(b: Bits<128>) -> u128 {
    let lo = b.get_bits::<64>(0).to_u64() as u128;
    let hi = b.get_bits::<64>(64).to_u64() as u128;
    (hi << 64) | lo
}

/// A queue pair in bench memory: SQ at `MEM_BASE`, CQ right after it, data
/// area after that.
pub struct Rings {
    pub sq_log2: u32,
    pub cq_log2: u32,
    pub sq_tail: u32,
    pub cq_head: u32,
    pub phase: bool,
}

pub const SQ_ADDR: u64 = MEM_BASE;
pub const CQ_ADDR: u64 = MEM_BASE + 0x10_0000;
pub const DATA_ADDR: u64 = MEM_BASE + 0x20_0000;
/// Where the crypto tests put a key to load.
pub const KEY_ADDR: u64 = DATA_ADDR;
/// Where they put a label.
pub const LABEL_ADDR: u64 = DATA_ADDR + 0x100;
/// Where they put a job's aux data (IV, tag, AAD).
pub const AUX_ADDR: u64 = DATA_ADDR + 0x1000;
/// Where they put a job's input.
pub const SRC_ADDR: u64 = DATA_ADDR + 0x2_0000;
/// Where a job writes its output.
pub const DST_ADDR: u64 = DATA_ADDR + 0x4_0000;

impl Rings {
    pub fn setup(b: &mut Bench, sq_log2: u32, cq_log2: u32) -> Rings {
        // Fresh rings: no old completion looks new.
        b.put(SQ_ADDR, &vec![0; DESCRIPTOR_BYTES << sq_log2]);
        b.put(CQ_ADDR, &vec![0; COMPLETION_BYTES << cq_log2]);
        b.write(&regs::SQ_BASE_LO, SQ_ADDR as u32);
        b.write(&regs::SQ_BASE_HI, (SQ_ADDR >> 32) as u32);
        b.write(&regs::SQ_SIZE_LOG2, sq_log2);
        b.write(&regs::CQ_BASE_LO, CQ_ADDR as u32);
        b.write(&regs::CQ_BASE_HI, (CQ_ADDR >> 32) as u32);
        b.write(&regs::CQ_SIZE_LOG2, cq_log2);
        b.write(&regs::CONTROL, regs::control::QUEUE_ENABLE.mask());
        assert_eq!(b.read(&regs::FAULT), 0, "ring configuration refused");
        Rings {
            sq_log2,
            cq_log2,
            sq_tail: 0,
            cq_head: 0,
            phase: true,
        }
    }

    /// Write descriptors and ring the doorbell once.
    pub fn submit(&mut self, b: &mut Bench, descs: &[Descriptor]) {
        for d in descs {
            let at = SQ_ADDR + self.sq_tail as u64 * DESCRIPTOR_BYTES as u64;
            b.put(at, &d.to_bytes());
            self.sq_tail = (self.sq_tail + 1) & ((1 << self.sq_log2) - 1);
        }
        b.write(&regs::SQ_TAIL, self.sq_tail);
    }

    /// Collect every new completion and return the CQ entries to the card.
    pub fn reap(&mut self, b: &mut Bench) -> Vec<Completion> {
        let mut out = Vec::new();
        loop {
            let at = CQ_ADDR + self.cq_head as u64 * COMPLETION_BYTES as u64;
            let raw: [u8; COMPLETION_BYTES] = b.get(at, COMPLETION_BYTES).try_into().unwrap();
            let c = Completion::from_bytes(&raw);
            if c.phase() != self.phase {
                break;
            }
            out.push(c);
            self.cq_head = (self.cq_head + 1) & ((1 << self.cq_log2) - 1);
            if self.cq_head == 0 {
                self.phase = !self.phase;
            }
        }
        if !out.is_empty() {
            b.write(&regs::CQ_HEAD, self.cq_head);
        }
        out
    }

    /// Submit and run until every job has completed.
    pub fn run(&mut self, b: &mut Bench, descs: &[Descriptor]) -> Vec<Completion> {
        self.submit(b, descs);
        let mut out = Vec::new();
        while out.len() < descs.len() {
            b.run_until_idle(10_000_000);
            let got = self.reap(b);
            assert!(
                !got.is_empty() || b.card.busy.val(),
                "card idle with jobs outstanding"
            );
            out.extend(got);
        }
        out
    }
}

/// Test data: a xorshift stream of `len` bytes from `seed`.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A descriptor for `op` on `slot`, every other field zero.
pub fn desc(op: Opcode, slot: u16) -> Descriptor {
    Descriptor {
        version: DESCRIPTOR_VERSION,
        opcode: op as u8,
        key_slot: slot,
        ..Descriptor::default()
    }
}

/// Runs one job that passes the host's checks (test mode) and returns its
/// completion.
pub fn run1(b: &mut Bench, r: &mut Rings, d: Descriptor) -> Completion {
    assert_eq!(d.precheck(true), None, "{d:?}");
    r.run(b, &[d])[0]
}

/// Where the auth helpers put a PIN.
pub const PIN_ADDR: u64 = DATA_ADDR + 0x200;

/// CARD_INIT with card label `label`, the security officer's PIN `pin` and
/// failure limit `limit` (0: the default).
pub fn card_init(b: &mut Bench, r: &mut Rings, label: &str, pin: &[u8], limit: u8) -> Completion {
    put_label(b, label);
    b.put(PIN_ADDR, pin);
    let mut d = desc(Opcode::CardInit, 0);
    d.src_addr = PIN_ADDR;
    d.src_len = pin.len() as u32;
    d.aux_addr = LABEL_ADDR;
    d.aux_len = 32;
    d.params[0] = limit;
    run1(b, r, d)
}

/// A LOGIN or SET_PIN job for `role` with `pin`.
pub fn pin_job(b: &mut Bench, r: &mut Rings, op: Opcode, role: Role, pin: &[u8]) -> Completion {
    // Whatever follows the PIN in memory is not part of it.
    let mut m = pin.to_vec();
    m.extend_from_slice(&[0xa5; 64]);
    b.put(PIN_ADDR, &m);
    let mut d = desc(op, 0);
    d.src_addr = PIN_ADDR;
    d.src_len = pin.len() as u32;
    d.params[0] = role as u8;
    run1(b, r, d)
}

/// LOGIN as `role`.
pub fn login(b: &mut Bench, r: &mut Rings, role: Role, pin: &[u8]) -> Completion {
    pin_job(b, r, Opcode::Login, role, pin)
}

/// SET_PIN of `role`.
pub fn set_pin(b: &mut Bench, r: &mut Rings, role: Role, pin: &[u8]) -> Completion {
    pin_job(b, r, Opcode::SetPin, role, pin)
}

/// Writes `label`, zero-padded to 32 bytes, at [`LABEL_ADDR`].
pub fn put_label(b: &mut Bench, label: &str) {
    let mut l = [0u8; 32];
    l[..label.len()].copy_from_slice(label.as_bytes());
    b.put(LABEL_ADDR, &l);
}

/// A descriptor `op` (KEY_GENERATE or KEY_LOAD) for an `alg` key in
/// `slot`, policy ENCRYPT and DECRYPT, with `label` written at
/// [`LABEL_ADDR`] as its `aux`.
fn labelled(b: &mut Bench, op: Opcode, slot: u16, alg: KeyAlg, label: &str) -> Descriptor {
    put_label(b, label);
    let mut d = desc(op, slot);
    d.aux_addr = LABEL_ADDR;
    d.aux_len = 32;
    d.params = KeyLoadParams {
        alg: alg as u8,
        policy: policy::ENCRYPT | policy::DECRYPT,
    }
    .to_bytes();
    d
}

/// KEY_GENERATE of an `alg` key into `slot`, labelled `label`, policy
/// ENCRYPT and DECRYPT (a descriptor any mode accepts); its completion.
pub fn key_generate(
    b: &mut Bench,
    r: &mut Rings,
    slot: u16,
    alg: KeyAlg,
    label: &str,
) -> Completion {
    let d = labelled(b, Opcode::KeyGenerate, slot, alg, label);
    assert_eq!(d.precheck(false), None, "operational mode accepts {d:?}");
    r.run(b, &[d])[0]
}

/// KEY_LOAD (test mode) of `key` as `alg` into `slot`, labelled `label`,
/// policy ENCRYPT and DECRYPT; its completion.
pub fn load_key(
    b: &mut Bench,
    r: &mut Rings,
    slot: u16,
    alg: KeyAlg,
    key: &[u8],
    label: &str,
) -> Completion {
    b.put(KEY_ADDR, key);
    let mut d = labelled(b, Opcode::KeyLoad, slot, alg, label);
    d.src_addr = KEY_ADDR;
    d.src_len = key.len() as u32;
    r.run(b, &[d])[0]
}

/// The record SLOT_INFO writes for `slot` (the job must succeed).
pub fn slot_info(b: &mut Bench, r: &mut Rings, slot: u16) -> SlotRecord {
    let mut d = desc(Opcode::SlotInfo, slot);
    d.dst_addr = DST_ADDR;
    d.dst_len = 64;
    assert_eq!(run1(b, r, d).status(), Some(hsm_contract::Status::Ok));
    SlotRecord::from_bytes(&b.get(DST_ADDR, 64).try_into().unwrap())
}
