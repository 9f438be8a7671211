//! The kernel VFIO transport: a real card bound to `vfio-pci`.
//!
//! # Host set-up
//!
//! The driver runs in user space on top of the kernel's VFIO framework,
//! which gives a process safe access to a PCI device: its BARs, its
//! interrupts as eventfds, and DMA confined by the IOMMU to memory the
//! process mapped. Before `hsmctl --device vfio:0000:01:00.0 ...` works:
//!
//! 1. **IOMMU on.** Boot with `intel_iommu=on` (Intel; AMD enables it by
//!    default, `amd_iommu=on` otherwise) and check that
//!    `/sys/kernel/iommu_groups/` is not empty.
//! 2. **Bind the card to `vfio-pci`.** With the card at `0000:01:00.0`:
//!    ```text
//!    modprobe vfio-pci
//!    echo vfio-pci > /sys/bus/pci/devices/0000:01:00.0/driver_override
//!    echo 0000:01:00.0 > /sys/bus/pci/devices/0000:01:00.0/driver/unbind   # if bound
//!    echo 0000:01:00.0 > /sys/bus/pci/drivers_probe
//!    ```
//!    Every device in the card's IOMMU group
//!    (`/sys/bus/pci/devices/0000:01:00.0/iommu_group/devices/`) must be
//!    bound to `vfio-pci` or no driver, or the group is not viable.
//! 3. **Permissions.** The group's node `/dev/vfio/N` (N from the
//!    `iommu_group` link) must be readable and writable by the user, e.g.
//!    `chown hsm: /dev/vfio/N` or a udev rule; `/dev/vfio/vfio` is usually
//!    world-accessible.
//! 4. **Memlock limit.** DMA buffers are pinned and count against
//!    `RLIMIT_MEMLOCK`: raise it (`ulimit -l unlimited`, or `memlock` in
//!    `/etc/security/limits.conf`) to at least the rings plus the largest
//!    buffers in use (a few MiB for `hsmctl bench`).
//!
//! # What the transport does
//!
//! It resolves the card's IOMMU group from sysfs, opens a VFIO container
//! and the group (through `vfio-ioctls`), maps BAR0 from the device file
//! (or, when the region is not mmappable, reads and writes it with
//! `pread`/`pwrite`), wires MSI-X vector [`hsm_contract::IRQ_VECTOR_QUEUE`]
//! to an eventfd, and maps each DMA buffer into the container at an IOVA
//! from [`crate::IovaAllocator`]. Mappings are made only after the group has
//! joined the container (opening the device does that), each buffer is one
//! mapping that is unmapped exactly as it was mapped, and the number of
//! mappings is capped below the kernel's default limit of 65535 per
//! container; allocate larger buffers rather than many small ones.

use std::ffi::OsStr;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use vfio_bindings::bindings::vfio::{VFIO_PCI_MSIX_IRQ_INDEX, VFIO_REGION_INFO_FLAG_MMAP};
use vfio_ioctls::{VfioContainer, VfioDevice, VfioOps, VfioRegionInfoCap};

use crate::dma::{DmaBuffer, DmaMapper, HostMemory, IovaAllocator};
use crate::error::{Error, Result};
use crate::spec::PciAddress;
use crate::transport::{wait_irq_event, IrqEvent, Transport};

/// Most DMA mappings the transport keeps at once (the kernel's default
/// `dma_entry_limit` is 65535 per container; leave headroom).
pub const MAX_DMA_MAPPINGS: usize = 65000;

const BAR0_INDEX: u32 = 0;

/// Where sysfs and the VFIO device nodes live (replaced in tests).
#[derive(Clone, Debug)]
pub struct HostPaths {
    /// sysfs mount point, normally `/sys`.
    pub sysfs: PathBuf,
    /// VFIO device node directory, normally `/dev/vfio`.
    pub dev_vfio: PathBuf,
}

impl Default for HostPaths {
    fn default() -> Self {
        HostPaths {
            sysfs: "/sys".into(),
            dev_vfio: "/dev/vfio".into(),
        }
    }
}

/// What sysfs says about a PCI device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SysfsDevice {
    /// `SYSFS/bus/pci/devices/ADDR`.
    pub dir: PathBuf,
    /// The IOMMU group number.
    pub group: u32,
    /// `DEV_VFIO/N`, the group's device node.
    pub group_node: PathBuf,
    /// The bound driver's name, if any.
    pub driver: Option<String>,
}

fn vfio_err(
    addr: PciAddress,
    op: &str,
    hint: impl Into<String>,
    source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> Error {
    Error::Vfio {
        addr: addr.to_string(),
        op: op.into(),
        hint: hint.into(),
        source: source.into(),
    }
}

/// Find the card's sysfs directory, IOMMU group and driver, and check that
/// it is usable through VFIO: bound to `vfio-pci`, group node present.
///
/// # Errors
/// [`Error::Vfio`] saying which step of the host set-up (see the module
/// docs) is missing.
pub fn resolve(paths: &HostPaths, addr: PciAddress) -> Result<SysfsDevice> {
    let dir = paths.sysfs.join("bus/pci/devices").join(addr.to_string());
    if let Err(e) = std::fs::metadata(&dir) {
        return Err(vfio_err(
            addr,
            "looking up the device in sysfs",
            format!(
                "no PCI device at {}: check the address with `lspci -D`",
                dir.display()
            ),
            e,
        ));
    }
    let link = dir.join("iommu_group");
    let target = std::fs::read_link(&link).map_err(|e| {
        vfio_err(
            addr,
            "reading its IOMMU group",
            format!(
                "{} is missing: the IOMMU is off; boot with intel_iommu=on (or amd_iommu=on)",
                link.display()
            ),
            e,
        )
    })?;
    let group = target
        .file_name()
        .and_then(OsStr::to_str)
        .and_then(|s| s.parse::<u32>().ok())
        .ok_or_else(|| {
            vfio_err(
                addr,
                "reading its IOMMU group",
                format!(
                    "{} points to {}, not a group number",
                    link.display(),
                    target.display()
                ),
                "malformed iommu_group link",
            )
        })?;
    let driver = std::fs::read_link(dir.join("driver"))
        .ok()
        .and_then(|t| t.file_name().and_then(OsStr::to_str).map(String::from));
    if driver.as_deref() != Some("vfio-pci") {
        return Err(vfio_err(
            addr,
            "checking its driver",
            format!(
                "the device is bound to {}, not vfio-pci: `echo vfio-pci > {}/driver_override`, unbind it from its driver and `echo {addr} > {}/bus/pci/drivers_probe`",
                driver.as_deref().map(|d| format!("`{d}`")).unwrap_or_else(|| "no driver".into()),
                dir.display(),
                paths.sysfs.display()
            ),
            "not bound to vfio-pci",
        ));
    }
    let group_node = paths.dev_vfio.join(group.to_string());
    if let Err(e) = std::fs::metadata(&group_node) {
        return Err(vfio_err(
            addr,
            "finding its VFIO group node",
            format!(
                "{} does not exist: is the vfio-pci module loaded?",
                group_node.display()
            ),
            e,
        ));
    }
    Ok(SysfsDevice {
        dir,
        group,
        group_node,
        driver,
    })
}

enum Bar0 {
    Mapped { ptr: *mut u8, len: usize },
    File { offset: u64 },
}

struct Mapper {
    addr: PciAddress,
    container: Arc<VfioContainer>,
    iova: Mutex<IovaAllocator>,
    mappings: Mutex<usize>,
}

impl DmaMapper for Mapper {
    fn unmap(&self, iova: u64, len: u64) -> Result<()> {
        self.container
            .vfio_dma_unmap(iova, len as usize)
            .map_err(|e| {
                vfio_err(
                    self.addr,
                    &format!("DMA unmap of {len} bytes at IOVA {iova:#x}"),
                    "the mapping table is inconsistent; close the device",
                    e,
                )
            })?;
        self.iova
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .release(iova, len);
        *self.mappings.lock().unwrap_or_else(|p| p.into_inner()) -= 1;
        Ok(())
    }
}

/// A real card reached through kernel VFIO.
pub struct VfioTransport {
    name: String,
    addr: PciAddress,
    irq: Option<IrqEvent>,
    bar0: Bar0,
    device: VfioDevice,
    mapper: Arc<Mapper>,
}

// SAFETY: the BAR0 pointer is a device mapping owned by this value and only
// accessed with volatile 32-bit loads and stores, which are safe from any
// thread; everything else is Send + Sync.
unsafe impl Send for VfioTransport {}
// SAFETY: as above.
unsafe impl Sync for VfioTransport {}

impl VfioTransport {
    /// Open the card at `addr` (see the module docs for the host set-up).
    ///
    /// # Errors
    /// [`Error::Vfio`] naming the step that failed and what to check.
    pub fn open(addr: PciAddress) -> Result<VfioTransport> {
        Self::open_with(&HostPaths::default(), addr)
    }

    /// [`VfioTransport::open`] with explicit sysfs and `/dev/vfio` paths.
    ///
    /// # Errors
    /// As [`VfioTransport::open`].
    pub fn open_with(paths: &HostPaths, addr: PciAddress) -> Result<VfioTransport> {
        let sys = resolve(paths, addr)?;
        let perm_hint = format!(
            "check that {} is readable and writable by this user and that every device in IOMMU group {} is bound to vfio-pci",
            sys.group_node.display(),
            sys.group
        );
        let container = Arc::new(VfioContainer::new(None).map_err(|e| {
            vfio_err(
                addr,
                "opening the VFIO container /dev/vfio/vfio",
                "is the vfio module loaded?",
                e,
            )
        })?);
        // Opening the device adds its group to the container; DMA mappings
        // are made only after this.
        let ops: Arc<dyn VfioOps> = container.clone();
        let device = VfioDevice::new(&sys.dir, ops, false)
            .map_err(|e| vfio_err(addr, "opening the device", perm_hint.clone(), e))?;
        let bar0 = map_bar0(&device, addr)?;
        let irq = match device.get_irq_info(VFIO_PCI_MSIX_IRQ_INDEX) {
            Some(info) if info.count > hsm_contract::IRQ_VECTOR_QUEUE => {
                let ev = IrqEvent::new()?;
                device.enable_msix(vec![ev.event_fd()]).map_err(|e| {
                    vfio_err(
                        addr,
                        "enabling MSI-X",
                        "the card must expose MSI-X vector 0",
                        e,
                    )
                })?;
                Some(ev)
            }
            _ => None,
        };
        Ok(VfioTransport {
            name: format!("vfio:{addr}"),
            addr,
            irq,
            bar0,
            device,
            mapper: Arc::new(Mapper {
                addr,
                container,
                iova: Mutex::new(IovaAllocator::default()),
                mappings: Mutex::new(0),
            }),
        })
    }

    fn check_offset(&self, offset: u32) -> Result<()> {
        if !offset.is_multiple_of(4) || u64::from(offset) + 4 > hsm_contract::BAR0_SIZE {
            return Err(Error::InvalidArgument(format!(
                "BAR0 offset {offset:#x} is not an aligned register offset"
            )));
        }
        Ok(())
    }
}

/// Whether BAR0's registers can be mmapped: the region is mmappable and,
/// when it lists sparse areas, one of them covers the registers.
fn bar0_mappable(flags: u32, size: u64, caps: &[VfioRegionInfoCap]) -> bool {
    if flags & VFIO_REGION_INFO_FLAG_MMAP == 0 || size < hsm_contract::BAR0_SIZE {
        return false;
    }
    let sparse: Vec<_> = caps
        .iter()
        .filter_map(|c| match c {
            VfioRegionInfoCap::SparseMmap(s) => Some(s),
            _ => None,
        })
        .collect();
    sparse.is_empty()
        || sparse.iter().any(|s| {
            s.areas
                .iter()
                .any(|a| a.offset == 0 && a.size >= hsm_contract::BAR0_SIZE)
        })
}

fn map_bar0(device: &VfioDevice, addr: PciAddress) -> Result<Bar0> {
    let size = device.get_region_size(BAR0_INDEX);
    let offset = device.get_region_offset(BAR0_INDEX);
    let flags = device.get_region_flags(BAR0_INDEX);
    if size < hsm_contract::BAR0_SIZE {
        return Err(vfio_err(
            addr,
            "reading BAR0",
            format!(
                "BAR0 is {size} bytes; the card's is {}: is this the HSM card?",
                hsm_contract::BAR0_SIZE
            ),
            "BAR0 too small",
        ));
    }
    if !bar0_mappable(flags, size, &device.get_region_caps(BAR0_INDEX)) {
        return Ok(Bar0::File { offset });
    }
    let len = hsm_contract::BAR0_SIZE as usize;
    // SAFETY: maps `len` bytes of the device file at BAR0's offset, which
    // VFIO reports as mmappable; the result is checked.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            device.as_raw_fd(),
            offset as libc::off_t,
        )
    };
    if p == libc::MAP_FAILED {
        // Not fatal: fall back to pread/pwrite on the device file.
        return Ok(Bar0::File { offset });
    }
    Ok(Bar0::Mapped { ptr: p.cast(), len })
}

impl Transport for VfioTransport {
    fn device(&self) -> &str {
        &self.name
    }

    fn read32(&self, offset: u32) -> Result<u32> {
        self.check_offset(offset)?;
        match self.bar0 {
            Bar0::Mapped { ptr, .. } => {
                // SAFETY: offset is aligned and inside the mapping (checked).
                let v = unsafe { std::ptr::read_volatile(ptr.add(offset as usize).cast::<u32>()) };
                Ok(v)
            }
            Bar0::File { offset: base } => {
                let mut b = [0u8; 4];
                // SAFETY: b is a valid 4-byte buffer.
                let n = unsafe {
                    libc::pread(
                        self.device.as_raw_fd(),
                        b.as_mut_ptr().cast(),
                        4,
                        (base + u64::from(offset)) as libc::off_t,
                    )
                };
                if n != 4 {
                    return Err(Error::last_os(format!(
                        "BAR0 read at {offset:#05x} of {}",
                        self.name
                    )));
                }
                Ok(u32::from_le_bytes(b))
            }
        }
    }

    fn write32(&self, offset: u32, value: u32) -> Result<()> {
        self.check_offset(offset)?;
        match self.bar0 {
            Bar0::Mapped { ptr, .. } => {
                // SAFETY: offset is aligned and inside the mapping (checked).
                unsafe { std::ptr::write_volatile(ptr.add(offset as usize).cast::<u32>(), value) };
                Ok(())
            }
            Bar0::File { offset: base } => {
                let b = value.to_le_bytes();
                // SAFETY: b is a valid 4-byte buffer.
                let n = unsafe {
                    libc::pwrite(
                        self.device.as_raw_fd(),
                        b.as_ptr().cast(),
                        4,
                        (base + u64::from(offset)) as libc::off_t,
                    )
                };
                if n != 4 {
                    return Err(Error::last_os(format!(
                        "BAR0 write at {offset:#05x} of {}",
                        self.name
                    )));
                }
                Ok(())
            }
        }
    }

    fn alloc_dma(&self, len: usize) -> Result<DmaBuffer> {
        {
            let mut m = self
                .mapper
                .mappings
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if *m >= MAX_DMA_MAPPINGS {
                return Err(Error::InvalidArgument(format!(
                    "{}: {MAX_DMA_MAPPINGS} DMA buffers are mapped, the most a VFIO container allows; free some or use larger buffers",
                    self.name
                )));
            }
            *m += 1;
        }
        let undo_count = || {
            *self
                .mapper
                .mappings
                .lock()
                .unwrap_or_else(|p| p.into_inner()) -= 1
        };
        let mem = match HostMemory::new(len) {
            Ok(m) => m,
            Err(e) => {
                undo_count();
                return Err(e);
            }
        };
        let size = mem.len() as u64;
        let iova = match self
            .mapper
            .iova
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .alloc(size)
        {
            Ok(i) => i,
            Err(e) => {
                undo_count();
                return Err(e);
            }
        };
        // SAFETY: mem is a live shared mapping of `size` bytes that stays
        // mapped until the DmaBuffer built below unmaps the IOVA range
        // (DmaBuffer unmaps the device side before releasing the memory).
        // Host code accesses it only through DmaBuffer, whose contract
        // forbids touching memory while the card uses it.
        let r = unsafe {
            self.mapper
                .container
                .vfio_dma_map(iova, size as usize, mem.as_ptr())
        };
        if let Err(e) = r {
            undo_count();
            self.mapper
                .iova
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .release(iova, size);
            return Err(vfio_err(
                self.addr,
                &format!("DMA map of {size} bytes at IOVA {iova:#x}"),
                "pinning counts against the memlock limit: raise it with `ulimit -l`",
                e,
            ));
        }
        let mapper: Arc<dyn DmaMapper> = self.mapper.clone();
        Ok(DmaBuffer::from_mapped(
            mem,
            len,
            iova,
            Arc::downgrade(&mapper),
        ))
    }

    fn has_irq(&self) -> bool {
        self.irq.is_some()
    }

    fn wait_irq(&self, timeout: Duration) -> Result<bool> {
        wait_irq_event(self.irq.as_ref(), &self.name, timeout)
    }

    fn reset(&self) -> Result<()> {
        self.device.reset();
        Ok(())
    }
}

impl Drop for VfioTransport {
    fn drop(&mut self) {
        if self.irq.is_some() {
            let _ = self.device.disable_msix();
        }
        if let Bar0::Mapped { ptr, len } = self.bar0 {
            // SAFETY: exactly the mapping made in map_bar0.
            unsafe { libc::munmap(ptr.cast(), len) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;
    use vfio_ioctls::{VfioRegionInfoCapSparseMmap, VfioRegionSparseMmapArea};

    struct Fake {
        root: PathBuf,
        paths: HostPaths,
    }

    impl Fake {
        fn new(tag: &str) -> Fake {
            let root =
                std::env::temp_dir().join(format!("hsm-fake-sysfs-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&root);
            std::fs::create_dir_all(root.join("sys/bus/pci/devices")).unwrap();
            std::fs::create_dir_all(root.join("sys/kernel/iommu_groups/42")).unwrap();
            std::fs::create_dir_all(root.join("sys/bus/pci/drivers/vfio-pci")).unwrap();
            std::fs::create_dir_all(root.join("sys/bus/pci/drivers/nvme")).unwrap();
            std::fs::create_dir_all(root.join("dev/vfio")).unwrap();
            let paths = HostPaths {
                sysfs: root.join("sys"),
                dev_vfio: root.join("dev/vfio"),
            };
            Fake { root, paths }
        }

        fn device(&self, addr: &str, group: Option<&str>, driver: Option<&str>) {
            let d = self.root.join("sys/bus/pci/devices").join(addr);
            std::fs::create_dir_all(&d).unwrap();
            if let Some(g) = group {
                symlink(
                    format!("../../../kernel/iommu_groups/{g}"),
                    d.join("iommu_group"),
                )
                .unwrap();
            }
            if let Some(drv) = driver {
                symlink(format!("../../../bus/pci/drivers/{drv}"), d.join("driver")).unwrap();
            }
        }
    }

    impl Drop for Fake {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }

    fn addr(s: &str) -> PciAddress {
        s.parse().unwrap()
    }

    #[test]
    fn resolves_group_and_node() {
        let f = Fake::new("ok");
        f.device("0000:01:00.0", Some("42"), Some("vfio-pci"));
        std::fs::write(f.root.join("dev/vfio/42"), b"").unwrap();
        let d = resolve(&f.paths, addr("0000:01:00.0")).unwrap();
        assert_eq!(d.group, 42);
        assert_eq!(d.group_node, f.root.join("dev/vfio/42"));
        assert_eq!(d.driver.as_deref(), Some("vfio-pci"));
        assert_eq!(d.dir, f.root.join("sys/bus/pci/devices/0000:01:00.0"));
    }

    #[test]
    fn explains_each_missing_step() {
        let f = Fake::new("bad");
        let e = resolve(&f.paths, addr("0000:02:00.0"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("0000:02:00.0") && e.contains("lspci"), "{e}");

        f.device("0000:03:00.0", None, Some("vfio-pci"));
        let e = resolve(&f.paths, addr("0000:03:00.0"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("intel_iommu=on"), "{e}");

        f.device("0000:04:00.0", Some("42"), Some("nvme"));
        let e = resolve(&f.paths, addr("0000:04:00.0"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("bound to `nvme`, not vfio-pci"), "{e}");
        assert!(e.contains("driver_override"), "{e}");

        f.device("0000:05:00.0", Some("42"), None);
        let e = resolve(&f.paths, addr("0000:05:00.0"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("bound to no driver"), "{e}");

        f.device("0000:06:00.0", Some("7"), Some("vfio-pci"));
        let e = resolve(&f.paths, addr("0000:06:00.0"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("dev/vfio/7 does not exist"), "{e}");
    }

    #[test]
    fn open_reports_missing_device() {
        let f = Fake::new("open");
        let e = VfioTransport::open_with(&f.paths, addr("0000:09:00.0"))
            .err()
            .expect("no such device")
            .to_string();
        assert!(
            e.starts_with("VFIO looking up the device in sysfs for PCI device 0000:09:00.0"),
            "{e}"
        );
    }

    #[test]
    fn bar0_mmap_decision() {
        let flags = VFIO_REGION_INFO_FLAG_MMAP;
        assert!(bar0_mappable(flags, 4096, &[]));
        assert!(!bar0_mappable(0, 4096, &[]));
        assert!(!bar0_mappable(flags, 1024, &[]));
        let sparse = |offset, size| {
            VfioRegionInfoCap::SparseMmap(VfioRegionInfoCapSparseMmap {
                areas: vec![VfioRegionSparseMmapArea { offset, size }],
            })
        };
        assert!(bar0_mappable(flags, 8192, &[sparse(0, 4096)]));
        assert!(!bar0_mappable(flags, 8192, &[sparse(4096, 4096)]));
    }
}
