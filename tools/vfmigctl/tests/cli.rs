// SPDX-License-Identifier: GPL-2.0
//! Host-side tests of vfmigctl: argument parsing, `inspect` on the golden
//! vectors of `vfmig-state`, the JSON shape, and `check`/`status`/`list`
//! against a fake sysfs tree. Device I/O is tested in the guest
//! (`tools/testing/selftests/vfmig/suite_vfmigctl.sh`).
#![allow(unreachable_pub, missing_docs)]

use std::path::{Path, PathBuf};

use clap::Parser;
use vfmig_state::describe_stream;
use vfmigctl::cli::{Cli, Cmd};
use vfmigctl::device::Via;
use vfmigctl::error::Exit;

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../vfmig-state/tests/golden")
        .join(format!("{name}.bin"))
}

/// Runs vfmigctl in-process: (exit code, stdout, error message).
fn run(args: &[&str]) -> (i32, String, String) {
    let mut argv = vec!["vfmigctl", "-q"];
    argv.extend_from_slice(args);
    let cli = match Cli::try_parse_from(&argv) {
        Ok(c) => c,
        Err(e) => return (Exit::Usage.code(), String::new(), e.to_string()),
    };
    let mut out = Vec::new();
    let r = vfmigctl::run(&cli, &mut out);
    let out = String::from_utf8(out).unwrap();
    match r {
        Ok(x) => (x.code(), out, String::new()),
        Err(e) => (e.exit.code(), out, e.msg),
    }
}

#[test]
fn parse_save_and_dirty() {
    let c = Cli::try_parse_from([
        "vfmigctl", "save", "00:03.0", "-o", "f", "--resume", "--via", "group",
    ])
    .unwrap();
    match c.cmd {
        Cmd::Save {
            bdf,
            output,
            resume,
            no_precopy,
            open,
        } => {
            assert_eq!(bdf, "00:03.0");
            assert_eq!(output, PathBuf::from("f"));
            assert!(resume && !no_precopy);
            assert_eq!(open.via, Via::Group);
        }
        other => panic!("{other:?}"),
    }
    let c = Cli::try_parse_from([
        "vfmigctl",
        "dirty",
        "0000:00:03.0",
        "--range",
        "0x1000:8K",
        "--range",
        "1M:1M",
    ])
    .unwrap();
    match c.cmd {
        Cmd::Dirty { ranges, count, .. } => {
            assert_eq!(ranges.len(), 2);
            assert_eq!((ranges[0].iova, ranges[0].len), (0x1000, 8192));
            assert_eq!((ranges[1].iova, ranges[1].len), (1 << 20, 1 << 20));
            assert_eq!(count, 3);
        }
        other => panic!("{other:?}"),
    }
    // Usage errors: clap's exit code 2.
    for bad in [
        &["vfmigctl", "dirty", "0000:00:03.0"][..],
        &["vfmigctl", "dirty", "0000:00:03.0", "--range", "0x1000"],
        &["vfmigctl", "save", "0000:00:03.0"],
        &["vfmigctl", "status", "x", "--via", "vfio"],
        &["vfmigctl", "check", "f"],
    ] {
        assert!(Cli::try_parse_from(bad).is_err(), "{bad:?}");
    }
    assert_eq!(run(&["status", "nonsense"]).0, Exit::Usage.code());
    assert_eq!(vfmigctl::main_with_args(["vfmigctl", "frobnicate"]), 2);
    assert_eq!(vfmigctl::main_with_args(["vfmigctl", "--help"]), 0);
}

#[test]
fn bdf_normalization() {
    use vfmigctl::sysfs::normalize_bdf;
    assert_eq!(normalize_bdf("0:3.1").unwrap(), "0000:00:03.1");
    assert_eq!(normalize_bdf("0000:01:10.7").unwrap(), "0000:01:10.7");
    assert!(normalize_bdf("00:20.0").is_err());
    assert!(normalize_bdf("00:03").is_err());
}

const ALL: [&str; 8] = [
    "igb-v1.0-full",
    "igb-v1.0-minimal",
    "igb-v1.7-unknown-optional",
    "igb-v1.7-unknown-mandatory",
    "igb-v2.0-major",
    "other-device",
    "bad-crc",
    "truncated",
];

#[test]
fn inspect_golden_vectors() {
    for name in ALL {
        let p = golden(name);
        let data = std::fs::read(&p).unwrap();
        let (code, out, _) = run(&["inspect", p.to_str().unwrap()]);
        // inspect checks no identity: other-device is a valid stream.
        let want = describe_stream(&data, None);
        let valid = !want.starts_with("error");
        assert_eq!(code, if valid { 0 } else { 7 }, "{name}\n{out}");
        if valid {
            // Every fact of the shared renderer appears (indented) in the table.
            for line in want
                .lines()
                .skip_while(|l| !l.starts_with("sections:"))
                .skip(1)
            {
                assert!(
                    out.contains(&format!("  {line}\n")),
                    "{name}: missing '{line}'\n{out}"
                );
            }
            assert!(out.contains("result: valid"), "{name}");
        } else {
            let msg = want.trim_end();
            assert!(
                out.contains(&format!("result: INVALID: {msg}")),
                "{name}: {out}"
            );
        }
    }
    let (_, out, _) = run(&[
        "inspect",
        golden("igb-v1.7-unknown-optional").to_str().unwrap(),
    ]);
    assert!(
        out.contains("0x0040  unknown          OPTIONAL     0      24  skipped"),
        "{out}"
    );
    assert!(
        out.contains("0x8100  unknown-private  OPTIONAL     3      16  skipped"),
        "{out}"
    );
    let (_, out, _) = run(&["inspect", golden("igb-v1.0-full").to_str().unwrap()]);
    assert!(
        out.contains("identity       8086:10ca subsys 8086:0000 rev 01"),
        "{out}"
    );
    assert!(
        out.contains("      40  0x0001  rx-ring          -            0      40  decoded"),
        "{out}"
    );
}

#[test]
fn inspect_json_shape() {
    for name in ALL {
        let p = golden(name);
        let (code, out, _) = run(&["inspect", "--json", p.to_str().unwrap()]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let valid = v["valid"].as_bool().unwrap();
        assert_eq!(code == 0, valid, "{name}");
        assert_eq!(
            v["length"].as_u64().unwrap() as usize,
            std::fs::read(&p).unwrap().len()
        );
        assert!(v["sections"].is_array());
        for s in v["sections"].as_array().unwrap() {
            for k in [
                "offset", "type", "name", "flags", "optional", "instance", "length", "status",
            ] {
                assert!(!s[k].is_null(), "{name}: section lacks {k}");
            }
        }
        if valid {
            assert!(v["error"].is_null());
            let h = &v["header"];
            for k in [
                "major",
                "minor",
                "provider_id",
                "provider",
                "provider_compat",
                "flags",
                "total_len",
                "section_count",
            ] {
                assert!(!h[k].is_null(), "{name}: header lacks {k}");
            }
            for k in [
                "vendor",
                "device",
                "subsys_vendor",
                "subsys_device",
                "revision",
            ] {
                assert!(h["identity"][k].is_u64(), "{name}: identity lacks {k}");
            }
            let st = &v["state"];
            assert_eq!(st["rx"].as_array().unwrap().len(), 2);
            assert_eq!(st["tx"].as_array().unwrap().len(), 2);
            assert!(st["irq"]["itr"].is_array());
            assert!(st["mailbox"]["mem"].is_array());
            assert!(st["pf_vf"]["mac"].is_string());
        } else {
            let e = &v["error"];
            for k in [
                "kind", "errno", "field", "expected", "found", "offset", "message",
            ] {
                assert!(!e[k].is_null(), "{name}: error lacks {k}");
            }
            assert!(v["state"].is_null());
        }
    }
    let (_, out, _) = run(&["inspect", "--json", golden("bad-crc").to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["error"]["kind"], "bad-crc");
    assert_eq!(v["error"]["field"], "trailer.crc32c");
    assert_eq!(v["header"]["identity"]["device"], 0x10ca);
}

/// A fake sysfs with one PF and two VFs.
struct FakeSys {
    root: PathBuf,
}

impl FakeSys {
    fn new(tag: &str) -> Self {
        let root = std::env::temp_dir().join(format!("vfmigctl-test-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let devs = root.join("bus/pci/devices");
        std::fs::create_dir_all(&devs).unwrap();
        let pf = "0000:01:00.0";
        Self::dev(&devs, pf, "0x10c9", "0x0000", "0x01");
        for (i, vf) in ["0000:01:10.0", "0000:01:10.2"].iter().enumerate() {
            Self::dev(&devs, vf, "0x10ca", "0x0000", "0x01");
            std::os::unix::fs::symlink(format!("../{pf}"), devs.join(vf).join("physfn")).unwrap();
            std::os::unix::fs::symlink(
                format!("../{vf}"),
                devs.join(pf).join(format!("virtfn{i}")),
            )
            .unwrap();
        }
        std::os::unix::fs::symlink(
            "../../../kernel/iommu_groups/12",
            devs.join("0000:01:10.0/iommu_group"),
        )
        .unwrap();
        std::os::unix::fs::symlink(
            "../../../bus/pci/drivers/igbvf",
            devs.join("0000:01:10.2/driver"),
        )
        .unwrap();
        Self { root }
    }

    fn dev(devs: &Path, bdf: &str, device: &str, subsys: &str, rev: &str) {
        let d = devs.join(bdf);
        std::fs::create_dir_all(&d).unwrap();
        for (k, v) in [
            ("vendor", "0x8086"),
            ("device", device),
            ("subsystem_vendor", "0x8086"),
            ("subsystem_device", subsys),
            ("revision", rev),
        ] {
            std::fs::write(d.join(k), format!("{v}\n")).unwrap();
        }
    }

    fn arg(&self) -> String {
        self.root.to_str().unwrap().to_string()
    }
}

impl Drop for FakeSys {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

#[test]
fn check_against_fake_device() {
    let fs = FakeSys::new("check");
    let root = fs.arg();
    let chk = |name: &str| {
        let (code, out, err) = run(&[
            "--sysfs-root",
            &root,
            "check",
            golden(name).to_str().unwrap(),
            "01:10.0",
        ]);
        (code, out + &err)
    };
    let (c, m) = chk("igb-v1.0-full");
    assert_eq!(c, 0, "{m}");
    assert!(m.starts_with("compatible:"), "{m}");
    let (c, m) = chk("other-device");
    assert_eq!(c, 8, "{m}");
    assert_eq!(
        m.trim(),
        "incompatible: header.device differs: stream 0x10ed, device 0000:01:10.0 0x10ca"
    );
    let (c, m) = chk("igb-v2.0-major");
    assert_eq!(c, 8, "{m}");
    assert!(m.contains("header.major"), "{m}");
    let (c, m) = chk("igb-v1.7-unknown-mandatory");
    assert_eq!(c, 8, "{m}");
    assert!(m.contains("section.type"), "{m}");
    assert_eq!(chk("igb-v1.7-unknown-optional").0, 0);
    assert_eq!(chk("bad-crc").0, 7);
    assert_eq!(chk("truncated").0, 7);

    // Subsystem and revision are part of the identity.
    let synth = fs.root.join("s.bin");
    let s = synth.to_str().unwrap();
    assert_eq!(
        run(&[
            "--sysfs-root",
            &root,
            "synth",
            "-o",
            s,
            "--identity",
            "8086:10ca:8086:0001:01"
        ])
        .0,
        0
    );
    let (c, m, _) = run(&["--sysfs-root", &root, "check", s, "0000:01:10.0"]);
    assert_eq!(c, 8);
    assert_eq!(
        m.trim(),
        "incompatible: header.subsys_device differs: stream 0x1, device 0000:01:10.0 0x0"
    );
    assert_eq!(
        run(&[
            "--sysfs-root",
            &root,
            "synth",
            "-o",
            s,
            "--identity",
            "8086:10ca:8086:0000:02"
        ])
        .0,
        0
    );
    let (_, m, _) = run(&["--sysfs-root", &root, "check", s, "0000:01:10.0"]);
    assert!(
        m.contains("header.revision differs: stream 0x2, device 0000:01:10.0 0x1"),
        "{m}"
    );
    // synth --like produces a stream the device accepts, and it inspects cleanly.
    assert_eq!(
        run(&[
            "--sysfs-root",
            &root,
            "synth",
            "-o",
            s,
            "--like",
            "0000:01:10.0"
        ])
        .0,
        0
    );
    assert_eq!(
        run(&["--sysfs-root", &root, "check", s, "0000:01:10.0"]).0,
        0
    );
    assert_eq!(run(&["inspect", s]).0, 0);
    // The PF has no vfmig provider.
    let (c, m, _) = run(&["--sysfs-root", &root, "check", s, "0000:01:00.0"]);
    assert_eq!(c, 8);
    assert!(m.contains("has no vfmig provider"), "{m}");
    // Missing device / file.
    assert_eq!(
        run(&["--sysfs-root", &root, "check", s, "0000:02:00.0"]).0,
        3
    );
    assert_eq!(
        run(&[
            "--sysfs-root",
            &root,
            "check",
            "/nonexistent",
            "0000:01:10.0"
        ])
        .0,
        1
    );
}

#[test]
fn list_status_and_binding_errors() {
    let fs = FakeSys::new("list");
    let root = fs.arg();
    let (c, out, _) = run(&["--sysfs-root", &root, "list"]);
    assert_eq!(c, 0);
    assert!(
        out.contains("0000:01:10.0  0000:01:00.0    0 8086:10ca -           12 -        unbound"),
        "{out}"
    );
    assert!(out.contains("0000:01:10.2  0000:01:00.0    1 8086:10ca igbvf        - -        igbvf (host kernel driver)"), "{out}");
    let (_, out, _) = run(&["--sysfs-root", &root, "list", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2);
    assert_eq!(v[0]["pf"], "0000:01:00.0");
    assert_eq!(v[1]["driver"], "igbvf");

    let (c, out, _) = run(&["--sysfs-root", &root, "status", "01:10.0"]);
    assert_eq!(c, 0);
    assert!(out.contains("driver: none\n"), "{out}");
    assert!(out.contains("provider: intel-82576-vf\n"), "{out}");
    assert!(
        out.contains("migration: n/a (0000:01:10.0 is not bound to vfmig"),
        "{out}"
    );

    // Commands that open the device name the binding problem, exit 3.
    let (c, _, e) = run(&[
        "--sysfs-root",
        &root,
        "save",
        "0000:01:10.2",
        "-o",
        "/dev/null",
    ]);
    assert_eq!(c, 3);
    assert!(e.contains("bound to igbvf, not vfmig"), "{e}");
    let (c, _, e) = run(&[
        "--sysfs-root",
        &root,
        "dirty",
        "0000:01:10.0",
        "--range",
        "0:4K",
    ]);
    assert_eq!(c, 3);
    assert!(e.contains("not bound to vfmig (no driver)"), "{e}");
    // restore checks the stream before it touches the device.
    let (c, _, e) = run(&[
        "--sysfs-root",
        &root,
        "restore",
        "0000:01:10.0",
        "-i",
        golden("other-device").to_str().unwrap(),
    ]);
    assert_eq!(c, 8);
    assert!(e.contains("header.device differs"), "{e}");
    let (c, _, e) = run(&[
        "--sysfs-root",
        &root,
        "restore",
        "0000:01:10.0",
        "-i",
        golden("igb-v1.0-full").to_str().unwrap(),
    ]);
    assert_eq!(c, 3, "{e}");
}

/// Runs the built binary: (exit code, stdout, stderr).
fn run_bin(args: &[&str]) -> (i32, String, String) {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_vfmigctl"))
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8(o.stdout).unwrap(),
        String::from_utf8(o.stderr).unwrap(),
    )
}

/// Runs the binary with `--json` and parses its stdout as exactly one JSON document.
fn run_json(args: &[&str]) -> (i32, serde_json::Value) {
    let mut argv = vec!["-q", "--json"];
    argv.extend_from_slice(args);
    let (code, out, err) = run_bin(&argv);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| {
        panic!("vfmigctl {argv:?}: stdout is not one JSON document ({e}):\n{out}\nstderr: {err}")
    });
    (code, v)
}

/// The error document of `--json`: exit code and name agree with the process exit code.
fn assert_json_error(code: i32, v: &serde_json::Value, exit: &str, errno: Option<&str>) {
    let e = &v["error"];
    assert_eq!(e["exit_code"], code, "{v:#}");
    assert_eq!(e["exit"], exit, "{v:#}");
    match errno {
        Some(n) => assert_eq!(e["errno"], n, "{v:#}"),
        None => assert!(e["errno"].is_null(), "{v:#}"),
    }
    assert!(
        e["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{v:#}"
    );
}

#[test]
fn json_of_every_verb_on_the_host() {
    let fs = FakeSys::new("json");
    let root = fs.arg();
    let sys = ["--sysfs-root", root.as_str()];
    let with =
        |rest: &[&str]| -> Vec<String> { sys.iter().chain(rest).map(|s| s.to_string()).collect() };
    let json = |rest: &[&str]| {
        let a = with(rest);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        run_json(&a)
    };

    // list
    let (c, v) = json(&["list"]);
    assert_eq!(c, 0);
    assert_eq!(v.as_array().map(Vec::len), Some(2), "{v:#}");
    assert_eq!(v[0]["bdf"], "0000:01:10.0");
    assert_eq!(v[1]["binding"], "igbvf (host kernel driver)");

    // status: not bound (exit 0), and a missing device (exit 3, ENODEV)
    let (c, v) = json(&["status", "01:10.0"]);
    assert_eq!(c, 0);
    assert_eq!(v["provider"], "intel-82576-vf");
    assert_eq!(v["identity"]["device"], "10ca");
    assert_eq!(v["in_use"], false);
    assert_eq!(v["migration"]["supported"], false);
    assert!(v["migration"]["reason"]
        .as_str()
        .is_some_and(|r| r.contains("not bound to vfmig")));
    let (c, v) = json(&["status", "0000:02:00.0"]);
    assert_eq!(c, 3);
    assert_json_error(c, &v, "not-bound", Some("ENODEV"));

    // inspect: every golden vector, valid or not
    let dir = golden("igb-v1.0-full").parent().unwrap().to_path_buf();
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().and_then(|x| x.to_str()) != Some("bin") {
            continue;
        }
        let (c, v) = run_json(&["inspect", p.to_str().unwrap()]);
        assert_eq!(v["valid"], c == 0, "{}: {v:#}", p.display());
        assert!(c == 0 || c == 7, "{}: exit {c}", p.display());
        n += 1;
    }
    assert!(n >= 5, "only {n} golden vectors in {}", dir.display());
    let (c, v) = run_json(&["inspect", "/nonexistent.bin"]);
    assert_eq!(c, 1);
    assert_json_error(c, &v, "failure", Some("ENOENT"));

    // check: compatible, incompatible, malformed, no provider, no device
    let chk = |file: &str, bdf: &str| json(&["check", file, bdf]);
    let full = golden("igb-v1.0-full");
    let (c, v) = chk(full.to_str().unwrap(), "0000:01:10.0");
    assert_eq!(
        (c, &v["compatible"], &v["outcome"]),
        (0, &true.into(), &"compatible".into()),
        "{v:#}"
    );
    assert!(v["error"].is_null());
    let (c, v) = chk(golden("other-device").to_str().unwrap(), "0000:01:10.0");
    assert_eq!(c, 8);
    assert_eq!(v["outcome"], "incompatible");
    assert_eq!(v["exit_code"], 8);
    assert_eq!(v["error"]["field"], "header.device");
    assert_eq!(v["error"]["found"], 0x10ed);
    let (c, v) = chk(golden("bad-crc").to_str().unwrap(), "0000:01:10.0");
    assert_eq!((c, &v["outcome"]), (7, &"malformed".into()), "{v:#}");
    let (c, v) = chk(full.to_str().unwrap(), "0000:01:00.0");
    assert_eq!((c, &v["outcome"]), (8, &"no-provider".into()), "{v:#}");
    let (c, v) = chk(full.to_str().unwrap(), "0000:02:00.0");
    assert_json_error(c, &v, "not-bound", Some("ENODEV"));

    // synth
    let s = fs.root.join("synth.bin");
    let (c, v) = json(&["synth", "-o", s.to_str().unwrap(), "--like", "0000:01:10.0"]);
    assert_eq!(c, 0);
    assert_eq!(v["identity"]["device"], "10ca");
    assert_eq!(v["bytes"], std::fs::metadata(&s).unwrap().len());

    // save / restore / dirty need a device: on the host they fail, as JSON.
    let out = fs.root.join("x.bin");
    let (c, v) = json(&["save", "0000:01:10.2", "-o", out.to_str().unwrap()]);
    assert_json_error(c, &v, "not-bound", None);
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("bound to igbvf"));
    let (c, v) = json(&["save", "0000:03:00.0", "-o", out.to_str().unwrap()]);
    assert_json_error(c, &v, "not-bound", Some("ENODEV"));
    let (c, v) = json(&[
        "restore",
        "0000:01:10.0",
        "-i",
        golden("other-device").to_str().unwrap(),
    ]);
    assert_eq!(c, 8);
    assert_json_error(c, &v, "incompatible", None);
    let (c, v) = json(&["restore", "0000:01:10.0", "-i", full.to_str().unwrap()]);
    assert_json_error(c, &v, "not-bound", None);
    let (c, v) = json(&["dirty", "0000:01:10.0", "--range", "0:4K"]);
    assert_json_error(c, &v, "not-bound", None);

    // generate
    let gen = fs.root.join("gen");
    let (c, v) = json(&["generate", "completions", "fish", gen.to_str().unwrap()]);
    assert_eq!(c, 0);
    assert!(
        v["written"][0].as_str().unwrap().ends_with("vfmigctl.fish"),
        "{v:#}"
    );

    // Usage errors: JSON too when --json is on the line, exit 2.
    let (c, v) = run_json(&["list", "--bogus"]);
    assert_json_error(c, &v, "usage", None);
    let (c, v) = run_json(&["status", "nonsense"]);
    assert_json_error(c, &v, "usage", None);
    // --json works after the verb as well.
    let (c, out, _) = run_bin(&["inspect", full.to_str().unwrap(), "--json"]);
    assert_eq!(c, 0);
    assert!(
        serde_json::from_str::<serde_json::Value>(&out).is_ok(),
        "{out}"
    );
    // Without --json an error is text on stderr only.
    let (c, out, err) = run_bin(&["inspect", "/nonexistent.bin"]);
    assert_eq!((c, out.as_str()), (1, ""));
    assert!(
        err.starts_with("vfmigctl: error: read /nonexistent.bin: ENOENT"),
        "{err}"
    );
}

#[test]
fn man_page_and_completions_name_every_verb() {
    let verbs = vfmigctl::generate::verbs();
    for v in [
        "list", "status", "save", "restore", "inspect", "check", "dirty",
    ] {
        assert!(verbs.iter().any(|x| x == v), "{v} missing from {verbs:?}");
    }
    let man = String::from_utf8(vfmigctl::generate::man_page().unwrap()).unwrap();
    assert!(
        man.starts_with(".ie \\n(.g .ds Aq"),
        "not roff: {}",
        &man[..80.min(man.len())]
    );
    for v in &verbs {
        assert!(
            man.contains(&format!("vfmigctl\\-{v}(1)")),
            "man page lacks {v}"
        );
    }
    assert!(man.contains("\\-\\-json"), "man page lacks --json");
    let dir = std::env::temp_dir().join(format!("vfmigctl-gen-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let pages = vfmigctl::generate::man(&dir.join("man")).unwrap();
    assert_eq!(pages.len(), verbs.len() + 1);
    for v in &verbs {
        let p = dir.join("man").join(format!("vfmigctl-{v}.1"));
        let t = std::fs::read_to_string(&p).unwrap();
        assert!(t.contains(&format!("vfmigctl\\-{v}")), "{}", p.display());
    }
    use clap_complete::Shell;
    for (sh, file) in [
        (Shell::Bash, "vfmigctl.bash"),
        (Shell::Zsh, "_vfmigctl"),
        (Shell::Fish, "vfmigctl.fish"),
    ] {
        let p = vfmigctl::generate::completions(sh, &dir.join("completions")).unwrap();
        assert!(p.ends_with(file), "{}", p.display());
        let t = std::fs::read_to_string(&p).unwrap();
        for v in &verbs {
            assert!(t.contains(v.as_str()), "{sh} completions lack {v}");
        }
        assert!(t.contains("json"), "{sh} completions lack --json");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
