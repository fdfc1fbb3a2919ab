//! Console output handling for `disco run --exec`: the boot log is held back
//! until the guest's init announces the command, then output is streamed.

use std::io::{self, Write};

use crate::images::EXEC_BEGIN_MARKER;

/// Boot-log bytes kept for error reports.
const BOOT_LOG_KEEP: usize = 64 * 1024;

/// Splits console output into the hidden boot log and the streamed command output.
#[derive(Debug)]
pub struct ExecOutput {
    boot_log: Vec<u8>,
    started: bool,
    show_boot: bool,
    marker: Vec<u8>,
}

impl ExecOutput {
    /// A filter for `/init`'s command marker; with `show_boot` the boot log
    /// goes to stderr as it comes.
    pub fn new(show_boot: bool) -> Self {
        Self::until(&format!("{EXEC_BEGIN_MARKER}\n"), show_boot)
    }

    /// A filter that holds everything back until the line `marker` (with its
    /// line end) appears.
    pub fn until(marker: &str, show_boot: bool) -> Self {
        ExecOutput {
            boot_log: Vec::new(),
            started: false,
            show_boot,
            marker: marker.as_bytes().to_vec(),
        }
    }

    /// True once the command started (the marker was seen).
    pub fn started(&self) -> bool {
        self.started
    }

    /// Processes console bytes, writing the command's output to `out`.
    pub fn feed(&mut self, bytes: &[u8], out: &mut impl Write) -> io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        if self.started {
            out.write_all(bytes)?;
            return out.flush();
        }
        let shown = self.boot_log.len();
        let from = shown.saturating_sub(self.marker.len());
        self.boot_log.extend_from_slice(bytes);
        if let Some(pos) = find(&self.boot_log[from..], &self.marker) {
            let start = from + pos;
            let rest = self.boot_log.split_off(start + self.marker.len());
            self.boot_log.truncate(start);
            if self.show_boot && start > shown {
                io::stderr().write_all(&self.boot_log[shown..])?;
            }
            self.started = true;
            out.write_all(&rest)?;
            return out.flush();
        }
        if self.show_boot {
            io::stderr().write_all(bytes)?;
        }
        if self.boot_log.len() > 2 * BOOT_LOG_KEEP {
            self.boot_log.drain(..self.boot_log.len() - BOOT_LOG_KEEP);
        }
        Ok(())
    }

    /// The end of the boot log, for reporting a failed boot (empty when it was
    /// already shown).
    pub fn boot_log_tail(&self) -> String {
        if self.show_boot {
            return String::new();
        }
        let tail = &self.boot_log[self.boot_log.len().saturating_sub(4096)..];
        let mut s = String::from_utf8_lossy(tail).into_owned();
        if !s.is_empty() && !s.ends_with('\n') {
            s.push('\n');
        }
        s
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hides_boot_and_streams_after_the_marker_even_when_split() {
        let mut f = ExecOutput::new(false);
        let mut out = Vec::new();
        f.feed(b"[ 0.0] Linux booting\r\n@@DISCO-EXEC", &mut out)
            .unwrap();
        assert!(out.is_empty());
        assert!(!f.started());
        f.feed(b"-BEGIN@@\nmips64\n", &mut out).unwrap();
        assert!(f.started());
        f.feed(b"ok\n", &mut out).unwrap();
        assert_eq!(out, b"mips64\nok\n");
    }

    #[test]
    fn keeps_the_boot_log_for_errors() {
        let mut f = ExecOutput::new(false);
        f.feed(b"Kernel panic - not syncing: VFS\r\n", &mut Vec::new())
            .unwrap();
        assert!(f.boot_log_tail().contains("Kernel panic"));
    }
}
