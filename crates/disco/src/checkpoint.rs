//! `disco run --save-checkpoint` and `--restore`: boot once, run many
//! commands from the booted machine.
//!
//! With `--save-checkpoint` the guest's `/init` is told (`/chosen` property
//! `disco,command-from-console`) to print [`READY_MARKER`] and read its
//! command from the console. As soon as the marker appears, the whole
//! machine is saved: the guest is then waiting for that line. A restore
//! types the command (base64 on one line, so any text survives the
//! terminal) or an empty line (the interactive shell), and the run goes on
//! exactly as if it had never stopped.

use std::path::Path;

use anyhow::{bail, Context, Result};
use machine::Machine;

use crate::exec_output::ExecOutput;

pub use crate::images::{COMMAND_FROM_CONSOLE_PROPERTY, READY_MARKER};

/// Note stored in checkpoints saved while the guest waits for a command.
const READY_NOTE: &str = "disco: guest waiting for a command on the console";

/// Longest command accepted (its base64 form must fit one terminal line,
/// 4095 bytes in Linux's line discipline).
pub const MAX_COMMAND: usize = 3000;

/// Boots `m` until the guest is ready for a command, then saves it to
/// `path`. `slice` is the simulated cycles run between output checks and
/// `limit` the cycle to give up at.
pub fn boot_and_save(
    m: &mut Machine,
    path: &Path,
    show_boot: bool,
    slice: u64,
    limit: Option<u64>,
) -> Result<()> {
    let mut log = ExecOutput::until(&format!("{READY_MARKER}\r\n"), show_boot);
    loop {
        let stop = m.run_for(slice);
        log.feed(&m.take_console_output(), &mut std::io::sink())?;
        if log.started() {
            break;
        }
        if stop.is_some() || limit.is_some_and(|l| m.cycles() >= l) {
            eprint!("{}", log.boot_log_tail());
            bail!(
                "the guest did not get ready for a command ({}); no checkpoint saved",
                match stop {
                    Some(s) => format!("{s:?}"),
                    None => "--max-time reached".to_string(),
                }
            );
        }
    }
    m.save_checkpoint(path, READY_NOTE)
        .with_context(|| format!("cannot save checkpoint '{}'", path.display()))?;
    let size = std::fs::metadata(path).map(|md| md.len()).unwrap_or(0);
    eprintln!(
        "disco: saved checkpoint '{}' ({:.1} MiB) at {:.3} s simulated",
        path.display(),
        size as f64 / (1 << 20) as f64,
        m.sim_ns() as f64 / 1e9
    );
    Ok(())
}

/// Restores the checkpoint at `path`; returns the machine and the console
/// input that hands it `command` (or starts the interactive shell).
pub fn restore(path: &Path, command: Option<&str>) -> Result<(Machine, Vec<u8>)> {
    let (m, note) = Machine::load_checkpoint(path)
        .with_context(|| format!("cannot restore checkpoint '{}'", path.display()))?;
    if note != READY_NOTE {
        bail!(
            "checkpoint '{}' was not saved by --save-checkpoint (it says: {note:?})",
            path.display()
        );
    }
    let input = match command {
        Some(cmd) => command_line(cmd)?,
        None => b"\n".to_vec(),
    };
    Ok((m, input))
}

/// The console line that gives `/init` the command `cmd`.
pub fn command_line(cmd: &str) -> Result<Vec<u8>> {
    if cmd.is_empty() {
        bail!("--exec needs a command");
    }
    if cmd.len() > MAX_COMMAND {
        bail!(
            "with --restore a command may be at most {MAX_COMMAND} bytes (this one has {})",
            cmd.len()
        );
    }
    let mut line = base64(cmd.as_bytes());
    line.push(b'\n');
    Ok(line)
}

/// Standard base64 (RFC 4648, with padding), as busybox `base64 -d` reads.
fn base64(data: &[u8]) -> Vec<u8> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]);
            } else {
                out.push(b'=');
            }
        }
    }
    out
}

/// Console input waiting for room in the UART's receiver.
#[derive(Debug, Default)]
pub struct PendingInput(Vec<u8>);

impl PendingInput {
    /// Input `bytes`, to be typed as room allows.
    pub fn new(bytes: Vec<u8>) -> Self {
        PendingInput(bytes)
    }

    /// Adds `bytes` to the input.
    pub fn extend(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }

    /// Types as much as the console takes now.
    pub fn feed(&mut self, m: &mut dyn crate::session::Session) {
        if self.0.is_empty() {
            return;
        }
        let n = self.0.len().min(m.console_input_space());
        if n > 0 {
            m.push_console_input(&self.0[..n]);
            self.0.drain(..n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in cases {
            assert_eq!(base64(plain.as_bytes()), encoded.as_bytes(), "{plain}");
        }
        assert_eq!(base64(&[0xfb, 0xff]), b"+/8=");
    }

    #[test]
    fn command_line_is_one_base64_line() {
        assert_eq!(
            command_line("echo 'a\nb'").unwrap(),
            b"ZWNobyAnYQpiJw==\n".to_vec()
        );
        assert!(command_line("").is_err());
        assert!(command_line(&"x".repeat(MAX_COMMAND + 1)).is_err());
    }
}
