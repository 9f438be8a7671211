//! Building a card image for the simulated card: the card's Verilog,
//! Verilated and compiled into a shared library that [`ModelLibrary::load`]
//! runs.
//!
//! The build is the one `build.rs` makes for the built-in model (the same
//! Verilator arguments, the same wrapper `csrc/hsm_sim.cpp`), compiled as
//! position-independent code with every symbol hidden but the wrapper's
//! entry points. It is reproducible: the build runs in a fresh directory
//! with relative paths, `-ffile-prefix-map` removes the directory from
//! anything the compiler records, and the inputs are sorted, so the same
//! Verilog with the same tools gives the same bytes.
//!
//! [`ModelLibrary::load`]: crate::ModelLibrary::load

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

include!("verilator_flags.rs");

/// The wrapper around the Verilated model, compiled into every image.
const WRAPPER_CPP: &str = include_str!("../csrc/hsm_sim.cpp");
/// The contract's constants the wrapper includes (generated, see
/// `hsm_contract::storage::c_header`).
const CONTRACT_H: &str = include_str!("../csrc/contract.h");

/// File name of the model library in a simulated card's package.
pub const LIBRARY_NAME: &str = "card.so";
/// File name of the Verilog the library was built from.
pub const VERILOG_NAME: &str = "top.v";
/// The target name of the simulated card, as packages name it.
pub const TARGET: &str = "sim-verilator";

/// Why a card image could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ImageBuildError {
    /// A tool could not be started.
    #[error(
        "cannot run {tool}: {source}; install it (`apt-get install verilator g++`) or set {env}"
    )]
    ToolMissing {
        /// The tool's command.
        tool: String,
        /// The environment variable that names another one.
        env: &'static str,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A tool failed.
    #[error("{tool} failed ({status}):\n{log}")]
    ToolFailed {
        /// The command that failed.
        tool: String,
        /// Its exit status.
        status: std::process::ExitStatus,
        /// The end of its output.
        log: String,
    },
    /// Verilator's runtime sources were not found.
    #[error("{0}")]
    VerilatorRoot(String),
    /// A file in the build directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

/// A built card image.
#[derive(Clone, Debug)]
pub struct ImageBuild {
    /// The shared library ([`LIBRARY_NAME`]).
    pub library: Vec<u8>,
    /// The Verilog it was built from ([`VERILOG_NAME`]).
    pub verilog: Vec<u8>,
    /// The tools that built it: (name, version), in the order they ran.
    pub tools: Vec<(String, String)>,
}

/// Builds a card image from the card's Verilog (top module `top`) in
/// `workdir`, which must be empty or absent. `progress` gets one line per
/// step (the caller shows it on stderr).
///
/// The compiler is `$CXX` (default `g++`), Verilator `$VERILATOR` (default
/// `verilator`).
///
/// # Errors
///
/// [`ImageBuildError`] naming the tool or file that failed.
pub fn build(
    verilog: &str,
    workdir: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<ImageBuild, ImageBuildError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ImageBuildError::Io { path, source }
    };
    std::fs::create_dir_all(workdir).map_err(io(workdir))?;
    let verilator = std::env::var("VERILATOR").unwrap_or_else(|_| "verilator".to_owned());
    let cxx = std::env::var("CXX").unwrap_or_else(|_| "g++".to_owned());
    let tools = vec![
        (
            "verilator".to_owned(),
            version(&verilator, &["--version"], "VERILATOR")?,
        ),
        ("c++".to_owned(), version(&cxx, &["--version"], "CXX")?),
    ];
    let root = find_verilator_root(&verilator).map_err(ImageBuildError::VerilatorRoot)?;

    let top = workdir.join(VERILOG_NAME);
    std::fs::write(&top, verilog).map_err(io(&top))?;
    progress("verilator: translating the card's Verilog to C++");
    let mut cmd = Command::new(&verilator);
    cmd.current_dir(workdir)
        .args(VERILATOR_ARGS)
        .args(["--Mdir", "verilated", VERILOG_NAME]);
    wait(spawn(cmd, &verilator, "VERILATOR")?, &verilator)?;

    let mdir = workdir.join("verilated");
    let mut generated: Vec<String> = std::fs::read_dir(&mdir)
        .map_err(io(&mdir))?
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("Vtop") && n.ends_with(".cpp"))
        .collect();
    generated.sort();
    let unity: String = generated
        .iter()
        .map(|n| format!("#include \"{n}\"\n"))
        .collect();
    let unity_path = mdir.join("card_all.cpp");
    std::fs::write(&unity_path, unity).map_err(io(&unity_path))?;
    let wrapper = workdir.join("hsm_sim.cpp");
    std::fs::write(&wrapper, WRAPPER_CPP).map_err(io(&wrapper))?;
    let header = workdir.join("contract.h");
    std::fs::write(&header, CONTRACT_H).map_err(io(&header))?;

    let include = root.join("include");
    let sources: Vec<(PathBuf, &str)> = vec![
        (PathBuf::from("verilated/card_all.cpp"), "card_all.o"),
        (include.join("verilated.cpp"), "verilated.o"),
        (include.join("verilated_threads.cpp"), "verilated_threads.o"),
        (PathBuf::from("hsm_sim.cpp"), "hsm_sim.o"),
    ];
    let prefix_map = format!("-ffile-prefix-map={}=.", workdir.display());
    progress("c++: compiling the model (a few minutes)");
    // Two compilers at a time: the machine this project is built on has
    // two cores, and the model's own unit dominates anyway.
    let mut objects = Vec::new();
    for pair in sources.chunks(2) {
        let mut children = Vec::new();
        for (src, obj) in pair {
            let mut cmd = Command::new(&cxx);
            cmd.current_dir(workdir)
                .args(["-std=c++17", "-O3", "-fPIC", "-g0", "-w"])
                .args(["-fvisibility=hidden", "-fvisibility-inlines-hidden"])
                .args([
                    "-DVM_TRACE=0",
                    "-DVM_TRACE_VCD=0",
                    "-DVM_COVERAGE=0",
                    "-DVM_SC=0",
                ])
                .arg(&prefix_map)
                .args(["-I", "verilated"])
                .arg("-I")
                .arg(&include)
                .arg("-I")
                .arg(include.join("vltstd"))
                .arg("-c")
                .arg(src)
                .args(["-o", obj]);
            children.push(spawn(cmd, &cxx, "CXX")?);
            objects.push(*obj);
        }
        for child in children {
            wait(child, &cxx)?;
        }
    }
    progress("c++: linking the card image");
    let mut cmd = Command::new(&cxx);
    cmd.current_dir(workdir)
        .args([
            "-shared",
            "-fPIC",
            "-pthread",
            "-Wl,-Bsymbolic",
            "-Wl,--build-id=sha1",
        ])
        .args(["-o", LIBRARY_NAME])
        .args(&objects);
    wait(spawn(cmd, &cxx, "CXX")?, &cxx)?;
    let lib_path = workdir.join(LIBRARY_NAME);
    let library = std::fs::read(&lib_path).map_err(io(&lib_path))?;
    Ok(ImageBuild {
        library,
        verilog: verilog.as_bytes().to_vec(),
        tools,
    })
}

/// The first line of a tool's version output.
fn version(tool: &str, args: &[&str], env: &'static str) -> Result<String, ImageBuildError> {
    let out =
        Command::new(tool)
            .args(args)
            .output()
            .map_err(|source| ImageBuildError::ToolMissing {
                tool: tool.to_owned(),
                env,
                source,
            })?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text.lines().next().unwrap_or("").trim().to_owned())
}

fn spawn(mut cmd: Command, tool: &str, env: &'static str) -> Result<Child, ImageBuildError> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| ImageBuildError::ToolMissing {
            tool: tool.to_owned(),
            env,
            source,
        })
}

fn wait(child: Child, tool: &str) -> Result<(), ImageBuildError> {
    let out = child
        .wait_with_output()
        .map_err(|source| ImageBuildError::ToolMissing {
            tool: tool.to_owned(),
            env: "PATH",
            source,
        })?;
    if out.status.success() {
        return Ok(());
    }
    let mut log = String::from_utf8_lossy(&out.stdout).into_owned();
    log.push_str(&String::from_utf8_lossy(&out.stderr));
    let start = log.len().saturating_sub(4000);
    let start = (start..log.len())
        .find(|&i| log.is_char_boundary(i))
        .unwrap_or(0);
    Err(ImageBuildError::ToolFailed {
        tool: tool.to_owned(),
        status: out.status,
        log: log[start..].to_owned(),
    })
}
