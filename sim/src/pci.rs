//! The card's PCI configuration space and MSI-X table, as the vfio-user
//! server presents them.
//!
//! A real card's PCIe endpoint (the vendor shell) implements these; the RTL
//! never sees them. The layout: a type 0 header with the contract's vendor
//! and device ids, class "encryption controller", BAR0 (the card's registers,
//! [`hsm_contract::BAR0_SIZE`] bytes, 32-bit memory) and BAR2 (the MSI-X table
//! and pending-bit array, in a BAR of their own), and one capability: MSI-X
//! with [`hsm_contract::IRQ_VECTORS`] vectors.

/// Size of the configuration space presented (conventional PCI).
pub const CONFIG_SIZE: usize = 256;
/// Size of BAR2, which holds the MSI-X table and pending-bit array.
pub const MSIX_BAR_SIZE: usize = 4096;
/// Index of the BAR that holds the MSI-X structures.
pub const MSIX_BAR: u32 = 2;
/// Offset of the MSI-X table in its BAR.
pub const MSIX_TABLE_OFFSET: u32 = 0;
/// Offset of the MSI-X pending-bit array in its BAR.
pub const MSIX_PBA_OFFSET: u32 = 0x800;

const CAP_MSIX: usize = 0x40;
const CLASS_ENCRYPTION: u8 = 0x10;
const SUBCLASS_OTHER: u8 = 0x80;

/// An emulated configuration space: contents plus a mask of writable bits.
pub struct ConfigSpace {
    bytes: [u8; CONFIG_SIZE],
    writable: [u8; CONFIG_SIZE],
}

impl Default for ConfigSpace {
    fn default() -> Self {
        Self::new()
    }
}

impl ConfigSpace {
    /// The card's configuration space after reset.
    pub fn new() -> ConfigSpace {
        let mut c = ConfigSpace {
            bytes: [0; CONFIG_SIZE],
            writable: [0; CONFIG_SIZE],
        };
        c.put16(0x00, hsm_contract::PCI_VENDOR_ID);
        c.put16(0x02, hsm_contract::PCI_DEVICE_ID);
        // Command: I/O space, memory space, bus master, INTx disable.
        c.mask16(0x04, 0x0407);
        // Status: capabilities list present.
        c.put16(0x06, 0x0010);
        c.bytes[0x0a] = SUBCLASS_OTHER;
        c.bytes[0x0b] = CLASS_ENCRYPTION;
        c.bar(0, hsm_contract::BAR0_SIZE as u32);
        c.bar(MSIX_BAR as usize, MSIX_BAR_SIZE as u32);
        c.put16(0x2c, hsm_contract::PCI_VENDOR_ID);
        c.put16(0x2e, hsm_contract::PCI_DEVICE_ID);
        c.bytes[0x34] = CAP_MSIX as u8;
        // Interrupt line is scratch for software; no INTx pin.
        c.writable[0x3c] = 0xff;
        // MSI-X: id, next (none), message control (table size - 1; enable
        // and function mask writable), table and PBA offset/BIR.
        c.bytes[CAP_MSIX] = 0x11;
        c.put16(CAP_MSIX + 2, (hsm_contract::IRQ_VECTORS - 1) as u16);
        c.mask16(CAP_MSIX + 2, 0xc000);
        c.put32(CAP_MSIX + 4, MSIX_TABLE_OFFSET | MSIX_BAR);
        c.put32(CAP_MSIX + 8, MSIX_PBA_OFFSET | MSIX_BAR);
        c
    }

    fn put16(&mut self, offset: usize, value: u16) {
        self.bytes[offset..offset + 2].copy_from_slice(&value.to_le_bytes());
    }

    fn put32(&mut self, offset: usize, value: u32) {
        self.bytes[offset..offset + 4].copy_from_slice(&value.to_le_bytes());
    }

    fn mask16(&mut self, offset: usize, mask: u16) {
        self.writable[offset..offset + 2].copy_from_slice(&mask.to_le_bytes());
    }

    /// A 32-bit non-prefetchable memory BAR of `size` bytes (a power of two):
    /// the address bits above the size are writable, so software sizes it by
    /// writing all ones.
    fn bar(&mut self, index: usize, size: u32) {
        let offset = 0x10 + 4 * index;
        self.writable[offset..offset + 4].copy_from_slice(&(!(size - 1)).to_le_bytes());
    }

    /// Whether an access of `len` bytes at `offset` is inside the space and
    /// naturally aligned (accesses of more than 4 bytes need 4-byte
    /// alignment).
    fn valid(offset: u64, len: usize) -> bool {
        let end = offset.checked_add(len as u64);
        let aligned = match len {
            1 => true,
            2 => offset.is_multiple_of(2),
            0 => false,
            _ => offset.is_multiple_of(4) && len.is_multiple_of(4),
        };
        aligned && end.is_some_and(|end| end <= CONFIG_SIZE as u64)
    }

    /// Reads `data.len()` bytes at `offset`; false when out of range or
    /// misaligned.
    pub fn read(&self, offset: u64, data: &mut [u8]) -> bool {
        if !Self::valid(offset, data.len()) {
            return false;
        }
        let start = offset as usize;
        data.copy_from_slice(&self.bytes[start..start + data.len()]);
        true
    }

    /// Writes `data` at `offset`, changing only writable bits; false when out
    /// of range or misaligned.
    pub fn write(&mut self, offset: u64, data: &[u8]) -> bool {
        if !Self::valid(offset, data.len()) {
            return false;
        }
        let start = offset as usize;
        for (i, &value) in data.iter().enumerate() {
            let mask = self.writable[start + i];
            let old = self.bytes[start + i];
            self.bytes[start + i] = (old & !mask) | (value & mask);
        }
        true
    }

    /// Whether software has enabled MSI-X.
    pub fn msix_enabled(&self) -> bool {
        self.bytes[CAP_MSIX + 3] & 0x80 != 0
    }
}

/// The MSI-X table and pending-bit array (BAR2). The table is plain memory
/// for software (QEMU emulates MSI-X itself); the pending bits read as zero.
pub struct MsixBar {
    bytes: Vec<u8>,
}

impl Default for MsixBar {
    fn default() -> Self {
        Self::new()
    }
}

impl MsixBar {
    /// An MSI-X BAR with every vector masked, as after reset.
    pub fn new() -> MsixBar {
        let mut bytes = vec![0u8; MSIX_BAR_SIZE];
        for vector in 0..hsm_contract::IRQ_VECTORS as usize {
            // Vector control: bit 0 masks the vector.
            bytes[MSIX_TABLE_OFFSET as usize + 16 * vector + 12] = 1;
        }
        MsixBar { bytes }
    }

    fn valid(offset: u64, len: usize) -> bool {
        (len == 4 || len == 8)
            && offset.is_multiple_of(len as u64)
            && offset + len as u64 <= MSIX_BAR_SIZE as u64
    }

    /// Reads 4 or 8 aligned bytes; false otherwise.
    pub fn read(&self, offset: u64, data: &mut [u8]) -> bool {
        if !Self::valid(offset, data.len()) {
            return false;
        }
        let start = offset as usize;
        data.copy_from_slice(&self.bytes[start..start + data.len()]);
        true
    }

    /// Writes 4 or 8 aligned bytes of the table (writes to the pending-bit
    /// array are ignored); false when misaligned or out of range.
    pub fn write(&mut self, offset: u64, data: &[u8]) -> bool {
        if !Self::valid(offset, data.len()) {
            return false;
        }
        let start = offset as usize;
        if start < MSIX_PBA_OFFSET as usize {
            self.bytes[start..start + data.len()].copy_from_slice(data);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read32(c: &ConfigSpace, offset: u64) -> u32 {
        let mut b = [0u8; 4];
        assert!(c.read(offset, &mut b));
        u32::from_le_bytes(b)
    }

    #[test]
    fn ids_class_and_bar_sizing() {
        let mut c = ConfigSpace::new();
        let ids = read32(&c, 0);
        assert_eq!(ids & 0xffff, u32::from(hsm_contract::PCI_VENDOR_ID));
        assert_eq!(ids >> 16, u32::from(hsm_contract::PCI_DEVICE_ID));
        assert_eq!(read32(&c, 8) >> 24, u32::from(CLASS_ENCRYPTION));
        assert!(c.write(0x10, &u32::MAX.to_le_bytes()));
        let size = !read32(&c, 0x10) + 1;
        assert_eq!(u64::from(size), hsm_contract::BAR0_SIZE);
        // Read-only fields ignore writes.
        assert!(c.write(0, &0u32.to_le_bytes()));
        assert_eq!(read32(&c, 0), ids);
    }

    #[test]
    fn msix_capability() {
        let mut c = ConfigSpace::new();
        let head = usize::from({
            let mut b = [0u8; 1];
            assert!(c.read(0x34, &mut b));
            b[0]
        });
        let cap = read32(&c, head as u64);
        assert_eq!(cap & 0xff, 0x11);
        assert_eq!((cap >> 16) & 0x7ff, hsm_contract::IRQ_VECTORS - 1);
        assert!(!c.msix_enabled());
        assert!(c.write(head as u64 + 2, &0x8000u16.to_le_bytes()));
        assert!(c.msix_enabled());
        assert_eq!(read32(&c, head as u64 + 4) & 7, MSIX_BAR);
        // Misaligned accesses are refused.
        let mut b = [0u8; 4];
        assert!(!c.read(2, &mut b));
        assert!(!c.read(254, &mut b));
    }
}
