//! One state, one writer: the lock a `gatekeeper run` holds on its state
//! database for as long as it runs.
//!
//! The lock is an `flock` on a file beside the database (`<db>.lock`) that
//! records the holder's process id. The operating system releases it when
//! the process ends, however it ends, so a crash never leaves a stale lock;
//! the pid in the file is only there to tell a person who holds it.
//!
//! This module owns the lock file and nothing else: it must not touch the
//! database itself, and a reader (`gatekeeper log`, `report`) does not need
//! the lock.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Held while the process owns the state; dropping it (or exiting)
/// releases the lock.
#[derive(Debug)]
pub struct StateLock {
    _file: File,
    pub path: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another gatekeeper (pid {}) is using the state database `{db}`; stop it first, or point this one at another `[store] sqlite`",
        .pid.map_or_else(|| "unknown".to_string(), |p| p.to_string())
    )]
    Held { db: String, pid: Option<u32> },
    #[error("cannot lock the state database `{path}`: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// The lock file that guards the database at `db`.
pub fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    db.with_file_name(name)
}

/// Take the state lock for the database at `db` without waiting: a second
/// `run` on the same state refuses to start and says who holds it.
pub fn acquire(db: &Path) -> Result<StateLock, LockError> {
    let path = lock_path(db);
    let io = |source| LockError::Io {
        path: path.display().to_string(),
        source,
    };
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io)?;
    if !try_lock(&file).map_err(io)? {
        let mut text = String::new();
        let _ = file.read_to_string(&mut text);
        return Err(LockError::Held {
            db: db.display().to_string(),
            pid: text.trim().parse().ok(),
        });
    }
    // Only the holder writes the pid, so it is never a stale one from a
    // process that crashed (that one's lock went with it).
    file.set_len(0).map_err(io)?;
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    writeln!(file, "{}", std::process::id()).map_err(io)?;
    file.flush().map_err(io)?;
    Ok(StateLock { _file: file, path })
}

#[cfg(unix)]
fn try_lock(file: &File) -> std::io::Result<bool> {
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a file descriptor this function borrows for the
    // duration of the call; it does not take ownership or touch memory.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(true);
    }
    let err = std::io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(err)
    }
}

#[cfg(not(unix))]
fn try_lock(file: &File) -> std::io::Result<bool> {
    // std's advisory lock where flock is not available.
    match file.try_lock() {
        Ok(()) => Ok(true),
        Err(std::fs::TryLockError::WouldBlock) => Ok(false),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_pid_until_it_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("state/gatekeeper.db");
        let first = acquire(&db).unwrap();
        assert_eq!(first.path, dir.path().join("state/gatekeeper.db.lock"));
        match acquire(&db) {
            Err(LockError::Held { pid, .. }) => assert_eq!(pid, Some(std::process::id())),
            other => panic!("expected Held, got {other:?}"),
        }
        drop(first);
        let again = acquire(&db).unwrap();
        let text = std::fs::read_to_string(&again.path).unwrap();
        assert_eq!(text.trim(), std::process::id().to_string());
    }
}
