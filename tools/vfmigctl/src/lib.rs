// SPDX-License-Identifier: GPL-2.0
//! vfmigctl: the operator tool of vfmig. It drives save, restore, inspect,
//! compatibility checks and dirty tracking through the VFIO uAPI, using
//! rust-vmm's `vfio-bindings` for the kernel structures and `vfmig_state`
//! (the shared `rust/shared/` source) for the stream format and the
//! migration state machine. Reference: `Documentation/vfmig/vfmigctl.rst`.
//!
//! The library part is what the binary runs ([`run`]) and what tests share.

pub mod cli;
pub mod device;
pub mod error;
pub mod generate;
pub mod mig;
pub mod stream;
mod sys;
pub mod sysfs;
pub mod uapi;

use std::ffi::OsString;
use std::io::Write;

use clap::Parser;
use serde_json::{json, Value};
use vfmig_state::Identity;

use crate::cli::{Cli, Cmd, Generate, OpenArgs};
use crate::device::{features_text, Device, Via};
use crate::error::{errno_text, CtlError, Exit, Result};
use crate::mig::Progress;
use crate::stream::CheckOutcome;
use crate::sysfs::{normalize_bdf, Sysfs};

/// Parses `args` and runs; returns the process exit code. Errors are
/// printed to stderr as `vfmigctl: error: CAUSE`; with `--json` also as one
/// JSON document on stdout (see [`CtlError::to_json`]).
pub fn main_with_args<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(c) => c,
        Err(e) => {
            if !e.use_stderr() {
                let _ = e.print();
                return 0;
            }
            // A usage error: with --json anywhere on the line, as JSON too.
            if args.iter().skip(1).any(|a| a == "--json") {
                let text = e.render().to_string();
                let first = text.lines().next().unwrap_or_default();
                let err = CtlError::new(Exit::Usage, first.trim_start_matches("error: "));
                println!("{:#}", err.to_json());
            }
            let _ = e.print();
            return Exit::Usage.code();
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match run(&cli, &mut out) {
        Ok(code) => code.code(),
        Err(e) => {
            if cli.json {
                let _ = writeln!(out, "{:#}", e.to_json());
            }
            let _ = out.flush();
            eprintln!("vfmigctl: error: {e}");
            e.exit.code()
        }
    }
}

fn read_file(p: &std::path::Path) -> Result<Vec<u8>> {
    std::fs::read(p).map_err(|e| {
        let mut c = CtlError::os(&format!("read {}", p.display()), &e);
        if c.exit == Exit::NotBound {
            c.exit = Exit::Failure;
        }
        c
    })
}

fn open_device(sysfs: &Sysfs, cli: &Cli, bdf: &str, o: &OpenArgs) -> Result<Device> {
    sysfs.require_vfio(bdf, o.any_driver)?;
    Device::open(sysfs, &cli.dev_root, bdf, o.via)
}

fn parse_identity(s: &str) -> Result<Identity> {
    let p: Vec<&str> = s.split(':').collect();
    let bad = || {
        CtlError::new(
            Exit::Usage,
            format!("'{s}': expected VVVV:DDDD:SVVV:SDDD:RR (hex)"),
        )
    };
    let h16 = |t: &&str| u16::from_str_radix(t, 16).map_err(|_| bad());
    match p.as_slice() {
        [v, d, sv, sd, r] => Ok(Identity {
            vendor: h16(v)?,
            device: h16(d)?,
            subsys_vendor: h16(sv)?,
            subsys_device: h16(sd)?,
            revision: u8::from_str_radix(r, 16).map_err(|_| bad())?,
        }),
        _ => Err(bad()),
    }
}

fn write_out(out: &mut dyn Write, s: &str) -> Result<()> {
    out.write_all(s.as_bytes())
        .map_err(|e| CtlError::os("write stdout", &e))
}

fn write_json(out: &mut dyn Write, v: &Value) -> Result<()> {
    write_out(out, &format!("{v:#}\n"))
}

fn identity_json(id: &Identity) -> Value {
    json!({
        "vendor": format!("{:04x}", id.vendor), "device": format!("{:04x}", id.device),
        "subsys_vendor": format!("{:04x}", id.subsys_vendor),
        "subsys_device": format!("{:04x}", id.subsys_device),
        "revision": format!("{:02x}", id.revision),
    })
}

/// What `status` learnt about migration: text lines and JSON.
struct MigFacts {
    text: String,
    json: Value,
    via: Option<String>,
    in_use: bool,
}

/// Whether a failed open means another user holds the device: the group or
/// device is busy (`EBUSY`), or, through the cdev, the bind is refused
/// (`EINVAL`) while vfmig's debugfs says the device is open.
fn held_elsewhere(e: &CtlError, debugfs: Option<&[(String, String)]>) -> bool {
    let open_in_debugfs =
        debugfs.is_some_and(|d| d.iter().any(|(k, v)| k == "device" && v == "open"));
    e.errno == Some(libc::EBUSY) || (e.errno == Some(libc::EINVAL) && open_in_debugfs)
}

/// `status` of a device another process holds: the read-only facts of vfmig's
/// debugfs `state` file (if readable), and the open error.
fn in_use_facts(e: &CtlError, debugfs: Option<&[(String, String)]>, path: &str) -> MigFacts {
    let mut text = format!(
        "migration: in use (the device is held by another process, e.g. a VMM: {})\n",
        e.msg
    );
    if let Some(d) = debugfs {
        text.push_str(&format!("debugfs ({path}):\n"));
        for (k, v) in d {
            text.push_str(&format!("  {k}: {v}\n"));
        }
    } else {
        text.push_str(&format!(
            "debugfs: {path} not readable (mount debugfs, run as root)\n"
        ));
    }
    let json = json!({
        "supported": Value::Null, "in_use": true, "reason": e.msg,
        "errno": e.errno.map(error::errno_name),
        "state": debugfs.and_then(|d| d.iter().find(|(k, _)| k == "migration_state")).map(|(_, v)| v.clone()),
        "debugfs": debugfs.map(|d| d.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect::<serde_json::Map<_, _>>()),
    });
    MigFacts {
        text,
        json,
        via: None,
        in_use: true,
    }
}

fn status_facts(sysfs: &Sysfs, cli: &Cli, bdf: &str, open: &OpenArgs) -> Result<MigFacts> {
    let dev = match open_device(sysfs, cli, bdf, open) {
        Ok(d) => d,
        Err(e) if e.exit == Exit::NotBound => {
            return Ok(MigFacts {
                text: format!("migration: n/a ({})\n", e.msg),
                json: json!({"supported": false, "in_use": false, "reason": e.msg}),
                via: None,
                in_use: false,
            })
        }
        Err(e) => {
            let d = sysfs.vfmig_debugfs_state(bdf);
            if held_elsewhere(&e, d.as_deref()) {
                let path = sysfs.vfmig_debugfs_path(bdf).display().to_string();
                return Ok(in_use_facts(&e, d.as_deref(), &path));
            }
            return Err(e);
        }
    };
    let via = Some(format!("{} ({})", dev.via.name(), dev.node));
    match dev.migration_flags() {
        Ok(f) => {
            let st = dev.state().map(|s| s.name().to_string());
            let size = dev.data_size();
            let dirty = dev.probe(
                vfio_bindings::bindings::vfio::VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
                vfio_bindings::bindings::vfio::VFIO_DEVICE_FEATURE_SET,
            );
            Ok(MigFacts {
                text: format!(
                    "migration: supported, flags {}\nstate: {}\nstop-copy size: {}\ndirty tracking: {}\n",
                    features_text(f),
                    st.as_deref().unwrap_or("unknown"),
                    match &size { Ok(n) => format!("{n} bytes"), Err(e) => errno_text(e) },
                    if dirty.is_ok() { "supported" } else { "not supported" }
                ),
                json: json!({
                    "supported": true, "in_use": false, "flags": f.0, "flags_text": features_text(f),
                    "state": st.ok(), "stop_copy_size": size.ok(),
                    "dirty_tracking": dirty.is_ok(),
                }),
                via,
                in_use: false,
            })
        }
        Err(e) if e.exit == Exit::NoMigration => Ok(MigFacts {
            text: "migration: not supported (driver offers no migration: ENOTTY)\n".into(),
            json: json!({"supported": false, "in_use": false, "reason": "ENOTTY"}),
            via,
            in_use: false,
        }),
        Err(e) => Err(e),
    }
}

/// Runs a parsed command, writing results to `out` (one JSON document with
/// `--json`). Returns the exit code for outcomes that are not errors (e.g.
/// `check` finding a mismatch).
pub fn run(cli: &Cli, out: &mut dyn Write) -> Result<Exit> {
    let sysfs = Sysfs::new(&cli.sysfs_root);
    let mut prog = Progress::new(cli.quiet);
    match &cli.cmd {
        Cmd::List => {
            let vfs = sysfs.list_vfs();
            if cli.json {
                let v: Vec<_> = vfs
                    .iter()
                    .map(|f| {
                        json!({
                            "bdf": f.bdf, "pf": f.pf, "index": f.index,
                            "vendor": format!("{:04x}", f.vendor), "device": format!("{:04x}", f.device),
                            "driver": f.driver, "iommu_group": f.iommu_group,
                            "vfio_cdev": f.vfio_cdev, "binding": f.binding(),
                        })
                    })
                    .collect();
                write_out(out, &format!("{}\n", Value::Array(v)))?;
            } else {
                let mut s = format!(
                    "{:<13} {:<13} {:>3} {:<9} {:<8} {:>5} {:<8} BINDING\n",
                    "VF", "PF", "IDX", "ID", "DRIVER", "GROUP", "CDEV"
                );
                for f in &vfs {
                    s.push_str(&format!(
                        "{:<13} {:<13} {:>3} {:04x}:{:04x} {:<8} {:>5} {:<8} {}\n",
                        f.bdf,
                        f.pf,
                        f.index.map(|i| i.to_string()).unwrap_or_else(|| "-".into()),
                        f.vendor,
                        f.device,
                        f.driver.as_deref().unwrap_or("-"),
                        f.iommu_group
                            .map(|g| g.to_string())
                            .unwrap_or_else(|| "-".into()),
                        f.vfio_cdev.as_deref().unwrap_or("-"),
                        f.binding()
                    ));
                }
                if vfs.is_empty() {
                    s.push_str("(no SR-IOV VFs)\n");
                }
                write_out(out, &s)?;
            }
            Ok(Exit::Ok)
        }
        Cmd::Status { bdf, open } => {
            let bdf = normalize_bdf(bdf)?;
            let id = sysfs.identity(&bdf)?;
            let driver = sysfs.driver(&bdf);
            let facts = status_facts(&sysfs, cli, &bdf, open)?;
            let group = sysfs.iommu_group(&bdf);
            let cdev = sysfs.vfio_cdev(&bdf);
            let pf = sysfs.physfn(&bdf);
            let provider = sysfs::provider_for(&id).map(|p| p.name());
            if cli.json {
                let v = json!({
                    "bdf": bdf, "pf": pf, "driver": driver,
                    "identity": identity_json(&id),
                    "provider": provider,
                    "iommu_group": group, "vfio_cdev": cdev, "opened_via": facts.via,
                    "in_use": facts.in_use,
                    "migration": facts.json,
                });
                write_json(out, &v)?;
            } else {
                let s = format!(
                    "device: {bdf}\npf: {}\ndriver: {}\nidentity: {:04x}:{:04x} subsys {:04x}:{:04x} rev {:02x}\nprovider: {}\niommu group: {}\nvfio cdev: {}\nopened via: {}\n{}",
                    pf.as_deref().unwrap_or("-"),
                    driver.as_deref().unwrap_or("none"),
                    id.vendor, id.device, id.subsys_vendor, id.subsys_device, id.revision,
                    provider.unwrap_or("none (vfmig cannot migrate this device)"),
                    group.map(|g| g.to_string()).unwrap_or_else(|| "-".into()),
                    cdev.as_deref().unwrap_or("-"),
                    facts.via.as_deref().unwrap_or(if facts.in_use { "- (in use)" } else { "-" }),
                    facts.text,
                );
                write_out(out, &s)?;
            }
            Ok(Exit::Ok)
        }
        Cmd::Save {
            bdf,
            output,
            resume,
            no_precopy,
            open,
        } => {
            let bdf = normalize_bdf(bdf)?;
            let dev = open_device(&sysfs, cli, &bdf, open)?;
            // Fail on ENOTTY before creating the output file.
            dev.migration_flags()?;
            let tmp = output.with_extension("partial");
            let mut f = std::io::BufWriter::new(
                std::fs::File::create(&tmp)
                    .map_err(|e| CtlError::os(&format!("create {}", tmp.display()), &e))?,
            );
            let opts = mig::SaveOpts {
                precopy: !no_precopy,
                resume: *resume,
            };
            let rep = match mig::save(&dev, &mut f, opts, &mut prog) {
                Ok(r) => r,
                Err(e) => {
                    drop(f);
                    let _ = std::fs::remove_file(&tmp);
                    return Err(e);
                }
            };
            f.flush().map_err(|e| CtlError::os("flush output", &e))?;
            drop(f);
            std::fs::rename(&tmp, output)
                .map_err(|e| CtlError::os(&format!("rename to {}", output.display()), &e))?;
            let data = read_file(output)?;
            let r = stream::decode(&data, None);
            let final_state = rep.final_state.map(|s| s.name()).unwrap_or("?");
            if let Some(e) = r.error {
                return Err(CtlError::new(
                    Exit::BadStream,
                    format!("the driver produced a stream the shared decoder rejects: {e}"),
                ));
            }
            if cli.json {
                write_json(
                    out,
                    &json!({
                        "bdf": bdf, "file": output.display().to_string(),
                        "bytes": data.len(), "stop_copy_bytes": rep.stopcopy_bytes,
                        "precopy_bytes": rep.precopy_bytes, "state": final_state,
                        "valid": true,
                    }),
                )?;
            } else {
                write_out(
                    out,
                    &format!(
                        "saved {} bytes (stop-copy; {} bytes of pre-copy initial data read and superseded) from {bdf} to {}; device left in {final_state}\n",
                        rep.stopcopy_bytes,
                        rep.precopy_bytes,
                        output.display(),
                    ),
                )?;
            }
            Ok(Exit::Ok)
        }
        Cmd::Restore {
            bdf,
            input,
            stay_stopped,
            open,
        } => {
            let bdf = normalize_bdf(bdf)?;
            let data = read_file(input)?;
            let id = sysfs.identity(&bdf)?;
            let c = stream::check_stream(&data, id);
            if !matches!(c, CheckOutcome::Compatible(_)) {
                return Err(CtlError::new(c.exit(), c.message(&bdf)));
            }
            prog.say(&c.message(&bdf));
            let dev = open_device(&sysfs, cli, &bdf, open)?;
            let st = mig::restore(
                &dev,
                &data,
                mig::RestoreOpts {
                    stay_stopped: *stay_stopped,
                },
                &mut prog,
            )?;
            if cli.json {
                write_json(
                    out,
                    &json!({
                        "bdf": bdf, "file": input.display().to_string(),
                        "bytes": data.len(), "state": st.name(),
                    }),
                )?;
            } else {
                write_out(
                    out,
                    &format!(
                        "restored {} bytes from {} into {bdf}; device now {}\n",
                        data.len(),
                        input.display(),
                        st.name()
                    ),
                )?;
            }
            Ok(Exit::Ok)
        }
        Cmd::Inspect { file } => {
            let data = read_file(file)?;
            let r = stream::decode(&data, None);
            let name = file.display().to_string();
            if cli.json {
                write_json(out, &stream::render_json(&name, &r))?;
            } else {
                write_out(out, &stream::render_text(&name, &r))?;
            }
            Ok(if r.error.is_none() {
                Exit::Ok
            } else {
                Exit::BadStream
            })
        }
        Cmd::Check { file, bdf } => {
            let bdf = normalize_bdf(bdf)?;
            let data = read_file(file)?;
            let id = sysfs.identity(&bdf)?;
            let c = stream::check_stream(&data, id);
            if cli.json {
                write_json(
                    out,
                    &stream::check_json(&c, &bdf, &file.display().to_string(), &id),
                )?;
            } else {
                write_out(out, &format!("{}\n", c.message(&bdf)))?;
            }
            Ok(c.exit())
        }
        Cmd::Dirty {
            bdf,
            ranges,
            page_size,
            interval_ms,
            count,
            open,
        } => {
            let bdf = normalize_bdf(bdf)?;
            // A software dirty tracker (vfmig's) reads descriptors with vfio_dma_rw(), which
            // needs a type1 container: `auto` means the group path here.
            let mut open = open.clone();
            if open.via == Via::Auto {
                open.via = Via::Group;
            }
            let dev = open_device(&sysfs, cli, &bdf, &open)?;
            let o = mig::DirtyOpts {
                ranges: ranges.clone(),
                page_size: *page_size,
                interval: std::time::Duration::from_millis(*interval_ms),
                count: *count,
            };
            let mut reports = Vec::new();
            let r = mig::dirty(&dev, &o, &mut reports, &prog);
            if cli.json {
                // On an error the error document is the output (the rounds done are lost).
                if r.is_ok() {
                    write_json(
                        out,
                        &json!({
                            "bdf": bdf, "via": dev.via.name(), "page_size": page_size,
                            "reports": mig::dirty_json(&reports),
                        }),
                    )?;
                }
            } else {
                write_out(out, &mig::dirty_text(&reports))?;
            }
            r.map(|()| Exit::Ok)
        }
        Cmd::Generate { what } => {
            let files = match what {
                Generate::Man { dir } => generate::man(dir)?,
                Generate::Completions { shell, dir } => vec![generate::completions(*shell, dir)?],
            };
            if cli.json {
                let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
                write_json(out, &json!({ "written": names }))?;
            } else {
                for f in &files {
                    write_out(out, &format!("wrote {}\n", f.display()))?;
                }
            }
            Ok(Exit::Ok)
        }
        Cmd::Synth {
            output,
            like,
            identity,
        } => {
            let id = match (like, identity) {
                (Some(b), _) => sysfs.identity(&normalize_bdf(b)?)?,
                (None, Some(s)) => parse_identity(s)?,
                (None, None) => vfmig_state::igb::identity(0x8086, 0, 1),
            };
            let data = stream::synth(id)?;
            std::fs::write(output, &data)
                .map_err(|e| CtlError::os(&format!("write {}", output.display()), &e))?;
            if cli.json {
                write_json(
                    out,
                    &json!({
                        "file": output.display().to_string(), "bytes": data.len(),
                        "identity": identity_json(&id),
                    }),
                )?;
            } else {
                write_out(
                    out,
                    &format!(
                        "wrote {} bytes for {:04x}:{:04x} subsys {:04x}:{:04x} rev {:02x} to {}\n",
                        data.len(),
                        id.vendor,
                        id.device,
                        id.subsys_vendor,
                        id.subsys_device,
                        id.revision,
                        output.display()
                    ),
                )?;
            }
            Ok(Exit::Ok)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn busy() -> CtlError {
        CtlError::os(
            "open /dev/vfio/7",
            &std::io::Error::from_raw_os_error(libc::EBUSY),
        )
    }

    #[test]
    fn in_use_is_reported_from_debugfs() {
        let d: Vec<(String, String)> = [
            ("provider", "intel-82576-vf"),
            ("device", "open"),
            ("migration_state", "RUNNING"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let e = busy();
        assert!(held_elsewhere(&e, None));
        let f = in_use_facts(
            &e,
            Some(&d),
            "/sys/kernel/debug/vfio/0000:01:10.0/vfmig/state",
        );
        assert!(f.in_use && f.via.is_none());
        assert!(
            f.text.starts_with("migration: in use (the device is held by another process, e.g. a VMM: open /dev/vfio/7: EBUSY"),
            "{}",
            f.text
        );
        assert!(
            f.text.contains("\n  migration_state: RUNNING\n"),
            "{}",
            f.text
        );
        assert_eq!(f.json["in_use"], true);
        assert_eq!(f.json["errno"], "EBUSY");
        assert_eq!(f.json["state"], "RUNNING");
        assert_eq!(f.json["debugfs"]["provider"], "intel-82576-vf");
        let f = in_use_facts(&e, None, "/x/state");
        assert!(
            f.text.contains("debugfs: /x/state not readable"),
            "{}",
            f.text
        );
        assert!(f.json["debugfs"].is_null() && f.json["state"].is_null());
        // Through the cdev a second user gets EINVAL at bind: in use only if debugfs says open.
        let inval = CtlError::os("bind", &std::io::Error::from_raw_os_error(libc::EINVAL));
        assert!(held_elsewhere(&inval, Some(&d)));
        assert!(!held_elsewhere(&inval, Some(&d[..1])));
        assert!(!held_elsewhere(&inval, None));
        let perm = CtlError::os("open", &std::io::Error::from_raw_os_error(libc::EACCES));
        assert!(!held_elsewhere(&perm, Some(&d)));
    }
}
