//! `hsmctl bitstream build` and `hsmctl bitstream load`: making a card
//! image package from this source tree, and putting a verified package on
//! a card.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use hsm_bitstream::{ImageEntry, LoadPolicy, Manifest, Package, Resources, ToolVersion};
use hsm_driver::DeviceSpec;

use super::fpga::FpgaArgs;
use super::verify::{manifest_json, manifest_text};
use super::{hex, load_trust, read_package, ReadFailure, Refused, TrustDirArg};
use crate::crypt::TempOut;
use crate::{print_json, print_out, DeviceArg};

/// The security version of images built from this source tree. Raise it
/// when a release fixes a vulnerability, so cards refuse the older images.
pub const SECURITY_VERSION: u32 = 1;

/// The design name in manifests.
pub const DESIGN: &str = "open-hsm";

/// What a build makes an image for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Target {
    /// The simulated card: the RTL, Verilated and compiled into a model
    /// library (`card.so`), with the Verilog it came from (`top.v`)
    Sim,
    /// The Lattice LFE5UM5G-85F through the open flow (Yosys,
    /// nextpnr-ecp5, ecppack; scripts/install-fpga-tools.sh), one block
    /// (--block) for now
    Ecp5,
}

/// `hsmctl bitstream build` arguments.
#[derive(Args, Debug)]
pub struct BuildArgs {
    /// The card to build for
    #[arg(long, value_enum)]
    target: Target,
    /// The package to write (replaced atomically)
    #[arg(long, value_name = "PKG")]
    out: PathBuf,
    /// With --target ecp5: the block to build (crypto_engine, aes_enc_pipe,
    /// aes_dec_pipe, aes_key_expand)
    #[arg(long, value_name = "NAME")]
    block: Option<String>,
    /// Security version to record [default: this source tree's]
    #[arg(long, value_name = "N")]
    security_version: Option<u32>,
    /// The source revision to record, e.g. a git commit id [default: none]
    #[arg(long, value_name = "REV", default_value = "")]
    source_revision: String,
    /// Keep the build directory here instead of a temporary one
    #[arg(long, value_name = "DIR")]
    work_dir: Option<PathBuf>,
    /// Print one JSON object
    #[arg(long)]
    json: bool,
}

/// `hsmctl bitstream load` arguments.
#[derive(Args, Debug)]
pub struct LoadArgs {
    /// The package to load
    #[arg(value_name = "PKG")]
    package: PathBuf,
    #[command(flatten)]
    device: DeviceArg,
    #[command(flatten)]
    trust: TrustDirArg,
    #[command(flatten)]
    fpga: FpgaArgs,
    /// Print one JSON object
    #[arg(long)]
    json: bool,
}

/// A verified package that this card does not take: the load policy
/// (target, contract, rollback) or the card's own checks refused it.
/// `hsmctl` exits with [`crate::exit::REFUSED`].
#[derive(Debug)]
pub struct NotLoadable(pub String);

impl std::fmt::Display for NotLoadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NotLoadable {}

/// Runs `hsmctl bitstream build`.
pub fn build(a: &BuildArgs) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let temp;
    let workdir = match &a.work_dir {
        Some(dir) => {
            if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
                bail!(
                    "{} is not empty; name an empty or new directory",
                    dir.display()
                );
            }
            dir.clone()
        }
        None => {
            temp = TempDir::new("hsmctl-build")?;
            temp.0.clone()
        }
    };
    let built = match a.target {
        Target::Sim => build_sim(&workdir)?,
        Target::Ecp5 => build_ecp5(a.block.as_deref(), &workdir)?,
    };
    let manifest = Manifest {
        target: built.target.to_owned(),
        design: built.design,
        design_version: env!("CARGO_PKG_VERSION").to_owned(),
        build_id: built.build_id,
        source_revision: a.source_revision.clone(),
        source_sha384: hsm_hdl::SOURCE_SHA384,
        contract_major: hsm_contract::CONTRACT_MAJOR,
        contract_minor: hsm_contract::CONTRACT_MINOR,
        security_version: a.security_version.unwrap_or(SECURITY_VERSION),
        tools: built.tools,
        resources: built.resources,
        images: built
            .images
            .iter()
            .map(|i| ImageEntry::describe(&i.name, &i.data))
            .collect(),
    };
    let images = built.images;
    let package = Package::new(manifest, images).context("making the package")?;
    let mut out = TempOut::create(&a.out, true)?;
    out.file()
        .write_all(&package.encode())
        .with_context(|| format!("writing {}", a.out.display()))?;
    out.commit()?;
    let m = package.manifest();
    eprintln!(
        "hsmctl: built {} in {:.0} s",
        a.out.display(),
        started.elapsed().as_secs_f64()
    );
    if a.json {
        print_json(&serde_json::json!({
            "package": a.out,
            "signed": false,
            "manifest": manifest_json(m),
            "manifest_sha384": hex(&hsm_bitstream::sha384(package.manifest_bytes())),
        }))?;
    } else {
        let mut text = format!(
            "{} (unsigned: sign it with `hsmctl bitstream sign`)\n",
            a.out.display()
        );
        text.push_str(&manifest_text(m));
        print_out(&text)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// What a target's build gives, for the manifest.
struct Built {
    target: &'static str,
    design: String,
    build_id: u64,
    tools: Vec<ToolVersion>,
    resources: Resources,
    images: Vec<hsm_bitstream::Image>,
}

/// The tool that made the Verilog.
fn rust_hdl() -> ToolVersion {
    ToolVersion {
        name: "rust-hdl".to_owned(),
        version: "0.46.0".to_owned(),
    }
}

/// The simulated card's image: `card.so` and `top.v`.
fn build_sim(workdir: &Path) -> anyhow::Result<Built> {
    eprintln!("hsmctl: exporting the card's Verilog from the RTL (hdl/)");
    let verilog = hsm_hdl::verilog();
    let mut progress = |line: &str| eprintln!("hsmctl: {line}");
    let built = hsm_sim::image::build(&verilog, workdir, &mut progress)
        .context("building the simulated card's image")?;
    let mut tools = vec![rust_hdl()];
    for (name, version) in &built.tools {
        tools.push(ToolVersion {
            name: name.clone(),
            version: printable(version),
        });
    }
    Ok(Built {
        target: hsm_sim::image::TARGET,
        design: DESIGN.to_owned(),
        build_id: hsm_hdl::BUILD_HASH,
        tools,
        resources: Resources::default(),
        images: vec![
            hsm_bitstream::Image {
                name: hsm_sim::image::LIBRARY_NAME.to_owned(),
                data: built.library,
            },
            hsm_bitstream::Image {
                name: hsm_sim::image::VERILOG_NAME.to_owned(),
                data: built.verilog,
            },
        ],
    })
}

/// One block of the card through the ECP5 flow, behind the five-pin scan
/// wrapper: `block-NAME.bit` (never `card.bit`, so the FPGA loader will not
/// take it for a card), nextpnr's report and the Verilog.
fn build_ecp5(block: Option<&str>, workdir: &Path) -> anyhow::Result<Built> {
    let names: Vec<&str> = hsm_hdl::Block::ALL.iter().map(|b| b.name()).collect();
    let Some(name) = block else {
        bail!(
            "--target ecp5 needs --block NAME ({}): the whole card does not get through \
             synthesis yet (the crypto engine alone ran over 40 minutes in Yosys)",
            names.join(", ")
        );
    };
    let block = hsm_hdl::Block::from_name(name)
        .with_context(|| format!("no block {name:?}; the blocks are {}", names.join(", ")))?;
    eprintln!("hsmctl: exporting block {block} from the RTL (hdl/)");
    let verilog = hsm_hdl::block_verilog(block);
    let wrapper = hsm_bitstream::ecp5::scan::scan_wrapper(&verilog, "top", "clock", &["reset"])
        .context("wrapping the block in its scan chain")?;
    let design_v = format!("{verilog}\n{wrapper}");
    let mut progress = |line: &str| eprintln!("hsmctl: {line}");
    let built = hsm_bitstream::ecp5::Ecp5Flow::default()
        .run(&design_v, "fpga_top", workdir, &mut progress)
        .context("running the ECP5 flow (install the tools with scripts/install-fpga-tools.sh)")?;
    if !built.timing_met {
        eprintln!(
            "hsmctl: warning: timing not met at the target frequency; fmax {} kHz",
            built.resources.fmax_khz.unwrap_or(0)
        );
    }
    let mut tools = vec![rust_hdl()];
    tools.extend(built.tools);
    Ok(Built {
        target: hsm_bitstream::fpga_manager::ECP5_TARGET,
        design: format!("{DESIGN}-block-{}", block.name().replace('_', "-")),
        build_id: 0,
        tools,
        resources: built.resources,
        images: vec![
            hsm_bitstream::Image {
                name: format!("block-{}.bit", block.name().replace('_', "-")),
                data: built.bitstream,
            },
            hsm_bitstream::Image {
                name: "design.v".to_owned(),
                data: design_v.into_bytes(),
            },
            hsm_bitstream::Image {
                name: "nextpnr-report.json".to_owned(),
                data: built.report_json.into_bytes(),
            },
        ],
    })
}

/// Runs `hsmctl bitstream load`.
pub fn load(a: &LoadArgs) -> anyhow::Result<ExitCode> {
    let fpga_manager = super::fpga::route(&a.device, &a.fpga)?;
    let (trust, dir) = load_trust(&a.trust, "loads")?;
    let package = match read_package(&a.package, &dir) {
        Ok(p) => p,
        Err(ReadFailure::Refused(r)) => return Err(r.into()),
        Err(ReadFailure::Other(e)) => return Err(e.context("reading the package to load")),
    };
    let verified = package
        .verify(&trust)
        .map_err(|e| Refused::new(&a.package, e, Some(&dir)))?;
    if let Some(manager) = fpga_manager {
        return super::fpga::load(
            &a.fpga,
            manager,
            a.device.given(),
            &a.package,
            &verified,
            a.json,
        );
    }
    let manifest = verified.manifest();
    let DeviceSpec::Sim(socket) = a.device.spec() else {
        bail!("a real card is loaded with --fpga-manager DEV");
    };
    let status =
        hsm_sim::control_status(&socket).map_err(|_| crate::sim::NotRunning(socket.clone()))?;
    LoadPolicy::for_driver(&status.target, status.min_security_version)
        .check(manifest)
        .map_err(|e| {
            NotLoadable(format!(
                "{} refused: {e}; the card was not touched",
                a.package.display()
            ))
        })?;
    let absolute = std::path::absolute(&a.package)
        .with_context(|| format!("resolving {}", a.package.display()))?;
    eprintln!("hsmctl: loading {} into the card", a.package.display());
    let info = hsm_sim::control_load(&socket, &absolute).map_err(|e| match e {
        hsm_sim::SimError::Image { reason, .. } => anyhow::Error::new(NotLoadable(format!(
            "the card refused {}: {reason}; it still runs its previous image",
            a.package.display()
        ))),
        other => anyhow::Error::new(other).context("asking the simulated card to load"),
    })?;
    // What came up must be what the manifest names.
    let card = a.device.open()?;
    let id = card.identify().context("reading the identity registers")?;
    if id.build_hash != manifest.build_id {
        bail!(
            "the card reports build {:016x} after the load, the manifest {:016x}",
            id.build_hash,
            manifest.build_id
        );
    }
    if a.json {
        print_json(&serde_json::json!({
            "device": a.device.spec().to_string(),
            "loaded": true,
            "key_id": verified.key_id().to_string(),
            "image": info,
            "manifest": manifest_json(manifest),
        }))?;
    } else {
        let mut text = format!(
            "{} loaded: the card runs {} {} (build {:016x}, security version {})\n",
            a.package.display(),
            manifest.design,
            manifest.design_version,
            id.build_hash,
            manifest.security_version
        );
        text.push_str(&format!("signed by key {}\n", verified.key_id()));
        print_out(&text)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Printable ASCII only (what a manifest's text fields allow), at most 128
/// bytes.
fn printable(s: &str) -> String {
    let t: String = s.chars().filter(|c| (' '..='~').contains(c)).collect();
    t.chars().take(hsm_bitstream::limits::TEXT).collect()
}

/// A temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(prefix: &str) -> anyhow::Result<TempDir> {
        let mut nonce = [0u8; 6];
        crate::crypt::random_bytes(&mut nonce)?;
        let dir =
            std::env::temp_dir().join(format!("{prefix}-{}-{}", std::process::id(), hex(&nonce)));
        std::fs::create_dir(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(TempDir(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
