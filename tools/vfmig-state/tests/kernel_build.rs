// SPDX-License-Identifier: GPL-2.0
//! Builds `rust/shared` the way Kbuild does: a `#![no_std]` crate (core
//! only), edition 2021, overflow checks on, the kernel's lint set with
//! warnings as errors, and `unsafe` forbidden. Uses `clippy-driver` when it
//! is installed (so the clippy lints of `rust_common_flags` apply), else
//! plain `rustc`.
#![allow(unreachable_pub)]

use std::path::PathBuf;
use std::process::Command;

/// The lint flags of `rust_common_flags` in Linux 7.3's top-level Makefile
/// (minus unstable `-Z` options), plus `-D warnings` and `-F unsafe_code`.
const KERNEL_FLAGS: &[&str] = &[
    "--edition=2021",
    "-Dnon_ascii_idents",
    "-Dunsafe_op_in_unsafe_fn",
    "-Wmissing_docs",
    "-Wrust_2018_idioms",
    "-Wunreachable_pub",
    "-Wclippy::all",
    "-Wclippy::as_ptr_cast_mut",
    "-Wclippy::as_underscore",
    "-Wclippy::cast_lossless",
    "-Aclippy::collapsible_if",
    "-Aclippy::collapsible_match",
    "-Wclippy::ignored_unit_patterns",
    "-Aclippy::incompatible_msrv",
    "-Wclippy::mut_mut",
    "-Wclippy::needless_bitwise_bool",
    "-Aclippy::needless_lifetimes",
    "-Wclippy::no_mangle_with_rust_abi",
    "-Wclippy::ptr_as_ptr",
    "-Wclippy::ptr_cast_constness",
    "-Wclippy::ref_as_ptr",
    "-Wclippy::undocumented_unsafe_blocks",
    "-Aclippy::uninlined_format_args",
    "-Wclippy::unnecessary_safety_comment",
    "-Wclippy::unnecessary_safety_doc",
    "-Aclippy::unwrap_or_default",
    "-Wclippy::float_arithmetic",
    "-Cpanic=abort",
    "-Coverflow-checks=on",
    "-Dwarnings",
    "-Funsafe_code",
];

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

#[test]
fn shared_builds_as_no_std_with_kernel_lints() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../rust/shared/mod.rs");
    let root = root.canonicalize().expect("rust/shared/mod.rs exists");
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("kernel_build");
    std::fs::create_dir_all(&out).unwrap();
    let lib = out.join("lib.rs");
    std::fs::write(
        &lib,
        format!(
            "#![no_std]\n//! Stand-in for the vfmig.ko crate root.\n#[path = {:?}]\npub mod shared;\n",
            root.to_str().unwrap()
        ),
    )
    .unwrap();
    let driver = if have("clippy-driver") {
        "clippy-driver"
    } else {
        "rustc"
    };
    let mut cmd = Command::new(driver);
    cmd.args(KERNEL_FLAGS)
        .args([
            "--crate-type",
            "rlib",
            "--crate-name",
            "vfmig_shared_check",
            "--emit=metadata",
        ])
        .arg("-o")
        .arg(out.join("libvfmig_shared_check.rmeta"))
        .arg(&lib);
    if driver == "rustc" {
        // Plain rustc does not know clippy lints.
        cmd.arg("-Aunknown_lints");
    }
    let o = cmd.output().expect("run the compiler");
    assert!(
        o.status.success(),
        "{driver} failed on rust/shared:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn shared_uses_core_only() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../rust/shared");
    for ent in std::fs::read_dir(&dir).unwrap() {
        let p = ent.unwrap().path();
        if p.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue;
        }
        let src = std::fs::read_to_string(&p).unwrap();
        for (n, line) in src.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for bad in [
                "std::",
                "alloc::",
                "unsafe ",
                "extern crate",
                " as f32",
                " as f64",
                "println!",
                ".unwrap()",
                ".expect(",
            ] {
                assert!(
                    !code.contains(bad),
                    "{}:{}: `{bad}` in shared code: {line}",
                    p.display(),
                    n + 1
                );
            }
            assert!(
                !code.contains("f32") && !code.contains("f64"),
                "{}:{}: float",
                p.display(),
                n + 1
            );
        }
        assert!(
            src.starts_with("// SPDX-License-Identifier: GPL-2.0\n//!"),
            "{}: header",
            p.display()
        );
    }
}
