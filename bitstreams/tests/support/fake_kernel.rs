//! A fake sysfs tree and a fake kernel for testing the FPGA Manager
//! loader; test support only, never used by hsmctl itself. Both
//! `bitstreams/tests/fpga_manager.rs` and
//! `host-cli/tests/bitstream_fpga.rs` include this one file (the latter by
//! `#[path]`), so this is not a test target of its own.
//!
//! The tree is a directory standing for `/`:
//! `sys/class/fpga_manager/fpga0/{name,state,status,flags,firmware}` and
//! `lib/firmware`. The vendor kernels' `firmware` attribute does the whole
//! load inside the `write`; the fake kernel imitates that with a FIFO: it
//! waits for a staged `hsm-*` file in the firmware directory, sets `state`
//! to `firmware request`, and only then opens the FIFO, so the loader's
//! open of `firmware` cannot return before the load has visibly begun.
//! It then reads the name, checks the named file, its contents and mode and
//! that `flags` is 0, and steps `state` through `write init` and `write` to
//! its final state. Tests that must not reach the kernel use a plain file
//! for `firmware` and check it stays empty.

use std::io::Read as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use hsm_bitstream::fpga_manager::FpgaManager;

/// Long enough for a slow, shared test machine; the fake kernel answers in
/// milliseconds.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// A fake root directory: the sysfs of one FPGA manager `fpga0` and
/// `lib/firmware`. Removed on drop.
pub struct FakeRoot(PathBuf);

impl FakeRoot {
    /// Makes the tree at `root`: `fpga0`, driver `driver_name`, in `state`,
    /// with a plain-file `firmware` attribute.
    pub fn at(root: &Path, driver_name: &str, state: &str) -> FakeRoot {
        std::fs::create_dir_all(root).unwrap();
        let fake = FakeRoot(root.to_owned());
        fake.add_manager("fpga0", driver_name, state);
        std::fs::create_dir_all(fake.firmware_dir()).unwrap();
        fake
    }

    /// Adds the FPGA manager `device`, driver `driver_name`, in `state`.
    pub fn add_manager(&self, device: &str, driver_name: &str, state: &str) {
        let dir = self.0.join("sys/class/fpga_manager").join(device);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("name"), format!("{driver_name}\n")).unwrap();
        std::fs::write(dir.join("state"), format!("{state}\n")).unwrap();
        std::fs::write(dir.join("status"), "").unwrap();
        std::fs::write(dir.join("flags"), "1\n").unwrap();
        std::fs::write(dir.join("firmware"), "").unwrap();
    }

    pub fn root(&self) -> &Path {
        &self.0
    }
    pub fn dev(&self) -> PathBuf {
        self.0.join("sys/class/fpga_manager/fpga0")
    }
    pub fn firmware_dir(&self) -> PathBuf {
        self.0.join("lib/firmware")
    }
    /// A loader for `fpga0` in this tree, with a short poll.
    pub fn manager(&self) -> FpgaManager {
        FpgaManager::with_root(&self.0, "fpga0")
            .timeout(TIMEOUT)
            .poll(Duration::from_millis(2))
    }
    /// `fpga0`'s `state`, without the newline.
    pub fn state(&self) -> String {
        std::fs::read_to_string(self.dev().join("state"))
            .unwrap()
            .trim_end()
            .to_owned()
    }
    /// The names in the firmware directory, sorted.
    pub fn firmware_files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.firmware_dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
    /// Makes `firmware` a plain, empty file again (after a fake kernel
    /// replaced it with a FIFO).
    pub fn plain_firmware_attribute(&self) {
        let firmware = self.dev().join("firmware");
        std::fs::remove_file(&firmware).unwrap();
        std::fs::write(&firmware, "").unwrap();
    }
    /// The `firmware` attribute is still an empty plain file: the kernel
    /// was never asked for anything, and nothing is staged.
    #[track_caller]
    pub fn assert_untouched(&self) {
        assert_eq!(std::fs::read(self.dev().join("firmware")).unwrap(), b"");
        assert_eq!(self.firmware_files(), Vec::<String>::new());
    }
    /// Replaces `firmware` with a FIFO and starts the fake kernel, which
    /// expects `expected` and ends as `end` says.
    pub fn kernel(&self, expected: &[u8], end: End) -> mpsc::Receiver<Result<String, String>> {
        let firmware = self.dev().join("firmware");
        std::fs::remove_file(&firmware).unwrap();
        let made = std::process::Command::new("mkfifo")
            .arg(&firmware)
            .status()
            .expect("mkfifo (coreutils) is needed for the fake firmware attribute");
        assert!(made.success());
        let (tx, rx) = mpsc::channel();
        let dev = self.dev();
        let fw_dir = self.firmware_dir();
        let expected = expected.to_vec();
        std::thread::spawn(move || {
            let _ = tx.send(fake_kernel(&dev, &fw_dir, &expected, end));
        });
        rx
    }
}

impl Drop for FakeRoot {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// How the fake kernel's load ends.
#[derive(Clone, Copy)]
pub enum End {
    /// `operating`.
    Operating,
    /// This error state, with this `status` text.
    Error(&'static str, &'static str),
    /// Stays in `write`.
    Stall,
}

/// Sets an attribute the way the kernel would present it: whole, never
/// half-written.
pub fn set_attr(dev: &Path, attr: &str, value: &str) {
    let tmp = dev.join(format!(".{attr}.tmp"));
    std::fs::write(&tmp, format!("{value}\n")).unwrap();
    std::fs::rename(&tmp, dev.join(attr)).unwrap();
}

/// The fake kernel: returns the firmware name it loaded, or why it
/// refused.
fn fake_kernel(dev: &Path, fw_dir: &Path, expected: &[u8], end: End) -> Result<String, String> {
    let deadline = Instant::now() + TIMEOUT;
    let staged = loop {
        let found = std::fs::read_dir(fw_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .find(|n| n.starts_with("hsm-"));
        if let Some(name) = found {
            break name;
        }
        if Instant::now() > deadline {
            return Err("no staged firmware file appeared".into());
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    set_attr(dev, "state", "firmware request");
    let mut name = String::new();
    std::fs::File::open(dev.join("firmware"))
        .and_then(|mut f| f.read_to_string(&mut name))
        .map_err(|e| format!("reading the firmware FIFO: {e}"))?;
    let name = name.trim_end_matches('\n').to_owned();
    let fail = |why: String| {
        set_attr(dev, "state", "firmware request error");
        Err(why)
    };
    if name != staged {
        return fail(format!("firmware {name:?} written, {staged:?} staged"));
    }
    let path = fw_dir.join(&name);
    match std::fs::read(&path) {
        Ok(data) if data == expected => {}
        Ok(_) => return fail(format!("{} has the wrong contents", path.display())),
        Err(e) => return fail(format!("{}: {e}", path.display())),
    }
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    if mode & 0o444 != 0o444 || mode & 0o022 != 0 {
        return fail(format!("{} has mode {mode:o}", path.display()));
    }
    let flags = std::fs::read_to_string(dev.join("flags")).unwrap();
    if flags.trim() != "0" {
        return fail(format!("flags is {flags:?}, not 0"));
    }
    for state in ["write init", "write"] {
        set_attr(dev, "state", state);
        std::thread::sleep(Duration::from_millis(5));
    }
    match end {
        End::Operating => set_attr(dev, "state", "operating"),
        End::Error(state, status) => {
            set_attr(dev, "status", status);
            set_attr(dev, "state", state);
        }
        End::Stall => {}
    }
    Ok(name)
}

/// What the fake kernel loaded (it checked the bytes), or a panic with
/// why it refused.
pub fn kernel_result(rx: &mpsc::Receiver<Result<String, String>>) -> String {
    rx.recv_timeout(TIMEOUT)
        .expect("the fake kernel did not finish")
        .unwrap_or_else(|e| panic!("fake kernel: {e}"))
}
