//! Local calendar folders watched with inotify, so a change wakes the
//! daemon at once instead of at the next poll (which stays the backstop).
//!
//! One watch per folder, recursively; folders created later are added as
//! they appear. The number of watches is bounded: past the bound a warning
//! says so and the rest are seen by polling only. Names starting with
//! `.gatekeeper` (gatekeeper's own temp files) never wake anything; the
//! rename of an answer onto a calendar file wakes once, and the pass that
//! follows finds nothing to do and writes nothing, so the loop settles.
//!
//! Must not decide anything: it only raises a flag that something changed.

use std::collections::HashMap;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The most folders watched; past it, polling only.
pub const MAX_WATCHES: usize = 8192;

/// Names that are gatekeeper's own and never wake the loop.
const OWN_PREFIX: &[u8] = b".gatekeeper";

const MASK: u32 = libc::IN_CREATE
    | libc::IN_CLOSE_WRITE
    | libc::IN_MOVED_FROM
    | libc::IN_MOVED_TO
    | libc::IN_DELETE
    | libc::IN_ONLYDIR;

struct Watches {
    fd: i32,
    paths: HashMap<i32, PathBuf>,
    max: usize,
    full: bool,
    warn: Box<dyn Fn(String) + Send>,
}

impl Drop for Watches {
    fn drop(&mut self) {
        // SAFETY: our own descriptor, closed once.
        unsafe { libc::close(self.fd) };
    }
}

impl Watches {
    /// Watch `dir` and every folder under it, up to the bound.
    fn add_tree(&mut self, dir: &Path) {
        let mut todo = vec![dir.to_path_buf()];
        while let Some(d) = todo.pop() {
            if !self.add(&d) {
                return;
            }
            let Ok(entries) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in entries.filter_map(Result::ok) {
                if e.file_type().is_ok_and(|t| t.is_dir())
                    && !e.file_name().as_bytes().starts_with(OWN_PREFIX)
                {
                    todo.push(e.path());
                }
            }
        }
    }

    /// False once no more watches can be added.
    fn add(&mut self, dir: &Path) -> bool {
        if self.full {
            return false;
        }
        if self.paths.len() >= self.max {
            return self.limit_hit("the configured bound");
        }
        let Ok(c) = CString::new(dir.as_os_str().as_bytes()) else {
            return true;
        };
        // SAFETY: a valid descriptor and a NUL-terminated path.
        let wd = unsafe { libc::inotify_add_watch(self.fd, c.as_ptr(), MASK) };
        if wd < 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::ENOSPC) {
                return self.limit_hit("the system's inotify limit");
            }
            // Gone or unreadable: the poll still looks at it.
            return true;
        }
        self.paths.insert(wd, dir.to_path_buf());
        true
    }

    fn limit_hit(&mut self, which: &str) -> bool {
        self.full = true;
        (self.warn)(format!(
            "watching {} calendar folders, {which}: changes in the others are seen at the next poll",
            self.paths.len()
        ));
        false
    }
}

/// Start watching `roots`; the returned flag is raised whenever something
/// in them changes (the reader lowers it). `None` (after a warning) when
/// inotify is not available: polling only.
pub fn spawn(
    roots: &[PathBuf],
    max: usize,
    warn: Box<dyn Fn(String) + Send>,
) -> Option<Arc<AtomicBool>> {
    // SAFETY: no arguments beyond flags.
    let fd = unsafe { libc::inotify_init1(libc::IN_CLOEXEC) };
    if fd < 0 {
        warn(format!(
            "cannot watch calendar folders ({}): polling only",
            std::io::Error::last_os_error()
        ));
        return None;
    }
    let mut watches = Watches {
        fd,
        paths: HashMap::new(),
        max,
        full: false,
        warn,
    };
    // Before the first pass: nothing changed after it goes unseen.
    for r in roots {
        watches.add_tree(r);
    }
    let changed = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&changed);
    let spawned = std::thread::Builder::new()
        .name("folder-watch".into())
        .spawn(move || read_events(watches, &flag));
    // Without the thread (the descriptor is closed with it): polling only.
    spawned.ok()?;
    Some(changed)
}

fn read_events(mut watches: Watches, changed: &AtomicBool) {
    // Aligned for `inotify_event`.
    let mut buf = vec![0u64; 8192];
    let header = std::mem::size_of::<libc::inotify_event>();
    loop {
        let bytes = buf.len() * 8;
        // SAFETY: the buffer is `bytes` long and ours.
        let n = unsafe { libc::read(watches.fd, buf.as_mut_ptr().cast(), bytes) };
        if n < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        let n = n as usize;
        // SAFETY: reinterpreting our own u64 buffer as bytes.
        let raw = unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), n) };
        let mut at = 0;
        let mut wake = false;
        while at + header <= n {
            // SAFETY: the kernel wrote a whole event header here.
            let ev = unsafe {
                std::ptr::read_unaligned(raw[at..].as_ptr().cast::<libc::inotify_event>())
            };
            let len = ev.len as usize;
            let name_bytes = &raw[at + header..(at + header + len).min(n)];
            let end = name_bytes
                .iter()
                .position(|b| *b == 0)
                .unwrap_or(len.min(name_bytes.len()));
            let name = &name_bytes[..end];
            at += header + len;
            if ev.mask & libc::IN_Q_OVERFLOW != 0 {
                wake = true;
                continue;
            }
            if ev.mask & libc::IN_IGNORED != 0 {
                watches.paths.remove(&ev.wd);
                continue;
            }
            if name.starts_with(OWN_PREFIX) {
                continue;
            }
            let is_dir = ev.mask & libc::IN_ISDIR != 0;
            if is_dir
                && ev.mask & (libc::IN_CREATE | libc::IN_MOVED_TO) != 0
                && let Some(parent) = watches.paths.get(&ev.wd).cloned()
            {
                watches.add_tree(&parent.join(std::ffi::OsStr::from_bytes(name)));
            }
            // A file's creation is followed by its close after writing.
            if ev.mask & libc::IN_CREATE != 0 && !is_dir {
                continue;
            }
            wake = true;
        }
        if wake {
            changed.store(true, Ordering::SeqCst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wait_raised(flag: &AtomicBool) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !flag.swap(false, Ordering::SeqCst) {
            assert!(std::time::Instant::now() < deadline, "never woken");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// Own temp files wake nothing; a file, a new subfolder and a file in
    /// it each wake. An own temp file written first and a real file last
    /// in one go: once the real one has woken the flag, the temp file's
    /// events are already read, so a lowered flag then stays lowered.
    #[test]
    fn changes_wake_and_own_temp_files_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let warnings = Arc::new(std::sync::Mutex::new(Vec::new()));
        let w = Arc::clone(&warnings);
        let flag = spawn(
            &[dir.path().to_path_buf()],
            MAX_WATCHES,
            Box::new(move |s| w.lock().unwrap().push(s)),
        )
        .unwrap();
        std::fs::write(dir.path().join("a.ics"), "x").unwrap();
        wait_raised(&flag);

        std::fs::create_dir(dir.path().join("sub")).unwrap();
        wait_raised(&flag);
        std::fs::write(dir.path().join("sub/b.ics"), "x").unwrap();
        wait_raised(&flag);

        std::fs::write(dir.path().join("sub/.gatekeeper-tmp.1.2.b.ics"), "y").unwrap();
        std::fs::remove_file(dir.path().join("sub/.gatekeeper-tmp.1.2.b.ics")).unwrap();
        std::fs::write(dir.path().join("marker.ics"), "x").unwrap();
        wait_raised(&flag);
        assert!(!flag.load(Ordering::SeqCst), "own temp files woke the loop");
        assert!(warnings.lock().unwrap().is_empty());
    }

    #[test]
    fn past_the_bound_it_warns_once_and_polls() {
        let dir = tempfile::tempdir().unwrap();
        for s in ["a", "b", "c"] {
            std::fs::create_dir(dir.path().join(s)).unwrap();
        }
        let warnings = Arc::new(std::sync::Mutex::new(Vec::new()));
        let w = Arc::clone(&warnings);
        let flag = spawn(
            &[dir.path().to_path_buf()],
            2,
            Box::new(move |s| w.lock().unwrap().push(s)),
        );
        assert!(flag.is_some());
        let said = warnings.lock().unwrap().clone();
        assert_eq!(said.len(), 1, "{said:?}");
        assert!(said[0].contains("watching 2 calendar folders"), "{said:?}");
    }
}
