//! Local calendars in the vdir layout used by vdirsyncer and khal: a folder
//! per calendar, one `.ics` file per event. gatekeeper can sit on top of
//! calendars that vdirsyncer keeps in sync with a server: it answers an
//! invite by rewriting the member's copy the way a calendar client would,
//! atomically, and only if the file did not change since it was read.

use std::path::{Path, PathBuf};

use super::{CalendarSource, ItemRef, SourceError};

pub struct VdirSource {
    root: PathBuf,
}

impl VdirSource {
    pub fn new(root: PathBuf) -> VdirSource {
        VdirSource { root }
    }

    fn path_of(&self, item: &ItemRef) -> PathBuf {
        if item.calendar.is_empty() {
            self.root.join(&item.href)
        } else {
            self.root.join(&item.calendar).join(&item.href)
        }
    }
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

fn is_item(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("ics"))
        && !path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'))
}

impl CalendarSource for VdirSource {
    fn list(&mut self) -> Result<Vec<ItemRef>, SourceError> {
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
                    let meta = f.metadata().map_err(io(&f.path()))?;
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

    fn read(&mut self, item: &ItemRef) -> Result<Vec<u8>, SourceError> {
        let path = self.path_of(item);
        std::fs::read(&path).map_err(io(&path))
    }

    fn write(&mut self, item: &ItemRef, text: &[u8]) -> Result<String, SourceError> {
        let path = self.path_of(item);
        let meta = std::fs::metadata(&path).map_err(io(&path))?;
        if etag(&meta) != item.etag {
            return Err(SourceError::Conflict {
                path: path.display().to_string(),
            });
        }
        // Write beside the file and rename over it, so a crash leaves either
        // the old or the new event, never half of one.
        let dir = path.parent().unwrap_or(Path::new("."));
        let tmp = dir.join(format!(".{}.gatekeeper-tmp", item.href));
        std::fs::write(&tmp, text).map_err(io(&tmp))?;
        std::fs::set_permissions(&tmp, meta.permissions()).map_err(io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
        let new_meta = std::fs::metadata(&path).map_err(io(&path))?;
        Ok(etag(&new_meta))
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
}
