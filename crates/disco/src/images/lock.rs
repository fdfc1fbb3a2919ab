//! An exclusive `flock(2)` on a file, so that concurrent disco processes (or
//! threads) do not fetch the same images twice.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

/// Holds an exclusive lock until dropped (closing the file releases it).
#[derive(Debug)]
pub struct FileLock {
    _file: File,
}

fn flock(file: &File, op: libc::c_int) -> io::Result<()> {
    loop {
        // SAFETY: flock only takes a file descriptor and flags; the descriptor is
        // valid because `file` is borrowed for the duration of the call.
        let rc = unsafe { libc::flock(file.as_raw_fd(), op) };
        if rc == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

impl FileLock {
    /// Locks `path` (created if missing), calling `waiting` once if another holder
    /// makes us wait. Locks on separate opens exclude each other even within one
    /// process.
    pub fn acquire(path: &Path, waiting: &mut dyn FnMut()) -> io::Result<FileLock> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        match flock(&file, libc::LOCK_EX | libc::LOCK_NB) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EWOULDBLOCK) => {
                waiting();
                flock(&file, libc::LOCK_EX)?;
            }
            Err(e) => return Err(e),
        }
        Ok(FileLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn excludes_second_holder_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let first = FileLock::acquire(&path, &mut || panic!("first must not wait")).unwrap();
        let released = Arc::new(AtomicBool::new(false));
        let t = {
            let (path, released) = (path.clone(), released.clone());
            std::thread::spawn(move || {
                let mut waited = false;
                let _second = FileLock::acquire(&path, &mut || waited = true).unwrap();
                assert!(released.load(Ordering::SeqCst), "got the lock while held");
                waited
            })
        };
        std::thread::sleep(Duration::from_millis(200));
        released.store(true, Ordering::SeqCst);
        drop(first);
        assert!(t.join().unwrap(), "second holder should have waited");
    }
}
