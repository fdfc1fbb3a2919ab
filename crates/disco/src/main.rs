//! The `disco` command. Temporary: only `disco fetch [--force]` for now.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut progress = disco::images::stderr_progress;
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["fetch"] => disco::images::ensure_default_images(&mut progress),
        ["fetch", "--force"] => disco::images::fetch_default_images(&mut progress),
        _ => {
            eprintln!("usage: disco fetch [--force]");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(images) => {
            println!("kernel: {}", images.kernel.display());
            println!("initrd: {}", images.initrd.display());
            println!("{}", images.description);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("disco: {e}");
            ExitCode::FAILURE
        }
    }
}
