//! Running the host tools that fetch and build images (apt, dpkg-deb, tar,
//! mke2fs, e2fsck): their command line for messages, and their failure as
//! the one line that explains it.

use std::ffi::OsStr;
use std::process::{Command, Output};

use super::debian::last_error_line;

/// `cmd` as a shell-like line, for messages.
pub fn command_line(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(OsStr::to_string_lossy)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `cmd` to completion. On failure (it cannot start, or exits
/// non-zero) returns its command line and the line that explains it.
pub fn run(mut cmd: Command) -> Result<Output, (String, String)> {
    let command = command_line(&cmd);
    let out = match cmd.output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let tool = cmd.get_program().to_string_lossy().into_owned();
            return Err((command, format!("{tool} not found")));
        }
        Err(e) => return Err((command, e.to_string())),
    };
    if out.status.success() {
        return Ok(out);
    }
    let message = last_error_line(
        &String::from_utf8_lossy(&out.stderr),
        &String::from_utf8_lossy(&out.stdout),
    )
    .unwrap_or_else(|| format!("failed ({})", out.status));
    Err((command, message))
}
