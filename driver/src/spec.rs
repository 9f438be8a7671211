//! Naming a card: `sim:SOCKET` or `vfio:PCI-ADDRESS`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::error::{Error, Result};

/// Environment variable that overrides the default simulated card socket.
pub const SIM_SOCKET_ENV: &str = "HSM_SIM_SOCKET";

/// The socket of the local simulated card when none is named.
///
/// `$HSM_SIM_SOCKET` if set, else `$XDG_RUNTIME_DIR/hsm/card.sock`, else
/// `/tmp/hsm-$UID/card.sock`. `hsmctl sim start` serves here by default and
/// every other command connects here by default.
pub fn default_sim_socket() -> PathBuf {
    default_sim_socket_from(
        std::env::var_os(SIM_SOCKET_ENV),
        std::env::var_os("XDG_RUNTIME_DIR"),
        // SAFETY: getuid has no preconditions and cannot fail.
        unsafe { libc::getuid() },
    )
}

fn default_sim_socket_from(
    explicit: Option<std::ffi::OsString>,
    runtime_dir: Option<std::ffi::OsString>,
    uid: u32,
) -> PathBuf {
    if let Some(p) = explicit.filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    if let Some(d) = runtime_dir.filter(|d| !d.is_empty()) {
        return Path::new(&d).join("hsm").join("card.sock");
    }
    PathBuf::from(format!("/tmp/hsm-{uid}/card.sock"))
}

/// A PCI address in the `DOMAIN:BUS:DEVICE.FUNCTION` form used by sysfs
/// (`0000:01:00.0`). The domain may be omitted when parsing (`01:00.0`
/// means domain 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PciAddress {
    /// PCI segment (domain), 16 bits.
    pub domain: u16,
    /// Bus number.
    pub bus: u8,
    /// Device number, 0 to 31.
    pub device: u8,
    /// Function number, 0 to 7.
    pub function: u8,
}

impl fmt::Display for PciAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04x}:{:02x}:{:02x}.{:x}",
            self.domain, self.bus, self.device, self.function
        )
    }
}

impl FromStr for PciAddress {
    type Err = Error;

    fn from_str(s: &str) -> Result<PciAddress> {
        let bad = |reason: &str| Error::BadDeviceSpec {
            spec: format!("vfio:{s}"),
            reason: format!("`{s}` is not a PCI address: {reason}"),
        };
        let (head, function) = s
            .rsplit_once('.')
            .ok_or_else(|| bad("missing `.FUNCTION`"))?;
        let parts: Vec<&str> = head.split(':').collect();
        let (domain, bus, device) = match parts.as_slice() {
            [d, b, dev] => (*d, *b, *dev),
            [b, dev] => ("0", *b, *dev),
            _ => return Err(bad("expected DOMAIN:BUS:DEVICE.FUNCTION")),
        };
        let hex = |v: &str, max_digits: usize, what: &str| -> Result<u32> {
            if v.is_empty() || v.len() > max_digits || !v.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(bad(&format!(
                    "{what} `{v}` is not {max_digits} hex digits at most"
                )));
            }
            u32::from_str_radix(v, 16).map_err(|_| bad(what))
        };
        let domain = hex(domain, 4, "domain")?;
        let bus = hex(bus, 2, "bus")?;
        let device = hex(device, 2, "device")?;
        let function = hex(function, 1, "function")?;
        if device > 31 {
            return Err(bad("device number is over 0x1f"));
        }
        if function > 7 {
            return Err(bad("function number is over 7"));
        }
        Ok(PciAddress {
            domain: domain as u16,
            bus: bus as u8,
            device: device as u8,
            function: function as u8,
        })
    }
}

/// Which card to open, and through which transport.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceSpec {
    /// A simulated card served over vfio-user at this Unix socket.
    Sim(PathBuf),
    /// A real card bound to the kernel's `vfio-pci` driver.
    Vfio(PciAddress),
}

impl Default for DeviceSpec {
    /// The local simulated card at [`default_sim_socket`].
    fn default() -> DeviceSpec {
        DeviceSpec::Sim(default_sim_socket())
    }
}

impl fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceSpec::Sim(p) => write!(f, "sim:{}", p.display()),
            DeviceSpec::Vfio(a) => write!(f, "vfio:{a}"),
        }
    }
}

impl FromStr for DeviceSpec {
    type Err = Error;

    /// Parse `sim:SOCKET` or `vfio:PCI-ADDRESS`.
    fn from_str(s: &str) -> Result<DeviceSpec> {
        if let Some(path) = s.strip_prefix("sim:") {
            if path.is_empty() {
                return Err(Error::BadDeviceSpec {
                    spec: s.into(),
                    reason: "the socket path is empty".into(),
                });
            }
            return Ok(DeviceSpec::Sim(PathBuf::from(path)));
        }
        if let Some(addr) = s.strip_prefix("vfio:") {
            return Ok(DeviceSpec::Vfio(addr.parse()?));
        }
        Err(Error::BadDeviceSpec {
            spec: s.into(),
            reason: "unknown transport".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sim_and_vfio() {
        assert_eq!(
            "sim:/tmp/x.sock".parse::<DeviceSpec>().unwrap(),
            DeviceSpec::Sim("/tmp/x.sock".into())
        );
        let d: DeviceSpec = "vfio:0000:01:00.0".parse().unwrap();
        assert_eq!(
            d,
            DeviceSpec::Vfio(PciAddress {
                domain: 0,
                bus: 1,
                device: 0,
                function: 0
            })
        );
        assert_eq!(d.to_string(), "vfio:0000:01:00.0");
        let d: DeviceSpec = "vfio:3:af:1f.7".parse().unwrap();
        assert_eq!(d.to_string(), "vfio:0003:af:1f.7");
        let d: DeviceSpec = "vfio:02:00.1".parse().unwrap();
        assert_eq!(d.to_string(), "vfio:0000:02:00.1");
    }

    #[test]
    fn rejects_bad_specs_with_reasons() {
        for (s, needle) in [
            ("sim:", "empty"),
            ("pci:0000:01:00.0", "unknown transport"),
            ("vfio:0000:01:00", "FUNCTION"),
            ("vfio:0000:01:20.0", "over 0x1f"),
            ("vfio:0000:01:00.8", "over 7"),
            ("vfio:00000:01:00.0", "domain"),
            ("vfio:0000:0g:00.0", "bus"),
            ("vfio:1:2:3:4.0", "DOMAIN:BUS"),
        ] {
            let e = s.parse::<DeviceSpec>().unwrap_err().to_string();
            assert!(e.contains(needle), "{s}: {e}");
            assert!(e.contains("vfio:DDDD:BB:DD.F"), "{s}: {e}");
        }
    }

    #[test]
    fn default_socket_precedence() {
        assert_eq!(
            default_sim_socket_from(Some("/a/b.sock".into()), Some("/run/user/7".into()), 7),
            PathBuf::from("/a/b.sock")
        );
        assert_eq!(
            default_sim_socket_from(None, Some("/run/user/7".into()), 7),
            PathBuf::from("/run/user/7/hsm/card.sock")
        );
        assert_eq!(
            default_sim_socket_from(Some("".into()), None, 7),
            PathBuf::from("/tmp/hsm-7/card.sock")
        );
    }
}
