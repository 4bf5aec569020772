// SPDX-License-Identifier: GPL-2.0
//! vfmigctl binary: see `vfmigctl --help` and Documentation/vfmig/vfmigctl.rst.

fn main() {
    std::process::exit(vfmigctl::main_with_args(std::env::args_os()));
}
