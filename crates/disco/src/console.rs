//! The host side of the guest console: raw terminal mode, a stdin reader
//! thread, and the escape sequence that ends the simulation (Ctrl-A x).

use std::io::{IsTerminal, Read};
use std::sync::mpsc::{self, Receiver, TryRecvError};

/// Ctrl-A: the escape key. Ctrl-A x quits; Ctrl-A Ctrl-A sends one Ctrl-A.
pub const ESCAPE: u8 = 0x01;

/// Puts the terminal in raw mode while alive (if stdin is a terminal) and
/// restores it when dropped.
#[derive(Debug)]
pub struct RawTerminal {
    saved: Option<libc::termios>,
}

impl RawTerminal {
    /// Enters raw mode when stdin is a terminal; does nothing otherwise.
    pub fn enter() -> Self {
        if !std::io::stdin().is_terminal() {
            return RawTerminal { saved: None };
        }
        // SAFETY: termios is plain old data; tcgetattr fills it completely on
        // success and we only use it then.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: fd 0 is open (it is a terminal) and `t` is a valid termios.
        if unsafe { libc::tcgetattr(0, &mut t) } != 0 {
            return RawTerminal { saved: None };
        }
        let saved = t;
        t.c_iflag &= !(libc::BRKINT | libc::ICRNL | libc::INPCK | libc::ISTRIP | libc::IXON);
        t.c_lflag &= !(libc::ECHO | libc::ICANON | libc::IEXTEN | libc::ISIG);
        t.c_cflag |= libc::CS8;
        t.c_cc[libc::VMIN] = 1;
        t.c_cc[libc::VTIME] = 0;
        // SAFETY: fd 0 is a terminal and `t` is a valid termios.
        unsafe { libc::tcsetattr(0, libc::TCSANOW, &t) };
        RawTerminal { saved: Some(saved) }
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        if let Some(t) = self.saved {
            // SAFETY: restoring the attributes read from fd 0 in `enter`.
            unsafe { libc::tcsetattr(0, libc::TCSANOW, &t) };
        }
    }
}

/// What the user typed, after escape processing.
#[derive(Debug, PartialEq, Eq)]
pub enum Input {
    /// Bytes for the guest.
    Bytes(Vec<u8>),
    /// The user asked to quit (Ctrl-A x).
    Quit,
}

/// Reads host stdin on a thread and hands the bytes over without blocking.
#[derive(Debug)]
pub struct StdinReader {
    rx: Receiver<Vec<u8>>,
    escape_pending: bool,
    closed: bool,
}

impl StdinReader {
    /// Starts the reader thread.
    pub fn spawn() -> Self {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 256];
            let mut stdin = std::io::stdin();
            loop {
                match stdin.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if tx.send(buf[..n].to_vec()).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        StdinReader {
            rx,
            escape_pending: false,
            closed: false,
        }
    }

    /// Returns what was typed since the last call, if anything.
    pub fn poll(&mut self) -> Option<Input> {
        if self.closed {
            return None;
        }
        let mut out = Vec::new();
        loop {
            match self.rx.try_recv() {
                Ok(bytes) => {
                    for b in bytes {
                        if self.escape_pending {
                            self.escape_pending = false;
                            match b {
                                b'x' | b'X' => return Some(Input::Quit),
                                ESCAPE => out.push(ESCAPE),
                                _ => {}
                            }
                        } else if b == ESCAPE {
                            self.escape_pending = true;
                        } else {
                            out.push(b);
                        }
                    }
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    self.closed = true;
                    break;
                }
            }
        }
        (!out.is_empty()).then_some(Input::Bytes(out))
    }
}
