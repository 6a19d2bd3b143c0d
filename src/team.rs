//! The team's policies as the daemon holds them: loaded from files and
//! folders, indexed by member, reloaded when a file changes, and kept at
//! the last good version when a change breaks one.
//!
//! It sits below both `daemon` and `report` (the weekly report's schedule
//! reads it too), so neither reaches into the other for it. It reads
//! policy files and their modification times, and so lives outside the
//! pure `policy` core; it must not depend on `daemon`, `report` or a
//! source.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use crate::policy::{Diagnostic, LintedFile, Policy, lint_bytes};

pub struct Team {
    policies: Vec<Arc<Policy>>,
    by_member: HashMap<String, usize>,
    /// The files read and their modification times, where a
    /// `PolicyWatch` starts from.
    stamps: PolicyStamps,
}

/// A policy set that could not be loaded, with every problem found.
#[derive(Debug)]
pub struct TeamError {
    pub files: Vec<LintedFile>,
    pub io: Vec<String>,
}

impl TeamError {
    pub fn diagnostics(&self) -> impl Iterator<Item = &Diagnostic> {
        self.files.iter().flat_map(|f| f.diagnostics.iter())
    }

    /// rustc-style rendering of every problem.
    pub fn render(&self, styled: bool) -> String {
        let diags: Vec<Diagnostic> = self
            .diagnostics()
            .filter(|d| d.is_error())
            .cloned()
            .collect();
        let sources: HashMap<&str, &str> = self
            .files
            .iter()
            .map(|f| (f.path.as_str(), f.source.as_str()))
            .collect();
        let mut out = crate::policy::diagnostic::render_human(
            &diags,
            &|p| sources.get(p).map(|s| s.to_string()),
            styled,
        );
        for e in &self.io {
            out.push_str(&format!("error: {e}\n"));
        }
        out
    }
}

/// Expand files and folders into the policy files they name, sorted.
pub fn policy_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| format!("cannot read policy folder `{}`: {e}", p.display()))?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|f| f.extension().is_some_and(|e| e == "toml"))
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(p.clone());
        }
    }
    Ok(files)
}

fn stamp(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The policy files a set of paths names and their modification times:
/// two of these compare equal unless a file was edited, added or removed.
pub type PolicyStamps = Vec<(PathBuf, Option<SystemTime>)>;

/// The policy files `paths` name and their modification times: compare two
/// of these to notice an edit without loading anything.
pub fn policy_stamps(paths: &[PathBuf]) -> PolicyStamps {
    policy_files(paths)
        .unwrap_or_default()
        .into_iter()
        .map(|p| {
            let t = stamp(&p);
            (p, t)
        })
        .collect()
}

impl Team {
    pub fn load(paths: &[PathBuf]) -> Result<Team, TeamError> {
        let files = policy_files(paths).map_err(|e| TeamError {
            files: Vec::new(),
            io: vec![e],
        })?;
        let mut sources = Vec::new();
        let mut io = Vec::new();
        let mut stamps = Vec::new();
        for f in &files {
            stamps.push((f.clone(), stamp(f)));
            // Bytes, not text: a file that is not UTF-8 is reported with its
            // line and column by `lint_bytes`, as `policy lint` reports it.
            match std::fs::read(f) {
                Ok(s) => sources.push((f.display().to_string(), s)),
                Err(e) => io.push(format!("cannot read policy `{}`: {e}", f.display())),
            }
        }
        if files.is_empty() {
            io.push("no policy files found".to_string());
        }
        let linted = lint_bytes(sources);
        if !io.is_empty() || linted.iter().any(|f| f.policy.is_none()) {
            return Err(TeamError { files: linted, io });
        }
        let policies: Vec<Arc<Policy>> = linted
            .into_iter()
            .filter_map(|f| f.policy.map(Arc::new))
            .collect();
        let mut by_member = HashMap::new();
        for (i, p) in policies.iter().enumerate() {
            for m in &p.members {
                by_member.insert(m.email.clone(), i);
            }
        }
        Ok(Team {
            policies,
            by_member,
            stamps,
        })
    }

    /// Members whose policy leaves their time zone to their calendar.
    pub fn members_needing_zone(&self) -> Vec<String> {
        self.policies
            .iter()
            .flat_map(|p| {
                p.members
                    .iter()
                    .filter(|m| m.tz_from_calendar)
                    .map(|m| m.email.clone())
            })
            .collect()
    }

    /// Set a member's time zone from their calendar's setting.
    pub fn set_member_zone(&mut self, member: &str, tz: chrono_tz::Tz) {
        if let Some(&i) = self.by_member.get(member) {
            self.policies[i] = Arc::new(self.policies[i].with_member_tz(member, tz));
        }
    }

    /// Every member of every policy, sorted.
    pub fn members(&self) -> Vec<String> {
        let mut all: Vec<String> = self.by_member.keys().cloned().collect();
        all.sort();
        all
    }

    /// Whether gatekeeper answers for this address (a member of any loaded
    /// policy): the core never reads such a person's PARTSTAT.
    pub fn governs(&self, email: &str) -> bool {
        self.by_member.contains_key(email)
    }

    /// Every loaded policy, in file order.
    pub fn policies(&self) -> &[Arc<Policy>] {
        &self.policies
    }

    pub fn policy_for(&self, member: &str) -> Option<&Arc<Policy>> {
        self.by_member.get(member).map(|&i| &self.policies[i])
    }

    /// Changes whenever any policy file's content changes.
    pub fn combined_hash(&self) -> String {
        let joined: Vec<&str> = self.policies.iter().map(|p| p.hash.as_str()).collect();
        crate::policy::model::content_hash(&joined.join(","))
    }
}

impl Team {
    /// Watch `paths` for edits made after this team was read from them.
    pub fn watch(&self, paths: &[PathBuf]) -> PolicyWatch {
        PolicyWatch {
            paths: paths.to_vec(),
            seen: self.stamps.clone(),
        }
    }
}

/// Notices edits to the policy files without loading them: a file whose
/// modification time changed, one added to or removed from a folder.
#[derive(Debug, Clone)]
pub struct PolicyWatch {
    paths: Vec<PathBuf>,
    seen: PolicyStamps,
}

impl PolicyWatch {
    /// Whether the files changed since last seen; what is on disk now
    /// counts as seen from here on, so a file that stays broken is reported
    /// once, not on every look.
    pub fn edited(&mut self) -> bool {
        let now = policy_stamps(&self.paths);
        now != std::mem::replace(&mut self.seen, now.clone())
    }

    /// Whether the files changed since last seen, leaving that for
    /// `edited` to take.
    pub fn peek(&self) -> bool {
        policy_stamps(&self.paths) != self.seen
    }

    /// Count what is on disk now as seen (the files are about to be read
    /// anyway, as on SIGHUP).
    pub fn mark_seen(&mut self) {
        self.seen = policy_stamps(&self.paths);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = r#"
[team]
name = "t"

[[member]]
email = "a@example.com"
time_zone = "UTC"
working_hours = "09:00-17:00"
"#;

    fn touch(path: &Path, secs: u64) {
        let f = std::fs::File::options().write(true).open(path).unwrap();
        f.set_modified(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs))
            .unwrap();
    }

    #[test]
    fn a_watch_notices_each_edit_once() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("team.toml");
        std::fs::write(&file, POLICY).unwrap();
        touch(&file, 1_000_000);
        let paths = vec![dir.path().to_path_buf()];
        let team = Team::load(&paths).unwrap_or_else(|e| panic!("{}", e.render(false)));
        let mut watch = team.watch(&paths);
        assert!(!watch.peek());
        assert!(!watch.edited());

        touch(&file, 2_000_000);
        assert!(watch.peek());
        assert!(watch.peek(), "peeking takes nothing");
        assert!(watch.edited());
        assert!(!watch.edited(), "an edit is noticed once");

        // A new file in the folder is an edit; so is one going away.
        let other = dir.path().join("other.toml");
        std::fs::write(&other, POLICY.replace("a@", "b@")).unwrap();
        assert!(watch.edited());
        std::fs::remove_file(&other).unwrap();
        touch(&file, 3_000_000);
        watch.mark_seen();
        assert!(!watch.peek());
    }
}
