//! Build exported Verilog with a C++ harness into a Verilator executable,
//! and run it on text stimulus: how block tests check that the Verilog (what
//! the card runs) agrees with rust-hdl's simulation and the references.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// A built model in its own scratch folder, removed on drop.
pub struct Model {
    dir: PathBuf,
}

impl Model {
    /// Verilate `verilog` (top module `top`) with `harness` (C++ that reads
    /// stimulus on stdin and prints on stdout); panics with Verilator's
    /// report when the build fails.
    pub fn build(tag: &str, verilog: &str, harness: &str) -> Model {
        let dir = std::env::temp_dir().join(format!("hsm-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("top.v"), verilog).unwrap();
        std::fs::write(dir.join("harness.cpp"), harness).unwrap();
        let out = Command::new("verilator")
            .args([
                "--cc",
                "--exe",
                "--build",
                "-j",
                "2",
                "-Wno-fatal",
                "--top-module",
                "top",
                "-CFLAGS",
                "-O1",
                "top.v",
                "harness.cpp",
            ])
            .current_dir(&dir)
            .output()
            .expect("verilator 5.006 or later is needed (apt-get install verilator)");
        assert!(
            out.status.success(),
            "verilator build failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Model { dir }
    }

    /// Run the model with `input` on stdin; its stdout, line by line.
    pub fn run(&self, input: &str) -> Vec<String> {
        let mut child = Command::new(self.dir.join("obj_dir").join("Vtop"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        // Feed stdin from a thread while this one drains stdout: a large
        // run would otherwise deadlock once both pipes are full.
        let mut stdin = child.stdin.take().unwrap();
        let input = input.to_string();
        let feeder = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
        let out = child.wait_with_output().unwrap();
        feeder.join().unwrap().unwrap();
        assert!(out.status.success(), "the Verilated model failed");
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Model {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
