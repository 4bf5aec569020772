// SPDX-License-Identifier: GPL-2.0
//! Command line (clap).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::device::Via;
use crate::mig::{parse_range, IovaRange};

const EXAMPLES: &str = "\
Examples:
  vfmigctl list
  vfmigctl status 0000:00:03.0
  vfmigctl save 0000:00:03.0 -o vf0.state --resume
  vfmigctl check vf0.state 0000:00:03.1 && vfmigctl restore 0000:00:03.1 -i vf0.state
  vfmigctl inspect vf0.state --json
  vfmigctl dirty 0000:00:03.0 --range 0x100000:2M --interval-ms 500 --count 4

Exit codes: 0 ok, 1 failure, 2 usage, 3 not bound to vfmig / no such device,
4 no permission, 5 group not viable / device busy, 6 driver offers no migration
(ENOTTY), 7 malformed state file, 8 incompatible state file, 9 transition refused.
See Documentation/vfmig/vfmigctl.rst.";

/// vfmigctl: save, restore, inspect and check vfmig VF state through the VFIO migration uAPI v2.
#[derive(Debug, Parser)]
#[command(name = "vfmigctl", version, after_help = EXAMPLES)]
pub struct Cli {
    /// No progress lines on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Machine-readable output: one JSON document on stdout, also for errors
    /// (`{"error": {"exit_code", "exit", "errno", "errno_value", "message"}}`).
    #[arg(long, global = true)]
    pub json: bool,
    /// sysfs root (tests).
    #[arg(long, global = true, hide = true, default_value = "/sys")]
    pub sysfs_root: PathBuf,
    /// /dev root (tests).
    #[arg(long, global = true, hide = true, default_value = "/dev")]
    pub dev_root: PathBuf,
    /// The command.
    #[command(subcommand)]
    pub cmd: Cmd,
}

/// Options for commands that open the device.
#[derive(Debug, Clone, clap::Args)]
pub struct OpenArgs {
    /// How to open the device: iommufd cdev, type1 group/container, or auto (cdev if present).
    #[arg(long, value_enum, default_value_t = Via::Auto)]
    pub via: Via,
    /// Accept any VFIO driver, not only vfmig.
    #[arg(long)]
    pub any_driver: bool,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// List SR-IOV VFs: PF, vendor:device, driver and binding.
    #[command(after_help = "Example:\n  vfmigctl list --json")]
    List,
    /// Driver, identity, VFIO nodes, migration flags, current state, stop-copy size.
    #[command(after_help = "Example:\n  vfmigctl status 0000:00:03.0 --via group")]
    Status {
        /// The VF (DDDD:BB:DD.F).
        bdf: String,
        /// Device open options.
        #[command(flatten)]
        open: OpenArgs,
    },
    /// Save the VF state: RUNNING -> (PRE_COPY) -> STOP_COPY, stream to FILE, then STOP (or RUNNING with --resume).
    #[command(after_help = "Example:\n  vfmigctl save 0000:00:03.0 -o vf0.state --resume")]
    Save {
        /// The VF.
        bdf: String,
        /// Output file.
        #[arg(short, long)]
        output: PathBuf,
        /// Return the device to RUNNING after saving (default: leave it in STOP).
        #[arg(long)]
        resume: bool,
        /// Do not use PRE_COPY even if the device offers it.
        #[arg(long)]
        no_precopy: bool,
        /// Device open options.
        #[command(flatten)]
        open: OpenArgs,
    },
    /// Load a state file: check compatibility, RESUMING, write, STOP, RUNNING.
    #[command(after_help = "Example:\n  vfmigctl restore 0000:00:03.1 -i vf0.state")]
    Restore {
        /// The VF.
        bdf: String,
        /// State file.
        #[arg(short, long)]
        input: PathBuf,
        /// Leave the device in STOP after loading.
        #[arg(long)]
        stay_stopped: bool,
        /// Device open options.
        #[command(flatten)]
        open: OpenArgs,
    },
    /// Decode every section of a state file (human table or JSON).
    #[command(after_help = "Example:\n  vfmigctl inspect vf0.state --json | jq .header")]
    Inspect {
        /// State file.
        file: PathBuf,
    },
    /// Would FILE load on BDF? Exit 0 if yes, 8 naming the differing field, 7 if malformed.
    #[command(after_help = "Example:\n  vfmigctl check vf0.state 0000:00:03.1; echo $?")]
    Check {
        /// State file.
        file: PathBuf,
        /// The destination VF.
        bdf: String,
    },
    /// Start device DMA dirty logging on IOVA ranges, report dirty ranges, stop.
    ///
    /// `--via auto` opens the device through its group here: vfmig's software tracker reads
    /// descriptors with vfio_dma_rw(), which needs a type1 container (through iommufd the driver
    /// offers no logging: PROBE answers ENOTTY, exit 6).
    #[command(
        after_help = "Example:\n  vfmigctl dirty 0000:00:03.0 --range 0x0:1G --range 0x100000000:512M --count 10"
    )]
    Dirty {
        /// The VF.
        bdf: String,
        /// IOVA:LEN (hex with 0x or decimal; LEN may end in K/M/G); repeatable.
        #[arg(long = "range", required = true, value_parser = parse_range)]
        ranges: Vec<IovaRange>,
        /// Tracking page size.
        #[arg(long, default_value_t = 4096)]
        page_size: u64,
        /// Milliseconds between reports.
        #[arg(long, default_value_t = 1000)]
        interval_ms: u64,
        /// Number of reports before stopping.
        #[arg(long, default_value_t = 3)]
        count: u32,
        /// Device open options.
        #[command(flatten)]
        open: OpenArgs,
    },
    /// Write the man pages or shell completions, generated from this command line, to DIR.
    #[command(
        hide = true,
        after_help = "Example:\n  vfmigctl generate man build/man\n  vfmigctl generate completions bash build/completions"
    )]
    Generate {
        /// What to generate.
        #[command(subcommand)]
        what: Generate,
    },
    /// (development) Write a synthetic valid state stream for a device identity.
    #[command(hide = true)]
    Synth {
        /// Output file.
        #[arg(short, long)]
        output: PathBuf,
        /// Take the identity from this device's sysfs entry.
        #[arg(long, conflicts_with = "identity")]
        like: Option<String>,
        /// VVVV:DDDD:SVVV:SDDD:RR (hex).
        #[arg(long)]
        identity: Option<String>,
    },
}

/// What `vfmigctl generate` writes.
#[derive(Debug, Subcommand)]
pub enum Generate {
    /// roff man pages: vfmigctl.1 and vfmigctl-VERB.1 for every verb.
    Man {
        /// Output directory (created if missing).
        dir: PathBuf,
    },
    /// A completion script for SHELL.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
        /// Output directory (created if missing).
        dir: PathBuf,
    },
}
