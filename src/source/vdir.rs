//! Local calendars in the vdir layout used by vdirsyncer and khal: a folder
//! per calendar, one `.ics` file per event. gatekeeper can sit on top of
//! calendars that vdirsyncer keeps in sync with a server: it answers an
//! invite by rewriting the member's copy the way a calendar client would,
//! atomically, and only if the file is still the version it read.
//!
//! **Invariant:** a client's write is never lost. On Linux the new file is
//! swapped in with `renameat2(RENAME_EXCHANGE)`, and the file swapped out
//! must be exactly the version the verdict was made on (same device and
//! inode, same content hash); otherwise it is swapped back, so the client's
//! newer write stands, and the write is refused (re-read and re-decided next
//! pass). What remains, and the fallback elsewhere, is described at
//! [`VdirSource::write`].
//!
//! This module owns the calendar files it rewrites and its own temporary
//! files (`.gatekeeper-tmp.<pid>.<n>.<name>`); it must not touch any other
//! file in the folder, and it decides nothing.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use std::sync::Mutex;

use chrono::{DateTime, Utc};

use super::ics::ItemCursor;
use super::{
    Answer, Batch, CalendarSource, Change, CursorOp, Cursors, Gone, ItemRef, SourceError,
    SyncRequest, Target, Window,
};
use crate::calendar::Event;
use crate::calendar::ical::{Limits, parse_ics_bytes_with};
use crate::calendar::recurrence::group_by_uid;
use crate::config::{Mode, SourceConfig};

/// Temporary files start with this, so they are recognised (and skipped by
/// `list`, and by vdirsyncer, which ignores dot files).
pub const TEMP_PREFIX: &str = ".gatekeeper-tmp.";

/// Makes temporary names unique within the process; the pid makes them
/// unique between processes.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

pub struct VdirSource {
    root: PathBuf,
    /// The content hash of each item as last read (or written) at a given
    /// etag: a replace is accepted only over exactly that version.
    read_hashes: HashMap<PathBuf, (String, String)>,
    /// Larger items are refused before they are read.
    max_item_bytes: u64,
}

impl VdirSource {
    pub fn new(root: PathBuf) -> VdirSource {
        VdirSource {
            root,
            read_hashes: HashMap::new(),
            max_item_bytes: crate::calendar::ical::Limits::DEFAULT.max_item_bytes as u64,
        }
    }

    /// Refuse items larger than `max` bytes ([`SourceError::TooLarge`]).
    pub fn with_max_item_bytes(mut self, max: usize) -> VdirSource {
        self.max_item_bytes = max as u64;
        self
    }

    fn path_of(&self, item: &ItemRef) -> PathBuf {
        if item.calendar.is_empty() {
            self.root.join(&item.href)
        } else {
            self.root.join(&item.calendar).join(&item.href)
        }
    }

    /// Remove temporary files that gatekeeper processes which are no longer
    /// running left behind (a crash between writing and swapping), and the
    /// fixed-name ones older versions used. Returns the files removed.
    pub fn clean_stale_temps(&self) -> Vec<PathBuf> {
        let mut removed = Vec::new();
        let mut dirs = vec![self.root.clone()];
        if let Ok(entries) = std::fs::read_dir(&self.root) {
            dirs.extend(
                entries
                    .filter_map(Result::ok)
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .map(|e| e.path()),
            );
        }
        for dir in dirs {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.filter_map(Result::ok) {
                let name = e.file_name().to_string_lossy().into_owned();
                let stale = match temp_owner(&name) {
                    Some(pid) => pid != std::process::id() && !process_alive(pid),
                    None => name.starts_with('.') && name.ends_with(".gatekeeper-tmp"),
                };
                if stale
                    && e.file_type().is_ok_and(|t| t.is_file())
                    && std::fs::remove_file(e.path()).is_ok()
                {
                    removed.push(e.path());
                }
            }
        }
        removed
    }
}

/// The pid in a temporary file's name, if it is one of ours.
fn temp_owner(name: &str) -> Option<u32> {
    name.strip_prefix(TEMP_PREFIX)?
        .split('.')
        .next()?
        .parse()
        .ok()
}

#[cfg(unix)]
fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists; nothing is sent.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(not(unix))]
fn process_alive(_pid: u32) -> bool {
    // Cannot tell: keep the file.
    true
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SourceError + '_ {
    move |source| SourceError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// vdirsyncer uses the modification time as etag; size and inode are added
/// so a same-second rewrite or a rename-over is still noticed.
fn etag(meta: &std::fs::Metadata) -> String {
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(meta);
    #[cfg(not(unix))]
    let inode = 0;
    format!("{mtime}-{}-{inode}", meta.len())
}

/// The file's identity: (device, inode).
#[cfg(unix)]
fn identity(meta: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

#[cfg(not(unix))]
fn identity(_meta: &std::fs::Metadata) -> (u64, u64) {
    (0, 0)
}

fn content_hash(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

fn is_item(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("ics"))
        && !path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'))
}

/// How a swap went.
enum Swap {
    /// The kernel swapped the two names atomically.
    Exchanged,
    /// This system or file system cannot exchange names.
    Unsupported,
}

/// Exchange two names atomically (Linux `renameat2(RENAME_EXCHANGE)`).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn exchange(a: &Path, b: &Path) -> std::io::Result<Swap> {
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| {
        std::ffi::CString::new(p.as_os_str().as_bytes())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))
    };
    let (ca, cb) = (c(a)?, c(b)?);
    // SAFETY: both paths are valid NUL-terminated strings that outlive the
    // call; AT_FDCWD resolves them like `rename` does.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            ca.as_ptr(),
            libc::AT_FDCWD,
            cb.as_ptr(),
            libc::RENAME_EXCHANGE as _,
        )
    };
    if rc == 0 {
        return Ok(Swap::Exchanged);
    }
    let err = std::io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP) => Ok(Swap::Unsupported),
        _ => Err(err),
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn exchange(_a: &Path, _b: &Path) -> std::io::Result<Swap> {
    Ok(Swap::Unsupported)
}

/// The files themselves: list with etags, read, replace conditionally.
/// [`VdirCalendar`] is the `CalendarSource` over them.
impl VdirSource {
    /// Every item of every calendar, with etags. Cheap: no content is read.
    pub fn list(&mut self) -> Result<Vec<ItemRef>, SourceError> {
        let mut items = Vec::new();
        let mut entries: Vec<_> = std::fs::read_dir(&self.root)
            .map_err(io(&self.root))?
            .filter_map(Result::ok)
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let meta = entry.metadata().map_err(io(&path))?;
            if meta.is_dir() {
                let mut files: Vec<_> = std::fs::read_dir(&path)
                    .map_err(io(&path))?
                    .filter_map(Result::ok)
                    .filter(|f| is_item(&f.path()))
                    .collect();
                files.sort_by_key(|f| f.file_name());
                for f in files {
                    // A file a client renamed away since the folder was
                    // read is simply not listed this pass.
                    let Ok(meta) = f.metadata() else { continue };
                    if meta.is_file() {
                        items.push(ItemRef {
                            calendar: name.clone(),
                            href: f.file_name().to_string_lossy().into_owned(),
                            etag: etag(&meta),
                        });
                    }
                }
            } else if meta.is_file() && is_item(&path) {
                // The root itself is a single calendar folder.
                items.push(ItemRef {
                    calendar: String::new(),
                    href: name,
                    etag: etag(&meta),
                });
            }
        }
        Ok(items)
    }

    /// The item's bytes as stored: calendars are not always UTF-8, and an
    /// answer must leave every byte it does not own as it was.
    pub fn read(&mut self, item: &ItemRef) -> Result<Vec<u8>, SourceError> {
        use std::io::Read as _;
        let path = self.path_of(item);
        let file = std::fs::File::open(&path).map_err(io(&path))?;
        // Bounded even if the file grows between the size check and the
        // read: at most one byte past the limit is ever taken in.
        let mut bytes = Vec::new();
        file.take(self.max_item_bytes + 1)
            .read_to_end(&mut bytes)
            .map_err(io(&path))?;
        if bytes.len() as u64 > self.max_item_bytes {
            let size = std::fs::metadata(&path).map_or(bytes.len() as u64, |m| m.len());
            return Err(SourceError::TooLarge {
                path: path.display().to_string(),
                size,
                max: self.max_item_bytes,
            });
        }
        // The etag the caller holds may be older than what was just read
        // (a client wrote in between); a later write then finds a different
        // file and is refused, which is what must happen.
        self.read_hashes
            .insert(path, (item.etag.clone(), content_hash(&bytes)));
        Ok(bytes)
    }

    /// Replace the item if it is still the version read at `item.etag`.
    ///
    /// On Linux: write the new content to a temporary file beside it,
    /// exchange the two names atomically, then check the file swapped out:
    /// it must have the identity the etag names and the content hash of
    /// what was read. If not, a client wrote in between: exchange back (so
    /// the client's file is at its name again), drop gatekeeper's, and
    /// report a conflict. If a client renames yet another version over the
    /// name between the two exchanges, the second exchange would take that
    /// one away: it is checked and exchanged once more, and only
    /// gatekeeper's own file or the superseded version is ever removed.
    ///
    /// What remains: a client that opened the old file before the exchange
    /// and writes into it in place after the check is writing into a file
    /// that is no longer the calendar's; its write is lost as it would be
    /// if any other client renamed over it. vdirsyncer and calendar apps
    /// write by rename, where nothing is lost. Where names cannot be
    /// exchanged (not Linux, or a file system without it) this falls back
    /// to check-then-rename, which has a short window between the check and
    /// the rename.
    pub fn write(&mut self, item: &ItemRef, text: &[u8]) -> Result<String, SourceError> {
        let path = self.path_of(item);
        let conflict = || SourceError::Conflict {
            path: path.display().to_string(),
        };
        let meta = std::fs::metadata(&path).map_err(io(&path))?;
        if etag(&meta) != item.etag {
            return Err(conflict());
        }
        let expected_identity = identity(&meta);
        let expected_hash = match self.read_hashes.get(&path) {
            Some((etag, hash)) if *etag == item.etag => Some(hash.clone()),
            _ => None,
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(
            "{TEMP_PREFIX}{}.{n}.{}",
            std::process::id(),
            item.href
        ));
        // No fsync: like the rename it replaced, this is atomic against a
        // crash of the process. An OS crash can lose the last answers, as
        // it could before (and as it can the store's last commits); an
        // fsync per answer cost 20 times the write (BENCHMARKS.md).
        let written = (|| {
            std::fs::write(&tmp, text)?;
            std::fs::set_permissions(&tmp, meta.permissions())
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(io(&tmp)(e));
        }
        let ours = std::fs::metadata(&tmp).map_err(io(&tmp))?;
        let ours_identity = identity(&ours);
        let swap = match exchange(&tmp, &path) {
            Ok(s) => s,
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(io(&path)(e));
            }
        };
        match swap {
            Swap::Unsupported => {
                // Check-then-rename: the etag was checked above.
                if let Err(e) = std::fs::rename(&tmp, &path) {
                    let _ = std::fs::remove_file(&tmp);
                    return Err(io(&path)(e));
                }
            }
            Swap::Exchanged => {
                let is_expected = |p: &Path| -> bool {
                    let Ok(m) = std::fs::metadata(p) else {
                        return false;
                    };
                    if identity(&m) != expected_identity {
                        return false;
                    }
                    match (&expected_hash, std::fs::read(p)) {
                        (Some(h), Ok(bytes)) => content_hash(&bytes) == *h,
                        // Not read through this source: the etag (mtime,
                        // size, inode) is all there is to compare.
                        (None, Ok(_)) => etag(&m) == item.etag,
                        (_, Err(_)) => false,
                    }
                };
                if !is_expected(&tmp) {
                    let ours = (ours_identity, content_hash(text));
                    self.undo_exchange(&tmp, &path, ours);
                    return Err(conflict());
                }
                // The swapped-out version is the one the verdict was made
                // on: it is superseded by gatekeeper's answer. A client that
                // opened it before the exchange may still write into it in
                // place: what lands before the unlink is caught here, and
                // put back.
                let ours = (ours_identity, content_hash(text));
                if let Some(late) = unlink_checked(&tmp, expected_hash.as_deref()) {
                    let back = tmp.with_file_name(format!(
                        "{TEMP_PREFIX}{}.{}.{}",
                        std::process::id(),
                        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed),
                        item.href
                    ));
                    if std::fs::write(&back, late).is_ok() {
                        self.undo_exchange(&back, &path, ours);
                    }
                    return Err(conflict());
                }
            }
        }
        let new_meta = std::fs::metadata(&path).map_err(io(&path))?;
        if identity(&new_meta) != ours_identity {
            // A client renamed its own version over gatekeeper's answer
            // right after it landed: the client's stands, and the item is
            // read again next pass.
            return Err(conflict());
        }
        let new_etag = etag(&new_meta);
        self.read_hashes
            .insert(path, (new_etag.clone(), content_hash(text)));
        Ok(new_etag)
    }
}

/// Remove `p`, then look at what it held through a handle opened before:
/// returns the content when it no longer matches `expected` (a client
/// that had the file open wrote into it after it was checked). Once the
/// name is gone nobody can open it again, so only a write already under
/// way can still land, after this looked.
fn unlink_checked(p: &Path, expected: Option<&str>) -> Option<Vec<u8>> {
    use std::io::{Read, Seek};
    let mut f = std::fs::File::open(p).ok();
    let _ = std::fs::remove_file(p);
    let (f, expected) = (f.as_mut()?, expected?);
    let mut bytes = Vec::new();
    f.seek(std::io::SeekFrom::Start(0)).ok()?;
    f.read_to_end(&mut bytes).ok()?;
    (content_hash(&bytes) != expected).then_some(bytes)
}

/// A file as it stands: its identity and a hash of its content. Inode
/// numbers are reused at once on a busy folder, so identity alone cannot
/// tell two versions apart; the content can, and two files with the same
/// content are the same version for the client (removing one loses
/// nothing).
type Version = ((u64, u64), String);

fn version_of(p: &Path) -> Option<Version> {
    let meta = std::fs::metadata(p).ok()?;
    let bytes = std::fs::read(p).ok()?;
    Some((identity(&meta), content_hash(&bytes)))
}

impl VdirSource {
    /// A client wrote between gatekeeper's read and its exchange: put the
    /// client's file back at `path`. Right after the exchange `tmp` holds
    /// the client's file and `path` gatekeeper's. A file is removed only
    /// when it is gatekeeper's own as written, or a client version that a
    /// newer client version at `path` supersedes.
    fn undo_exchange(&self, tmp: &Path, path: &Path, ours: Version) {
        // Only gatekeeper touches `tmp`, so what it holds stays put between
        // exchanges.
        let Some(swapped_out) = version_of(tmp) else {
            return;
        };
        // Each exchange puts what `tmp` holds at the name and brings back
        // what the name held. What comes back is removed when it is
        // gatekeeper's own file as written (first round), or the very
        // version the previous exchange put at the name (nobody replaced
        // it, so the newer one now at the name supersedes it). Anything
        // else is a client's newer file renamed over the name (or written
        // into gatekeeper's in place) in between: it goes back to the name
        // in the next round. Bounded: each round answers one more client
        // write.
        let mut at_tmp = swapped_out;
        let mut put_last_round: Option<Version> = None;
        for _ in 0..16 {
            if !matches!(exchange(tmp, path), Ok(Swap::Exchanged)) {
                break;
            }
            let back = version_of(tmp);
            let superseded = match &put_last_round {
                None => back.as_ref() == Some(&ours),
                Some(put) => back.as_ref() == Some(put),
            };
            if superseded {
                // Written into in place after the check? Then that is the
                // client's newest version: keep it for a person to see.
                let expected = back.map(|(_, h)| h);
                if let Some(late) = unlink_checked(tmp, expected.as_deref()) {
                    let _ = std::fs::write(tmp, late);
                    break;
                }
                return;
            }
            let Some(back) = back else { break };
            put_last_round = Some(std::mem::replace(&mut at_tmp, back));
        }
        let kept = tmp.with_file_name(format!(
            ".gatekeeper-kept.{}",
            tmp.file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
        ));
        let _ = std::fs::rename(tmp, &kept);
        tracing::warn!(
            "`{}`: a client kept replacing the file while gatekeeper stepped back; `{}` holds a version to check by hand",
            path.display(),
            kept.display()
        );
    }
}

/// A vdir folder as a [`CalendarSource`]: one member's calendars, one
/// batch per changed file, answers edited into the bytes read
/// ([`ItemEditor`]) and written only over the version read
/// ([`VdirSource::write`]).
pub struct VdirCalendar {
    name: String,
    members: Vec<String>,
    mode: Option<Mode>,
    root: PathBuf,
    limits: Limits,
    files: Mutex<VdirSource>,
    /// The file being answered: its bytes and etag as they stand after
    /// gatekeeper's own writes. One at a time: a pass answers a file's
    /// events before it reads the next file.
    open: Mutex<Option<OpenItem>>,
}

struct OpenItem {
    /// As listed and read: what targets name.
    read: ItemRef,
    bytes: Vec<u8>,
    etag: String,
}

impl VdirCalendar {
    /// A vdir source of the config. Temporary files of gatekeeper
    /// processes that died mid-write are not anyone's calendar: they go.
    pub fn from_config(s: &SourceConfig, limits: Limits) -> VdirCalendar {
        let (name, member, mode, path) = match s {
            SourceConfig::Vdir {
                name,
                member,
                mode,
                path,
            } => (name.clone(), member.clone(), *mode, path.clone()),
            // `source::build` only hands over vdir sources.
            other => (
                other.name().to_string(),
                String::new(),
                other.mode(),
                PathBuf::new(),
            ),
        };
        let files = VdirSource::new(path.clone()).with_max_item_bytes(limits.max_item_bytes);
        for f in files.clean_stale_temps() {
            tracing::info!("removed a stale temporary file `{}`", f.display());
        }
        VdirCalendar {
            name,
            members: vec![member],
            mode,
            root: path,
            limits,
            files: Mutex::new(files),
            open: Mutex::new(None),
        }
    }

    fn member(&self) -> &str {
        &self.members[0]
    }

    fn files(&self) -> std::sync::MutexGuard<'_, VdirSource> {
        self.files.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn open(&self) -> std::sync::MutexGuard<'_, Option<OpenItem>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn item_path(&self, item: &ItemRef) -> String {
        if item.calendar.is_empty() {
            format!("{}:{}", self.name, item.href)
        } else {
            format!("{}:{}/{}", self.name, item.calendar, item.href)
        }
    }

    fn batch(&self, item: ItemRef) -> Batch {
        Batch {
            member: self.member().to_string(),
            cursor: vec![CursorOp::Set {
                calendar: item.calendar.clone(),
                item: item.href.clone(),
                value: ItemCursor::new(item.etag.clone()).to_string(),
            }],
            item,
            series: Vec::new(),
            gone: Vec::new(),
            problems: Vec::new(),
            items_read: 0,
            read_at: std::time::Instant::now(),
        }
    }

    /// Read one changed file into a batch. A file over the size limit or
    /// that cannot be parsed is skipped with a problem, its version
    /// remembered, so later passes do not trip on it again.
    fn read_item(&self, item: ItemRef) -> Change {
        let path = self.item_path(&item);
        let mut batch = self.batch(item);
        let bytes = match self.files().read(&batch.item) {
            Ok(b) => b,
            Err(e @ SourceError::TooLarge { .. }) => {
                batch.problems.push(format!("{path}: {e}; skipped"));
                return Change::Batch(Box::new(batch));
            }
            Err(error) => {
                return Change::Failed {
                    member: Some(self.member().to_string()),
                    error,
                };
            }
        };
        batch.items_read = 1;
        let target = Target {
            member: self.member().to_string(),
            calendar: batch.item.calendar.clone(),
            href: batch.item.href.clone(),
            shared_id: None,
            etag: Some(batch.item.etag.clone()),
        };
        let read = super::ics::read_item(&bytes, &self.limits, &path, &target);
        batch.problems = read.problems;
        batch.series = read.series;
        // The events the file holds, so its meetings leave the ledger when
        // it goes.
        let cursor = ItemCursor {
            etag: batch.item.etag.clone(),
            events: read.keys,
        };
        batch.cursor = vec![CursorOp::Set {
            calendar: batch.item.calendar.clone(),
            item: batch.item.href.clone(),
            value: cursor.to_string(),
        }];
        *self.open() = Some(OpenItem {
            read: batch.item.clone(),
            etag: batch.item.etag.clone(),
            bytes,
        });
        Change::Batch(Box::new(batch))
    }
}

impl CalendarSource for VdirCalendar {
    fn name(&self) -> &str {
        &self.name
    }

    fn members(&self) -> &[String] {
        &self.members
    }

    fn mode(&self) -> Option<Mode> {
        self.mode
    }

    fn changes<'s>(
        &'s self,
        cursors: &Cursors,
        request: SyncRequest<'_>,
    ) -> Box<dyn Iterator<Item = Change> + 's> {
        if request
            .members
            .is_some_and(|m| !m.iter().any(|m| m == self.member()))
        {
            return Box::new(std::iter::empty());
        }
        let items = match self.files().list() {
            Ok(items) => items,
            Err(error) => {
                return Box::new(std::iter::once(Change::Failed {
                    member: Some(self.member().to_string()),
                    error,
                }));
            }
        };
        let listed: std::collections::HashSet<(String, String)> = items
            .iter()
            .map(|i| (i.calendar.clone(), i.href.clone()))
            .collect();
        // A file that is gone (vdirsyncer deletes it when the server does):
        // its meetings come off the member's burden ledger.
        let mut gone: Vec<Change> = cursors
            .iter()
            .filter(|(key, _)| !listed.contains(*key))
            .map(|((calendar, href), cursor)| {
                let item = ItemRef {
                    calendar: calendar.clone(),
                    href: href.clone(),
                    etag: String::new(),
                };
                let mut batch = self.batch(item);
                batch.gone = ItemCursor::parse(cursor)
                    .events
                    .into_iter()
                    .map(|(uid, recurrence_id)| Gone {
                        uid,
                        recurrence_id,
                        occurrence: None,
                        protected_id: None,
                    })
                    .collect();
                batch.cursor = vec![CursorOp::Remove {
                    calendar: calendar.clone(),
                    item: href.clone(),
                }];
                Change::Batch(Box::new(batch))
            })
            .collect();
        gone.sort_by(|a, b| match (a, b) {
            (Change::Batch(a), Change::Batch(b)) => {
                (&a.item.calendar, &a.item.href).cmp(&(&b.item.calendar, &b.item.href))
            }
            _ => std::cmp::Ordering::Equal,
        });
        let changed: Vec<ItemRef> = items
            .into_iter()
            .filter(|item| {
                cursors
                    .get(&(item.calendar.clone(), item.href.clone()))
                    .is_none_or(|c| ItemCursor::parse(c).etag != item.etag)
            })
            .collect();
        Box::new(
            changed
                .into_iter()
                .map(move |item| self.read_item(item))
                .chain(gone),
        )
    }

    fn can_peek(&self) -> bool {
        true
    }

    fn finish(&self, batch: &Batch) -> Vec<CursorOp> {
        let open = self.open();
        let Some(o) = open.as_ref().filter(|o| o.read == batch.item) else {
            return batch.cursor.clone();
        };
        // The version after gatekeeper's own writes is the one seen.
        batch
            .cursor
            .iter()
            .map(|op| match op {
                CursorOp::Set {
                    calendar,
                    item,
                    value,
                } => {
                    let mut c = ItemCursor::parse(value);
                    c.etag = o.etag.clone();
                    CursorOp::Set {
                        calendar: calendar.clone(),
                        item: item.clone(),
                        value: c.to_string(),
                    }
                }
                other => other.clone(),
            })
            .collect()
    }

    fn write(&self, target: &Target, event: &Event, answer: &Answer) -> Result<(), SourceError> {
        let mut open = self.open();
        let conflict = || SourceError::Conflict {
            path: self
                .root
                .join(&target.calendar)
                .join(&target.href)
                .display()
                .to_string(),
        };
        let Some(o) = open.as_mut().filter(|o| {
            o.read.calendar == target.calendar
                && o.read.href == target.href
                && target.etag.as_deref() == Some(o.read.etag.as_str())
        }) else {
            return Err(conflict());
        };
        let bytes = super::ics::answer_bytes(&o.bytes, event, &target.member, answer)?;
        let current = ItemRef {
            etag: o.etag.clone(),
            ..o.read.clone()
        };
        let etag = self.files().write(&current, &bytes)?;
        // Only a written answer becomes the item's state.
        o.bytes = bytes;
        o.etag = etag;
        Ok(())
    }

    fn rescreen(&self, cursors: &Cursors, members: &[&str]) -> Vec<CursorOp> {
        if !members.contains(&self.member()) {
            return Vec::new();
        }
        // Every item looks changed (its etag forgotten, the events it held
        // kept), so the next pass reads it again.
        cursors
            .iter()
            .map(|((calendar, item), value)| {
                let mut c = ItemCursor::parse(value);
                c.etag.clear();
                CursorOp::Set {
                    calendar: calendar.clone(),
                    item: item.clone(),
                    value: c.to_string(),
                }
            })
            .collect()
    }

    fn events_between(
        &self,
        member: &str,
        _from: DateTime<Utc>,
        _to: DateTime<Utc>,
    ) -> Result<Window, SourceError> {
        use rayon::prelude::*;
        if member != self.member() {
            return Ok(Window::default());
        }
        let items = self.files().list()?;
        let max = self.limits.max_item_bytes as u64;
        // Files are read and parsed in parallel: the weekly report reads
        // whole teams.
        let read: Vec<Result<Vec<Vec<Event>>, String>> = items
            .par_iter()
            .map(|item| {
                let path = if item.calendar.is_empty() {
                    self.root.join(&item.href)
                } else {
                    self.root.join(&item.calendar).join(&item.href)
                };
                let bytes = read_bounded(&path, max).map_err(|e| format!("{e}; skipped"))?;
                let parsed = parse_ics_bytes_with(&bytes, &self.limits)
                    .map_err(|e| format!("{}: {e}; skipped", path.display()))?;
                Ok(group_by_uid(parsed.events))
            })
            .collect();
        let mut window = Window::default();
        for r in read {
            match r {
                Ok(series) => window.series.extend(series),
                Err(p) => window.problems.push(p),
            }
        }
        Ok(window)
    }
}

/// A file's bytes, refused without reading it when it is over `max`.
fn read_bounded(path: &Path, max: u64) -> Result<Vec<u8>, SourceError> {
    use std::io::Read as _;
    let size = std::fs::metadata(path).map_err(io(path))?.len();
    if size > max {
        return Err(SourceError::TooLarge {
            path: path.display().to_string(),
            size,
            max,
        });
    }
    // Sized from the metadata (as `fs::read` does): an empty buffer makes
    // `read_to_end` grow it from a 32-byte probe, about six reads per
    // calendar file instead of two (the weekly report reads every file).
    let mut bytes = Vec::with_capacity(size as usize + 1);
    std::fs::File::open(path)
        .map_err(io(path))?
        .take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(io(path))?;
    Ok(bytes)
}

/// `config check` for a local folder: its calendars and items are
/// listed (no item is read, no stale temporary file removed); a folder
/// that cannot be listed fails the check, an empty one is a warning.
pub fn check(s: &SourceConfig, team: &[String], report: &mut dyn FnMut(super::Reach)) {
    use super::Reach;
    let SourceConfig::Vdir {
        name, member, path, ..
    } = s
    else {
        report(Reach::Unreachable(format!(
            "source `{}`: not a local folder source",
            s.name()
        )));
        return;
    };
    if !team.contains(member) {
        report(Reach::Warning(format!(
            "source `{name}`: `{member}` is in no policy, so nothing of theirs is screened"
        )));
    }
    match VdirSource::new(path.clone()).list() {
        Ok(items) => {
            let mut calendars: Vec<&str> = items.iter().map(|i| i.calendar.as_str()).collect();
            calendars.sort_unstable();
            calendars.dedup();
            report(Reach::Found(format!(
                "source `{name}` (vdir, {member}): {} calendar(s), {} item(s) in `{}`",
                calendars.len(),
                items.len(),
                path.display()
            )));
            if items.is_empty() {
                report(Reach::Warning(format!(
                    "source `{name}`: no calendars in `{}` yet; point `path` at the folder vdirsyncer keeps",
                    path.display()
                )));
            }
        }
        Err(e) => report(Reach::Unreachable(format!("source `{name}`: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_calendar_folders_and_refuses_stale_writes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("work")).unwrap();
        std::fs::create_dir(dir.path().join(".hidden")).unwrap();
        std::fs::write(dir.path().join("work/a.ics"), "A").unwrap();
        std::fs::write(dir.path().join("work/notes.txt"), "x").unwrap();
        std::fs::write(dir.path().join("work/displayname"), "Work").unwrap();
        std::fs::write(dir.path().join(".hidden/b.ics"), "B").unwrap();
        let mut src = VdirSource::new(dir.path().to_path_buf());
        let items = src.list().unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(
            (items[0].calendar.as_str(), items[0].href.as_str()),
            ("work", "a.ics")
        );
        assert_eq!(src.read(&items[0]).unwrap(), b"A");

        let new_etag = src.write(&items[0], b"A2").unwrap();
        assert_ne!(new_etag, items[0].etag);
        assert_eq!(
            std::fs::read_to_string(dir.path().join("work/a.ics")).unwrap(),
            "A2"
        );
        // The old etag is stale now: a second write with it must not clobber.
        assert!(matches!(
            src.write(&items[0], b"A3"),
            Err(SourceError::Conflict { .. })
        ));
        assert_eq!(
            std::fs::read_to_string(dir.path().join("work/a.ics")).unwrap(),
            "A2"
        );
    }

    #[test]
    fn stale_temp_files_of_dead_processes_are_removed_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().join("work");
        std::fs::create_dir(&work).unwrap();
        // A process that has exited: its pid is free.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let own = std::process::id();
        let names = [
            (format!(".gatekeeper-tmp.{dead}.3.a.ics"), false),
            (format!(".gatekeeper-tmp.{own}.0.b.ics"), true),
            (".c.ics.gatekeeper-tmp".to_string(), false),
            (".client-7.tmp".to_string(), true),
            ("d.ics".to_string(), true),
        ];
        for (n, _) in &names {
            std::fs::write(work.join(n), "x").unwrap();
        }
        let removed = VdirSource::new(dir.path().to_path_buf()).clean_stale_temps();
        assert_eq!(removed.len(), 2, "{removed:?}");
        for (n, stays) in &names {
            assert_eq!(work.join(n).exists(), *stays, "{n}");
        }
    }

    /// The `CalendarSource` over a folder: only changed files are handed
    /// over, an answer lands only over the version read, the cursor after
    /// a write names the written version, and a file that went takes its
    /// events off with it.
    #[test]
    fn the_calendar_source_hands_over_changes_and_writes_only_over_what_it_read() {
        use crate::calendar::PartStat;
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().join("work");
        std::fs::create_dir(&work).unwrap();
        let ics = |uid: &str| {
            format!(
                "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261120T000000Z\r\nDTSTART:20261201T100000Z\r\nDTEND:20261201T110000Z\r\nSUMMARY:Plan\r\nORGANIZER:mailto:carol@example.com\r\nATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:ana@example.com\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
            )
        };
        std::fs::write(work.join("a.ics"), ics("a")).unwrap();
        std::fs::write(work.join("b.ics"), ics("b")).unwrap();
        let config = SourceConfig::Vdir {
            name: "local".into(),
            member: "ana@example.com".into(),
            path: dir.path().to_path_buf(),
            mode: None,
        };
        let source = VdirCalendar::from_config(&config, Limits::DEFAULT);
        let request = SyncRequest {
            members: None,
            now: Utc::now(),
            horizon_days: 30,
        };
        let batches = |cursors: &Cursors| -> Vec<Batch> {
            source
                .changes(cursors, request)
                .map(|c| match c {
                    Change::Batch(b) => *b,
                    other => panic!("{other:?}"),
                })
                .collect()
        };
        let mut cursors = Cursors::new();
        let first = batches(&cursors);
        assert_eq!(first.len(), 2);
        assert_eq!(first[0].series[0][0].event.uid, "a");
        // `b.ics` is remembered as read; `a.ics` is answered, and a client
        // writes it again before a second answer.
        let store = |cursors: &mut Cursors, ops: Vec<CursorOp>| {
            for op in ops {
                match op {
                    CursorOp::Set {
                        calendar,
                        item,
                        value,
                    } => cursors.insert((calendar, item), value),
                    CursorOp::Remove { calendar, item } => cursors.remove(&(calendar, item)),
                };
            }
        };
        store(&mut cursors, source.finish(&first[1]));
        let mut a = batches(&cursors);
        assert_eq!(a.len(), 1, "only the file not yet finished");
        let a = a.remove(0);
        let entry = &a.series[0][0];
        let answer = Answer {
            partstat: PartStat::Declined,
            comment: Some("no agenda".into()),
            marker: Some(PartStat::Declined),
            rules: vec!["agenda".into()],
        };
        source.write(&entry.target, &entry.event, &answer).unwrap();
        let text = std::fs::read_to_string(work.join("a.ics")).unwrap();
        assert!(text.contains("PARTSTAT=DECLINED"), "{text}");
        store(&mut cursors, source.finish(&a));
        assert!(
            batches(&cursors).is_empty(),
            "gatekeeper's own write is seen"
        );

        std::fs::write(work.join("a.ics"), ics("a").replace("Plan", "Plan v2")).unwrap();
        let mut again = batches(&cursors);
        assert_eq!(again.len(), 1);
        let again = again.remove(0);
        std::fs::write(work.join("a.ics"), ics("a").replace("Plan", "Plan v3")).unwrap();
        let e = &again.series[0][0];
        assert!(matches!(
            source.write(&e.target, &e.event, &answer),
            Err(SourceError::Conflict { .. })
        ));
        assert!(
            std::fs::read_to_string(work.join("a.ics"))
                .unwrap()
                .contains("Plan v3")
        );

        std::fs::remove_file(work.join("b.ics")).unwrap();
        let gone = batches(&cursors);
        let b = gone.iter().find(|b| b.item.href == "b.ics").unwrap();
        assert_eq!(b.gone.len(), 1);
        assert_eq!(b.gone[0].uid, "b");
        assert!(matches!(&b.cursor[..], [CursorOp::Remove { .. }]));
    }
}
