// SPDX-License-Identifier: GPL-2.0
//! Man pages (`clap_mangen`) and shell completions (`clap_complete`),
//! generated from the clap definition of [`crate::cli::Cli`], so they cannot
//! drift from `--help`. Run by `vfmigctl generate` (hidden) and
//! `tools/vfmigctl/gen-docs.sh`.

use std::fs;
use std::path::{Path, PathBuf};

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;
use crate::error::{CtlError, Result};

/// A verb the docs show: not hidden, not clap's own `help`.
fn visible(c: &clap::Command) -> bool {
    !c.is_hide_set() && c.get_name() != "help"
}

fn mkdir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| CtlError::os(&format!("create {}", dir.display()), &e))
}

fn render_man(cmd: &clap::Command) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .render(&mut buf)
        .map_err(|e| CtlError::os("render man page", &e))?;
    Ok(buf)
}

/// The man page of vfmigctl itself (`vfmigctl.1`) as roff.
pub fn man_page() -> Result<Vec<u8>> {
    render_man(&Cli::command())
}

/// Writes `vfmigctl.1` and `vfmigctl-VERB.1` for every visible verb into
/// `dir`; returns the files written.
pub fn man(dir: &Path) -> Result<Vec<PathBuf>> {
    mkdir(dir)?;
    let mut cmd = Cli::command();
    cmd.build();
    let mut written = Vec::new();
    let mut write = |name: String, data: Vec<u8>| -> Result<()> {
        let p = dir.join(name);
        fs::write(&p, data).map_err(|e| CtlError::os(&format!("write {}", p.display()), &e))?;
        written.push(p);
        Ok(())
    };
    write("vfmigctl.1".into(), render_man(&cmd)?)?;
    for sub in cmd.get_subcommands().filter(|s| visible(s)) {
        let name = format!("vfmigctl-{}", sub.get_name());
        let page = sub.clone().name(name.clone());
        write(format!("{name}.1"), render_man(&page)?)?;
    }
    Ok(written)
}

/// The completion script of vfmigctl for `shell`.
pub fn completion_script(shell: Shell) -> Vec<u8> {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "vfmigctl", &mut buf);
    buf
}

/// Writes the completion script for `shell` into `dir` under the file name
/// that shell looks for (`vfmigctl.bash`, `_vfmigctl`, `vfmigctl.fish`, ...);
/// returns the path.
pub fn completions(shell: Shell, dir: &Path) -> Result<PathBuf> {
    mkdir(dir)?;
    clap_complete::generate_to(shell, &mut Cli::command(), "vfmigctl", dir).map_err(|e| {
        CtlError::os(
            &format!("write {shell} completions to {}", dir.display()),
            &e,
        )
    })
}

/// The names of the visible verbs (what the man page and the completions
/// must mention).
pub fn verbs() -> Vec<String> {
    Cli::command()
        .get_subcommands()
        .filter(|s| visible(s))
        .map(|s| s.get_name().to_string())
        .collect()
}
