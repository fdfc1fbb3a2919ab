//! The `disco` command.

use std::process::ExitCode;

use clap::Parser;
use disco::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => disco::run::run(*args),
        Command::Up(args) => disco::up::up(*args),
        Command::Experiment(args) => disco::experiment::experiment(*args),
        Command::Fetch { force, rootfs } => fetch(force, rootfs),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("disco: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn fetch(force: bool, rootfs: bool) -> anyhow::Result<ExitCode> {
    let mut progress = disco::images::stderr_progress;
    let images = if force {
        disco::images::fetch_default_images(&mut progress)?
    } else {
        disco::images::ensure_default_images(&mut progress)?
    };
    println!("kernel: {}", images.kernel.display());
    println!("initrd: {}", images.initrd.display());
    println!("{}", images.description);
    if rootfs {
        let disk = if force {
            disco::images::rootfs::fetch_rootfs(&mut progress)?
        } else {
            disco::images::rootfs::ensure_rootfs(&mut progress)?
        };
        println!("root disk: {}", disk.image.display());
        println!("{}", disk.description);
    }
    Ok(ExitCode::SUCCESS)
}
