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
    /// The files read and their modification times, to notice changes.
    stamps: Vec<(PathBuf, Option<SystemTime>)>,
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

/// The policy files `paths` name and their modification times: compare two
/// of these to notice an edit without loading anything.
pub fn policy_stamps(paths: &[PathBuf]) -> Vec<(PathBuf, Option<SystemTime>)> {
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

    /// Whether any file changed on disk since it was loaded.
    pub fn changed_on_disk(&self, paths: &[PathBuf]) -> bool {
        let now_files = policy_files(paths).unwrap_or_default();
        if now_files.len() != self.stamps.len() {
            return true;
        }
        self.stamps
            .iter()
            .any(|(p, t)| stamp(p) != *t || !now_files.contains(p))
    }
}

impl Team {
    /// Take the files' current modification times as seen, without loading
    /// them: used after a failed reload so a broken file is reported once.
    pub fn mark_seen(&mut self, paths: &[PathBuf]) {
        self.stamps = policy_stamps(paths);
    }
}
