//! The transport trait: how the card API reaches a card.

use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};

use crate::dma::DmaBuffer;
use crate::error::{Error, Result};

/// What the card API needs from a card, whatever carries it: 32-bit
/// register access to BAR0, DMA memory, the completion interrupt and a
/// device reset.
///
/// Implementations: [`crate::vfio_user::VfioUserTransport`] (the simulated
/// card) and [`crate::vfio::VfioTransport`] (a real card bound to
/// `vfio-pci`).
pub trait Transport: Send + Sync {
    /// The device, as a user would name it (`sim:/path`, `vfio:0000:01:00.0`),
    /// for messages.
    fn device(&self) -> &str;

    /// Read the 32-bit register at BAR0 byte `offset` (4-byte aligned).
    ///
    /// # Errors
    /// When the access cannot be carried out (connection lost, ...).
    fn read32(&self, offset: u32) -> Result<u32>;

    /// Write the 32-bit register at BAR0 byte `offset` (4-byte aligned).
    ///
    /// # Errors
    /// When the access cannot be carried out.
    fn write32(&self, offset: u32, value: u32) -> Result<()>;

    /// Allocate `len` bytes of zeroed DMA memory and map it for the device.
    ///
    /// # Errors
    /// When memory cannot be allocated or mapped.
    fn alloc_dma(&self, len: usize) -> Result<DmaBuffer>;

    /// Whether the device's completion interrupt
    /// ([`hsm_contract::IRQ_VECTOR_QUEUE`]) is wired to an eventfd.
    fn has_irq(&self) -> bool;

    /// Wait until the completion interrupt fires or `timeout` passes;
    /// `Ok(true)` when it fired. Consumes the notification.
    ///
    /// # Errors
    /// When the device has no interrupt, or waiting fails.
    fn wait_irq(&self, timeout: Duration) -> Result<bool>;

    /// Reset the whole device (function-level reset, or the vfio-user
    /// DEVICE_RESET command).
    ///
    /// # Errors
    /// When the reset request fails.
    fn reset(&self) -> Result<()>;
}

/// An eventfd the device signals for an interrupt vector.
pub(crate) struct IrqEvent {
    fd: EventFd,
}

impl IrqEvent {
    pub(crate) fn new() -> Result<IrqEvent> {
        let fd = EventFd::new(EFD_NONBLOCK)
            .map_err(|e| Error::os("eventfd for the completion interrupt", e))?;
        Ok(IrqEvent { fd })
    }

    pub(crate) fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    pub(crate) fn event_fd(&self) -> &EventFd {
        &self.fd
    }

    /// poll(2) the eventfd for up to `timeout`; consume the count if it fired.
    pub(crate) fn wait(&self, timeout: Duration) -> Result<bool> {
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        // Round a sub-millisecond timeout up so that we do sleep.
        let ms = if ms == 0 && !timeout.is_zero() { 1 } else { ms };
        loop {
            // SAFETY: pfd is a valid pollfd array of length 1.
            let r = unsafe { libc::poll(&mut pfd, 1, ms) };
            if r < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(Error::os("poll on the interrupt eventfd", e));
            }
            if r == 0 {
                return Ok(false);
            }
            // Clear the counter; EAGAIN means someone else consumed it.
            let _ = self.fd.read();
            return Ok(true);
        }
    }
}

/// Waits on a transport's completion interrupt, or fails with
/// [`Error::NoInterrupt`] naming `device` when it has none.
pub(crate) fn wait_irq_event(
    irq: Option<&IrqEvent>,
    device: &str,
    timeout: std::time::Duration,
) -> Result<bool> {
    match irq {
        Some(ev) => ev.wait(timeout),
        None => Err(Error::NoInterrupt {
            device: device.to_owned(),
            vector: hsm_contract::IRQ_VECTOR_QUEUE,
        }),
    }
}
