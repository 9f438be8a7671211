//! Descriptor and completion layouts.
//!
//! Both are fixed-size, little-endian structures in host memory. A
//! submission descriptor is [`crate::DESCRIPTOR_BYTES`] (64) bytes; a
//! completion entry is [`crate::COMPLETION_BYTES`] (16) bytes, which the card
//! writes in one 16-byte DMA beat, so a host never sees half of one. Each
//! carries its layout version.
//!
//! The tables [`DESCRIPTOR_FIELDS`] and [`COMPLETION_FIELDS`] are the
//! definition; [`Descriptor`] and [`Completion`] encode and decode through
//! them, and the RTL's decoders take their offsets from them.

use crate::{Opcode, COMPLETION_BYTES, COMPLETION_VERSION, DESCRIPTOR_BYTES, DESCRIPTOR_VERSION};

/// One field of a fixed layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayoutField {
    /// Field name, lower case.
    pub name: &'static str,
    /// Byte offset from the start of the structure.
    pub offset: usize,
    /// Size in bytes (1, 2, 4, 8 or 16).
    pub size: usize,
    /// What it holds.
    pub summary: &'static str,
}

impl LayoutField {
    /// Bit offset of the field in the structure read as one little-endian
    /// integer (how the RTL sees a descriptor).
    pub const fn bit_offset(&self) -> usize {
        self.offset * 8
    }

    /// Width of the field in bits.
    pub const fn bits(&self) -> usize {
        self.size * 8
    }

    fn read(&self, bytes: &[u8]) -> u128 {
        let mut v = [0u8; 16];
        v[..self.size].copy_from_slice(&bytes[self.offset..self.offset + self.size]);
        u128::from_le_bytes(v)
    }

    fn write(&self, bytes: &mut [u8], value: u128) {
        bytes[self.offset..self.offset + self.size]
            .copy_from_slice(&value.to_le_bytes()[..self.size]);
    }
}

const fn lf(name: &'static str, offset: usize, size: usize, summary: &'static str) -> LayoutField {
    LayoutField {
        name,
        offset,
        size,
        summary,
    }
}

/// Descriptor fields, by name.
pub mod desc {
    use super::{lf, LayoutField};
    /// Layout version, [`crate::DESCRIPTOR_VERSION`].
    pub const VERSION: LayoutField = lf("version", 0, 1, "descriptor layout version (1)");
    /// Operation code.
    pub const OPCODE: LayoutField = lf("opcode", 1, 1, "operation code");
    /// Flags; none are defined yet.
    pub const FLAGS: LayoutField = lf("flags", 2, 2, "flags; none defined, must be zero");
    /// Host tag, returned in the completion.
    pub const JOB_ID: LayoutField = lf(
        "job_id",
        4,
        4,
        "host's tag for the job, returned in its completion",
    );
    /// Input address.
    pub const SRC_ADDR: LayoutField = lf("src_addr", 8, 8, "bus address (IOVA) of the input");
    /// Output address.
    pub const DST_ADDR: LayoutField = lf("dst_addr", 16, 8, "bus address (IOVA) of the output");
    /// Input length.
    pub const SRC_LEN: LayoutField = lf("src_len", 24, 4, "input length in bytes");
    /// Output capacity.
    pub const DST_LEN: LayoutField = lf("dst_len", 28, 4, "output buffer capacity in bytes");
    /// Auxiliary input address.
    pub const AUX_ADDR: LayoutField = lf(
        "aux_addr",
        32,
        8,
        "bus address of auxiliary input (IV, AAD, ...; operation-specific)",
    );
    /// Auxiliary input length.
    pub const AUX_LEN: LayoutField = lf("aux_len", 40, 4, "auxiliary input length in bytes");
    /// Key slot.
    pub const KEY_SLOT: LayoutField = lf("key_slot", 44, 2, "key slot index (operation-specific)");
    /// Reserved.
    pub const RESERVED0: LayoutField = lf("reserved0", 46, 2, "reserved, must be zero");
    /// Operation-specific parameters.
    pub const PARAMS: LayoutField = lf("params", 48, 16, "operation-specific parameters");
}

/// Every descriptor field, in offset order.
pub const DESCRIPTOR_FIELDS: &[LayoutField] = &[
    desc::VERSION,
    desc::OPCODE,
    desc::FLAGS,
    desc::JOB_ID,
    desc::SRC_ADDR,
    desc::DST_ADDR,
    desc::SRC_LEN,
    desc::DST_LEN,
    desc::AUX_ADDR,
    desc::AUX_LEN,
    desc::KEY_SLOT,
    desc::RESERVED0,
    desc::PARAMS,
];

/// Completion fields, by name.
pub mod cqe {
    use super::{lf, LayoutField};
    /// The job's host tag.
    pub const JOB_ID: LayoutField = lf("job_id", 0, 4, "job_id of the descriptor");
    /// Output length.
    pub const OUT_LEN: LayoutField =
        lf("out_len", 4, 4, "bytes written to the output (0 on error)");
    /// Cycles the job took.
    pub const CYCLES: LayoutField = lf(
        "cycles",
        8,
        4,
        "card cycles from the descriptor's arrival to the completion write (saturates)",
    );
    /// Status code.
    pub const STATUS: LayoutField = lf("status", 12, 2, "status code");
    /// Layout version.
    pub const VERSION: LayoutField = lf("version", 14, 1, "completion layout version (1)");
    /// Flags; bit 0 is the phase.
    pub const FLAGS: LayoutField = lf(
        "flags",
        15,
        1,
        "bit 0: phase, which the card inverts on each pass through the ring (1 on the first pass)",
    );
}

/// Every completion field, in offset order.
pub const COMPLETION_FIELDS: &[LayoutField] = &[
    cqe::JOB_ID,
    cqe::OUT_LEN,
    cqe::CYCLES,
    cqe::STATUS,
    cqe::VERSION,
    cqe::FLAGS,
];

/// A submission descriptor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Descriptor {
    /// Layout version.
    pub version: u8,
    /// Raw operation code (see [`Opcode`]).
    pub opcode: u8,
    /// Flags.
    pub flags: u16,
    /// Host tag.
    pub job_id: u32,
    /// Input bus address.
    pub src_addr: u64,
    /// Output bus address.
    pub dst_addr: u64,
    /// Input length.
    pub src_len: u32,
    /// Output capacity.
    pub dst_len: u32,
    /// Auxiliary input bus address.
    pub aux_addr: u64,
    /// Auxiliary input length.
    pub aux_len: u32,
    /// Key slot.
    pub key_slot: u16,
    /// Reserved.
    pub reserved0: u16,
    /// Operation parameters.
    pub params: [u8; 16],
}

/// Why a byte string is not a well-formed descriptor of this contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DescriptorError {
    /// The version byte is not [`DESCRIPTOR_VERSION`].
    Version(u8),
    /// The opcode is unknown.
    Opcode(u8),
}

impl Descriptor {
    /// A NOP descriptor with the given tag.
    pub fn nop(job_id: u32) -> Descriptor {
        Descriptor {
            version: DESCRIPTOR_VERSION,
            opcode: Opcode::Nop as u8,
            job_id,
            ..Descriptor::default()
        }
    }

    /// A COPY descriptor.
    pub fn copy(
        job_id: u32,
        src_addr: u64,
        src_len: u32,
        dst_addr: u64,
        dst_len: u32,
    ) -> Descriptor {
        Descriptor {
            version: DESCRIPTOR_VERSION,
            opcode: Opcode::Copy as u8,
            job_id,
            src_addr,
            src_len,
            dst_addr,
            dst_len,
            ..Descriptor::default()
        }
    }

    /// Encode into the wire layout.
    pub fn to_bytes(&self) -> [u8; DESCRIPTOR_BYTES] {
        let mut b = [0u8; DESCRIPTOR_BYTES];
        desc::VERSION.write(&mut b, self.version.into());
        desc::OPCODE.write(&mut b, self.opcode.into());
        desc::FLAGS.write(&mut b, self.flags.into());
        desc::JOB_ID.write(&mut b, self.job_id.into());
        desc::SRC_ADDR.write(&mut b, self.src_addr.into());
        desc::DST_ADDR.write(&mut b, self.dst_addr.into());
        desc::SRC_LEN.write(&mut b, self.src_len.into());
        desc::DST_LEN.write(&mut b, self.dst_len.into());
        desc::AUX_ADDR.write(&mut b, self.aux_addr.into());
        desc::AUX_LEN.write(&mut b, self.aux_len.into());
        desc::KEY_SLOT.write(&mut b, self.key_slot.into());
        desc::RESERVED0.write(&mut b, self.reserved0.into());
        desc::PARAMS.write(&mut b, u128::from_le_bytes(self.params));
        b
    }

    /// Decode from the wire layout. Any byte pattern decodes; use
    /// [`Descriptor::check`] to see whether the card would accept it.
    pub fn from_bytes(b: &[u8; DESCRIPTOR_BYTES]) -> Descriptor {
        Descriptor {
            version: desc::VERSION.read(b) as u8,
            opcode: desc::OPCODE.read(b) as u8,
            flags: desc::FLAGS.read(b) as u16,
            job_id: desc::JOB_ID.read(b) as u32,
            src_addr: desc::SRC_ADDR.read(b) as u64,
            dst_addr: desc::DST_ADDR.read(b) as u64,
            src_len: desc::SRC_LEN.read(b) as u32,
            dst_len: desc::DST_LEN.read(b) as u32,
            aux_addr: desc::AUX_ADDR.read(b) as u64,
            aux_len: desc::AUX_LEN.read(b) as u32,
            key_slot: desc::KEY_SLOT.read(b) as u16,
            reserved0: desc::RESERVED0.read(b) as u16,
            params: (desc::PARAMS.read(b)).to_le_bytes(),
        }
    }

    /// Whether this is an ML-KEM KeyGen or Encaps job that carries its
    /// randomness in `src` (d || z, or m after ek) instead of taking it
    /// from the card's DRBG; only test mode accepts it.
    pub fn kem_host_randomness(&self) -> bool {
        let set = crate::kem::KemParams::from_bytes(&self.params)
            .and_then(|p| crate::kem::KemSet::from_alg(p.alg));
        match (Opcode::from_u8(self.opcode), set) {
            (Some(Opcode::KemKeygen), _) => self.src_len != 0,
            (Some(Opcode::KemEncaps), Some(set)) => self.src_len != set.ek_bytes(),
            _ => false,
        }
    }

    /// The status the card gives this descriptor from the descriptor alone
    /// (`test_mode`: whether the card runs in test mode): the reference for
    /// the RTL's checks, in the order the card applies them. `None` means
    /// the descriptor passes; the card then checks the key slot's state
    /// (empty or occupied, algorithm, policy), for KEY_LOAD the key, and for
    /// a PARTIAL hash job that `src_len` is a multiple of the rate.
    pub fn precheck(&self, test_mode: bool) -> Option<crate::Status> {
        use crate::crypto::{
            GcmParams, KeyAlg, KeyLoadParams, KEY_SLOTS, LABEL_BYTES, MAX_IV_BYTES,
            SLOT_RECORD_BYTES,
        };
        use crate::Status;
        if self.version != DESCRIPTOR_VERSION {
            return Some(Status::BadVersion);
        }
        let Some(op) = Opcode::from_u8(self.opcode) else {
            return Some(Status::BadOpcode);
        };
        // 1. Fields the operation does not use, and reserved bits.
        let used = op.fields_used();
        let xts = matches!(op, Opcode::AesXtsEncrypt | Opcode::AesXtsDecrypt);
        let hash = crate::hash::HashAlg::from_opcode(op);
        // XTS jobs use the low flag bits (pad bits) and hash jobs their two
        // flags; every other flag is reserved.
        let kem = matches!(
            op,
            Opcode::KemKeygen | Opcode::KemEncaps | Opcode::KemDecaps
        );
        let flags = if xts {
            self.flags & !crate::crypto::XTS_PAD_BITS_MASK
        } else if kem {
            self.flags & !crate::kem::flags::ALL
        } else if hash.is_some() {
            self.flags & !crate::hash::flags::ALL
        } else {
            self.flags
        };
        let values: [(&LayoutField, u128); 9] = [
            (&desc::FLAGS, flags.into()),
            (&desc::SRC_ADDR, self.src_addr.into()),
            (&desc::DST_ADDR, self.dst_addr.into()),
            (&desc::SRC_LEN, self.src_len.into()),
            (&desc::DST_LEN, self.dst_len.into()),
            (&desc::AUX_ADDR, self.aux_addr.into()),
            (&desc::AUX_LEN, self.aux_len.into()),
            (&desc::KEY_SLOT, self.key_slot.into()),
            (&desc::RESERVED0, self.reserved0.into()),
        ];
        let params_used = used.contains(&desc::PARAMS.name);
        if (!params_used && self.params != [0; 16])
            || values
                .iter()
                .any(|(f, v)| *v != 0 && (!used.contains(&f.name) || f.name == desc::FLAGS.name))
        {
            return Some(Status::ReservedField);
        }
        let gcm = matches!(op, Opcode::AesGcmEncrypt | Opcode::AesGcmDecrypt);
        let decrypt = op == Opcode::AesGcmDecrypt;
        let gp = GcmParams::from_bytes(&self.params);
        let kp = KeyLoadParams::from_bytes(&self.params);
        if gcm {
            match gp {
                Some(p) if p.flags & !GcmParams::CARD_IV == 0 => {}
                _ => return Some(Status::ReservedField),
            }
        }
        if matches!(op, Opcode::KeyLoad | Opcode::KeyGenerate) {
            match kp {
                Some(p) if p.policy & !crate::crypto::policy::ALL == 0 => {}
                _ => return Some(Status::ReservedField),
            }
        }
        let kem_p = crate::kem::KemParams::from_bytes(&self.params);
        let expose = kem && self.flags & crate::kem::flags::EXPOSE != 0;
        if kem {
            match kem_p {
                Some(p) if p.policy_ok() => {
                    // KeyGen names no target; with EXPOSE, Encaps and
                    // Decaps create no slot (no label, policy or target).
                    let unused = if op == Opcode::KemKeygen {
                        p.target != 0
                    } else {
                        expose
                            && (p.policy != 0
                                || p.target != 0
                                || self.aux_addr != 0
                                || self.aux_len != 0)
                    };
                    if unused {
                        return Some(Status::ReservedField);
                    }
                }
                _ => return Some(Status::ReservedField),
            }
        }
        // Auth jobs use params byte 0 only.
        let auth_params = matches!(op, Opcode::CardInit | Opcode::Login | Opcode::SetPin);
        if auth_params && self.params[1..].iter().any(|&b| b != 0) {
            return Some(Status::ReservedField);
        }
        // 2. Lengths over the limit.
        let too_large = |n: u32| n > crate::MAX_JOB_BYTES;
        match op {
            Opcode::Copy | Opcode::AesXtsEncrypt | Opcode::AesXtsDecrypt
                if too_large(self.src_len) =>
            {
                return Some(Status::LengthTooLarge)
            }
            _ if gcm && (too_large(self.src_len) || too_large(gp.map_or(0, |p| p.aad_len))) => {
                return Some(Status::LengthTooLarge)
            }
            Opcode::RngGenerate if too_large(self.dst_len) => return Some(Status::LengthTooLarge),
            _ if hash.is_some()
                && (too_large(self.src_len)
                    || (hash.and_then(|a| a.digest_bytes()).is_none()
                        && self.flags & crate::hash::flags::PARTIAL == 0
                        && too_large(self.dst_len))) =>
            {
                return Some(Status::LengthTooLarge)
            }
            _ => {}
        }
        // 3. Alignment: every address a crypto or key job uses.
        if !matches!(op, Opcode::Nop | Opcode::Copy | Opcode::CardZeroize)
            && !(self.src_addr | self.dst_addr | self.aux_addr).is_multiple_of(16)
        {
            return Some(Status::Misaligned);
        }
        // 4. The operation's layout.
        match op {
            _ if gcm => {
                let p = gp.expect("checked above");
                let card_iv = p.flags & GcmParams::CARD_IV != 0;
                let iv_ok = if card_iv {
                    !decrypt && p.iv_len == 0
                } else {
                    (1..=MAX_IV_BYTES as u16).contains(&p.iv_len)
                };
                if !iv_ok {
                    return Some(Status::BadIvLength);
                }
                if !(4..=16).contains(&p.tag_len) {
                    return Some(Status::BadTagLength);
                }
                if self.aux_len as u64 != p.aux_len(decrypt) {
                    return Some(Status::BadLength);
                }
            }
            Opcode::AesXtsEncrypt | Opcode::AesXtsDecrypt
                if (self.src_len as u64) * 8
                    < 128 + (self.flags & crate::crypto::XTS_PAD_BITS_MASK) as u64 =>
            {
                return Some(Status::BadLength)
            }
            _ if hash.is_some() => {
                let resume = self.flags & crate::hash::flags::RESUME != 0;
                let want = if resume {
                    crate::hash::SPONGE_STATE_BYTES
                } else {
                    0
                };
                if self.aux_len != want {
                    return Some(Status::BadLength);
                }
            }
            _ if kem => {
                let p = kem_p.expect("checked above");
                let Some(set) = crate::kem::KemSet::from_alg(p.alg) else {
                    return Some(Status::BadAlgorithm);
                };
                // KeyGen and Encaps take their randomness from the card's
                // DRBG, or (test mode) from the end of `src`.
                let (src, host) = match op {
                    Opcode::KemKeygen => (0, crate::kem::SEED_BYTES),
                    Opcode::KemEncaps => (set.ek_bytes(), set.ek_bytes() + crate::kem::M_BYTES),
                    _ => (set.ct_bytes(), set.ct_bytes()),
                };
                let label = if expose && op != Opcode::KemKeygen {
                    0
                } else {
                    LABEL_BYTES as u32
                };
                if (self.src_len != src && self.src_len != host) || self.aux_len != label {
                    return Some(Status::BadLength);
                }
            }
            Opcode::Login | Opcode::SetPin
                if crate::auth::Role::from_u8(self.params[0]).is_none() =>
            {
                return Some(Status::BadRole)
            }
            Opcode::CardInit | Opcode::Login | Opcode::SetPin
                if !(crate::auth::PIN_MIN_BYTES..=crate::auth::PIN_MAX_BYTES)
                    .contains(&self.src_len)
                    || (op == Opcode::CardInit
                        && self.aux_len as usize != crate::auth::CARD_LABEL_BYTES) =>
            {
                return Some(Status::BadLength)
            }
            Opcode::KeyLoad | Opcode::KeyGenerate => {
                let p = kp.expect("checked above");
                match KeyAlg::from_u8(p.alg) {
                    None | Some(KeyAlg::Empty) => return Some(Status::BadAlgorithm),
                    Some(a) if !a.loadable() => return Some(Status::BadAlgorithm),
                    // KEY_GENERATE reads no src (its src_len is zero, checked above).
                    Some(a) if op == Opcode::KeyLoad && a.key_bytes() != self.src_len as usize => {
                        return Some(Status::BadLength)
                    }
                    _ => {}
                }
                if self.aux_len as usize != LABEL_BYTES {
                    return Some(Status::BadLength);
                }
            }
            _ => {}
        }
        // 5. Output capacity.
        let need = match op {
            Opcode::Copy | Opcode::AesXtsEncrypt | Opcode::AesXtsDecrypt => self.src_len as u64,
            _ if gcm => gp
                .expect("checked above")
                .dst_len(self.src_len as u64, decrypt),
            Opcode::SlotInfo => SLOT_RECORD_BYTES as u64,
            Opcode::CardInfo => crate::auth::AUTH_INFO_BYTES as u64,
            _ if kem => {
                let set = kem_p
                    .and_then(|p| crate::kem::KemSet::from_alg(p.alg))
                    .expect("checked above");
                let (out, extra) = match op {
                    Opcode::KemKeygen => (set.ek_bytes(), set.dk_pke_bytes()),
                    Opcode::KemEncaps => (set.ct_bytes(), crate::kem::SHARED_SECRET_BYTES),
                    _ => (0, crate::kem::SHARED_SECRET_BYTES),
                };
                (out + if expose { extra } else { 0 }) as u64
            }
            _ if self.flags & crate::hash::flags::PARTIAL != 0 && hash.is_some() => {
                crate::hash::SPONGE_STATE_BYTES as u64
            }
            _ => hash.and_then(|a| a.digest_bytes()).unwrap_or(0) as u64,
        };
        if (self.dst_len as u64) < need {
            return Some(Status::OutputTooSmall);
        }
        // 6. What only test mode allows.
        if !test_mode {
            if op == Opcode::KeyLoad || expose || self.kem_host_randomness() {
                return Some(Status::NotTestMode);
            }
            if gcm {
                let p = gp.expect("checked above");
                if op == Opcode::AesGcmEncrypt && p.flags & GcmParams::CARD_IV == 0 {
                    return Some(Status::NotTestMode);
                }
                if p.tag_len != 16 {
                    return Some(Status::BadTagLength);
                }
            }
        }
        // 7. The slot index.
        if !matches!(op, Opcode::Nop | Opcode::Copy | Opcode::CardZeroize)
            && self.key_slot as u32 >= KEY_SLOTS
        {
            return Some(Status::BadSlot);
        }
        if kem && kem_p.is_some_and(|p| p.target as u32 >= KEY_SLOTS) {
            return Some(Status::BadSlot);
        }
        None
    }
}

/// A completion entry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Completion {
    /// The job's host tag.
    pub job_id: u32,
    /// Bytes written to the output.
    pub out_len: u32,
    /// Card cycles the job took.
    pub cycles: u32,
    /// Raw status code (see [`crate::Status`]).
    pub status: u16,
    /// Layout version.
    pub version: u8,
    /// Flags; bit 0 is the phase.
    pub flags: u8,
}

impl Completion {
    /// Bit 0 of `flags`: the phase.
    pub const PHASE: u8 = 1;

    /// The phase bit.
    pub fn phase(&self) -> bool {
        self.flags & Self::PHASE != 0
    }

    /// The status, if this contract defines it.
    pub fn status(&self) -> Option<crate::Status> {
        crate::Status::from_u16(self.status)
    }

    /// Decode from the wire layout.
    pub fn from_bytes(b: &[u8; COMPLETION_BYTES]) -> Completion {
        Completion {
            job_id: cqe::JOB_ID.read(b) as u32,
            out_len: cqe::OUT_LEN.read(b) as u32,
            cycles: cqe::CYCLES.read(b) as u32,
            status: cqe::STATUS.read(b) as u16,
            version: cqe::VERSION.read(b) as u8,
            flags: cqe::FLAGS.read(b) as u8,
        }
    }

    /// Encode into the wire layout.
    pub fn to_bytes(&self) -> [u8; COMPLETION_BYTES] {
        let mut b = [0u8; COMPLETION_BYTES];
        cqe::JOB_ID.write(&mut b, self.job_id.into());
        cqe::OUT_LEN.write(&mut b, self.out_len.into());
        cqe::CYCLES.write(&mut b, self.cycles.into());
        cqe::STATUS.write(&mut b, self.status.into());
        cqe::VERSION.write(&mut b, self.version.into());
        cqe::FLAGS.write(&mut b, self.flags.into());
        b
    }

    /// Whether `version` is the one this contract defines.
    pub fn version_ok(&self) -> bool {
        self.version == COMPLETION_VERSION
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Status;

    fn check_table(fields: &[LayoutField], total: usize) {
        let mut next = 0;
        for f in fields {
            assert_eq!(f.offset, next, "gap or overlap before {}", f.name);
            assert_eq!(f.offset % f.size, 0, "{} is not naturally aligned", f.name);
            next = f.offset + f.size;
        }
        assert_eq!(next, total);
    }

    #[test]
    fn tables_cover_the_structures_exactly() {
        check_table(DESCRIPTOR_FIELDS, DESCRIPTOR_BYTES);
        check_table(COMPLETION_FIELDS, COMPLETION_BYTES);
    }

    #[test]
    fn descriptor_round_trips_and_is_little_endian() {
        let mut d = Descriptor::copy(0x0403_0201, 0x1122_3344_5566_7788, 7, 0x99, 9);
        d.params[15] = 0xee;
        let b = d.to_bytes();
        assert_eq!(&b[4..8], &[1, 2, 3, 4]);
        assert_eq!(b[8], 0x88);
        assert_eq!(b[63], 0xee);
        assert_eq!(Descriptor::from_bytes(&b), d);
    }

    #[test]
    fn completion_round_trips() {
        let c = Completion {
            job_id: 7,
            out_len: 8,
            cycles: 9,
            status: Status::DmaReadError as u16,
            version: COMPLETION_VERSION,
            flags: Completion::PHASE,
        };
        let b = c.to_bytes();
        assert_eq!(b[15], 1);
        assert_eq!(Completion::from_bytes(&b), c);
        assert!(c.phase());
        assert_eq!(c.status(), Some(Status::DmaReadError));
    }

    #[test]
    fn precheck_classes() {
        assert_eq!(Descriptor::nop(1).precheck(true), None);
        assert_eq!(Descriptor::copy(1, 0, 10, 0, 10).precheck(true), None);
        let mut d = Descriptor::nop(1);
        d.version = 2;
        assert_eq!(d.precheck(true), Some(Status::BadVersion));
        let mut d = Descriptor::nop(1);
        d.opcode = 0x7f;
        assert_eq!(d.precheck(true), Some(Status::BadOpcode));
        let mut d = Descriptor::nop(1);
        d.src_len = 1;
        assert_eq!(d.precheck(true), Some(Status::ReservedField));
        let mut d = Descriptor::copy(1, 0, 10, 0, 10);
        d.key_slot = 1;
        assert_eq!(d.precheck(true), Some(Status::ReservedField));
        let mut d = Descriptor::copy(1, 0, 10, 0, 10);
        d.params[3] = 1;
        assert_eq!(d.precheck(true), Some(Status::ReservedField));
        let d = Descriptor::copy(1, 0, crate::MAX_JOB_BYTES + 1, 0, u32::MAX);
        assert_eq!(d.precheck(true), Some(Status::LengthTooLarge));
        let d = Descriptor::copy(1, 0, 10, 0, 9);
        assert_eq!(d.precheck(true), Some(Status::OutputTooSmall));
        // XTS: flags[2:0] are pad bits, the rest reserved; a unit is >= 128 bits.
        let xts = |flags: u16, len: u32| Descriptor {
            version: DESCRIPTOR_VERSION,
            opcode: Opcode::AesXtsEncrypt as u8,
            flags,
            src_len: len,
            dst_len: len,
            ..Descriptor::default()
        };
        assert_eq!(xts(6, 32).precheck(true), None);
        assert_eq!(xts(64, 32).precheck(true), Some(Status::ReservedField));
        assert_eq!(xts(1, 16).precheck(true), Some(Status::BadLength));
        assert_eq!(xts(0, 16).precheck(true), None);
    }

    #[test]
    fn precheck_kem_jobs() {
        use crate::crypto::{policy, KeyAlg};
        use crate::kem::{flags, KemParams, KemSet};
        let set = KemSet::MlKem768;
        let kem = |op: Opcode, fl: u16, src_len: u32, dst_len: u32, aux_len: u32, p: KemParams| {
            Descriptor {
                version: DESCRIPTOR_VERSION,
                opcode: op as u8,
                flags: fl,
                src_len,
                dst_len,
                aux_len,
                key_slot: 3,
                params: p.to_bytes(),
                ..Descriptor::default()
            }
        };
        let p = KemParams {
            alg: set.key_alg() as u8,
            policy: policy::DERIVE,
            target: 0,
        };
        let t = KemParams { target: 5, ..p };
        let kg = kem(Opcode::KemKeygen, 0, 64, set.ek_bytes(), 32, p);
        assert_eq!(kg.precheck(true), None);
        assert_eq!(kg.precheck(false), Some(Status::NotTestMode));
        let mut d = kg;
        d.src_len = 32;
        assert_eq!(d.precheck(true), Some(Status::BadLength));
        let mut d = kg;
        d.dst_len -= 16;
        assert_eq!(d.precheck(true), Some(Status::OutputTooSmall));
        let mut d = kg;
        d.flags = flags::EXPOSE;
        assert_eq!(d.precheck(true), Some(Status::OutputTooSmall));
        d.dst_len += set.dk_pke_bytes();
        assert_eq!(d.precheck(true), None);
        let mut d = kg;
        d.params = KemParams { target: 1, ..p }.to_bytes();
        assert_eq!(d.precheck(true), Some(Status::ReservedField));
        let mut d = kg;
        d.params = KemParams {
            alg: KeyAlg::Aes256 as u8,
            ..p
        }
        .to_bytes();
        assert_eq!(d.precheck(true), Some(Status::BadAlgorithm));
        // Encaps names no key slot; the target must exist.
        let mut en = kem(
            Opcode::KemEncaps,
            0,
            set.ek_bytes() + 32,
            set.ct_bytes(),
            32,
            t,
        );
        en.key_slot = 0;
        assert_eq!(en.precheck(true), None);
        let mut d = en;
        d.key_slot = 1;
        assert_eq!(d.precheck(true), Some(Status::ReservedField));
        let mut d = en;
        d.params = KemParams { target: 64, ..p }.to_bytes();
        assert_eq!(d.precheck(true), Some(Status::BadSlot));
        // EXPOSE: no label, policy or target; K after the ciphertext.
        let x = KemParams { policy: 0, ..p };
        let mut d = kem(
            Opcode::KemEncaps,
            flags::EXPOSE,
            set.ek_bytes() + 32,
            set.ct_bytes() + 32,
            0,
            x,
        );
        d.key_slot = 0;
        assert_eq!(d.precheck(true), None);
        assert_eq!(d.precheck(false), Some(Status::NotTestMode));
        d.aux_len = 32;
        assert_eq!(d.precheck(true), Some(Status::ReservedField));
        // Decaps runs outside test mode.
        let de = kem(Opcode::KemDecaps, 0, set.ct_bytes(), 0, 32, t);
        assert_eq!(de.precheck(false), None);
        let mut d = de;
        d.src_len += 16;
        assert_eq!(d.precheck(false), Some(Status::BadLength));
        let mut d = de;
        d.flags = 2;
        assert_eq!(d.precheck(false), Some(Status::ReservedField));
        let mut d = kem(Opcode::KemDecaps, flags::EXPOSE, set.ct_bytes(), 32, 0, x);
        assert_eq!(d.precheck(true), None);
        assert_eq!(d.precheck(false), Some(Status::NotTestMode));
        d.key_slot = 64;
        assert_eq!(d.precheck(true), Some(Status::BadSlot));
        // ML-KEM keys do not enter by KEY_LOAD.
        let kl = Descriptor {
            version: DESCRIPTOR_VERSION,
            opcode: Opcode::KeyLoad as u8,
            src_len: 64,
            aux_len: 32,
            params: crate::crypto::KeyLoadParams {
                alg: KeyAlg::MlKem512 as u8,
                policy: 0,
            }
            .to_bytes(),
            ..Descriptor::default()
        };
        assert_eq!(kl.precheck(true), Some(Status::BadAlgorithm));
    }
}
