//! The `disco` command.

use std::process::ExitCode;

use clap::Parser;
use disco::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => disco::run::run(*args),
        Command::Up(args) => disco::up::up(*args),
        Command::Fetch { force } => fetch(force),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("disco: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn fetch(force: bool) -> anyhow::Result<ExitCode> {
    let mut progress = disco::images::stderr_progress;
    let images = if force {
        disco::images::fetch_default_images(&mut progress)?
    } else {
        disco::images::ensure_default_images(&mut progress)?
    };
    println!("kernel: {}", images.kernel.display());
    println!("initrd: {}", images.initrd.display());
    println!("{}", images.description);
    Ok(ExitCode::SUCCESS)
}
