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
pub mod mig;
pub mod stream;
mod sys;
pub mod sysfs;
pub mod uapi;

use std::ffi::OsString;
use std::io::Write;

use clap::Parser;
use serde_json::json;
use vfmig_state::Identity;

use crate::cli::{Cli, Cmd, OpenArgs};
use crate::device::{features_text, Device, Via};
use crate::error::{errno_text, CtlError, Exit, Result};
use crate::mig::Progress;
use crate::stream::CheckOutcome;
use crate::sysfs::{normalize_bdf, Sysfs};

/// Parses `args` and runs; returns the process exit code. Errors are
/// printed to stderr as `vfmigctl: error: CAUSE`.
pub fn main_with_args<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                Exit::Usage.code()
            } else {
                0
            };
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match run(&cli, &mut out) {
        Ok(code) => code.code(),
        Err(e) => {
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

/// Runs a parsed command, writing results to `out`. Returns the exit code
/// for outcomes that are not errors (e.g. `check` finding a mismatch).
pub fn run(cli: &Cli, out: &mut dyn Write) -> Result<Exit> {
    let sysfs = Sysfs::new(&cli.sysfs_root);
    let mut prog = Progress::new(cli.quiet);
    match &cli.cmd {
        Cmd::List { json } => {
            let vfs = sysfs.list_vfs();
            if *json {
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
                write_out(out, &format!("{}\n", serde_json::Value::Array(v)))?;
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
        Cmd::Status { bdf, open, json } => {
            let bdf = normalize_bdf(bdf)?;
            let id = sysfs.identity(&bdf)?;
            let driver = sysfs.driver(&bdf);
            let mut mig = json!({"supported": false});
            let mig_text;
            let via;
            match open_device(&sysfs, cli, &bdf, open) {
                Ok(dev) => {
                    via = Some(format!("{} ({})", dev.via.name(), dev.node));
                    match dev.migration_flags() {
                        Ok(f) => {
                            let st = dev.state().map(|s| s.name().to_string());
                            let size = dev.data_size();
                            let dirty = dev.probe(
                                vfio_bindings::bindings::vfio::VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
                                vfio_bindings::bindings::vfio::VFIO_DEVICE_FEATURE_SET,
                            );
                            mig_text = format!(
                                "migration: supported, flags {}\nstate: {}\nstop-copy size: {}\ndirty tracking: {}\n",
                                features_text(f),
                                st.as_deref().unwrap_or("unknown"),
                                match &size { Ok(n) => format!("{n} bytes"), Err(e) => errno_text(e) },
                                if dirty.is_ok() { "supported" } else { "not supported" }
                            );
                            mig = json!({
                                "supported": true, "flags": f.0, "flags_text": features_text(f),
                                "state": st.ok(), "stop_copy_size": size.ok(),
                                "dirty_tracking": dirty.is_ok(),
                            });
                        }
                        Err(e) if e.exit == Exit::NoMigration => {
                            mig_text =
                                "migration: not supported (driver offers no migration: ENOTTY)\n"
                                    .into();
                            mig = json!({"supported": false, "reason": "ENOTTY"});
                        }
                        Err(e) => return Err(e),
                    }
                }
                Err(e) if e.exit == Exit::NotBound => {
                    via = None;
                    mig_text = format!("migration: n/a ({})\n", e.msg);
                    mig = json!({"supported": false, "reason": e.msg});
                }
                Err(e) => return Err(e),
            }
            let group = sysfs.iommu_group(&bdf);
            let cdev = sysfs.vfio_cdev(&bdf);
            let pf = sysfs.physfn(&bdf);
            if *json {
                let v = json!({
                    "bdf": bdf, "pf": pf, "driver": driver,
                    "identity": {
                        "vendor": format!("{:04x}", id.vendor), "device": format!("{:04x}", id.device),
                        "subsys_vendor": format!("{:04x}", id.subsys_vendor),
                        "subsys_device": format!("{:04x}", id.subsys_device),
                        "revision": format!("{:02x}", id.revision),
                    },
                    "provider": sysfs::provider_for(&id).map(|p| p.name()),
                    "iommu_group": group, "vfio_cdev": cdev, "opened_via": via,
                    "migration": mig,
                });
                write_out(out, &format!("{v:#}\n"))?;
            } else {
                let s = format!(
                    "device: {bdf}\npf: {}\ndriver: {}\nidentity: {:04x}:{:04x} subsys {:04x}:{:04x} rev {:02x}\nprovider: {}\niommu group: {}\nvfio cdev: {}\nopened via: {}\n{mig_text}",
                    pf.as_deref().unwrap_or("-"),
                    driver.as_deref().unwrap_or("none"),
                    id.vendor, id.device, id.subsys_vendor, id.subsys_device, id.revision,
                    sysfs::provider_for(&id).map(|p| p.name()).unwrap_or("none (vfmig cannot migrate this device)"),
                    group.map(|g| g.to_string()).unwrap_or_else(|| "-".into()),
                    cdev.as_deref().unwrap_or("-"),
                    via.as_deref().unwrap_or("-"),
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
            write_out(
                out,
                &format!(
                    "saved {} bytes (stop-copy; {} bytes of pre-copy initial data read and superseded) from {bdf} to {}; device left in {}\n",
                    rep.stopcopy_bytes,
                    rep.precopy_bytes,
                    output.display(),
                    rep.final_state.map(|s| s.name()).unwrap_or("?")
                ),
            )?;
            if let Some(e) = r.error {
                return Err(CtlError::new(
                    Exit::BadStream,
                    format!("the driver produced a stream the shared decoder rejects: {e}"),
                ));
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
            write_out(
                out,
                &format!(
                    "restored {} bytes from {} into {bdf}; device now {}\n",
                    data.len(),
                    input.display(),
                    st.name()
                ),
            )?;
            Ok(Exit::Ok)
        }
        Cmd::Inspect { file, json } => {
            let data = read_file(file)?;
            let r = stream::decode(&data, None);
            let name = file.display().to_string();
            if *json {
                write_out(out, &format!("{:#}\n", stream::render_json(&name, &r)))?;
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
            write_out(out, &format!("{}\n", c.message(&bdf)))?;
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
            let mut buf = Vec::new();
            let r = mig::dirty(&dev, &o, &mut buf, &prog);
            write_out(out, &String::from_utf8_lossy(&buf))?;
            r.map(|()| Exit::Ok)
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
            Ok(Exit::Ok)
        }
    }
}
