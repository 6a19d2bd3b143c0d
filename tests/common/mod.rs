//! Helpers shared by the tests that drive the real binary.
#![allow(dead_code)]

pub mod radicale;

use std::path::{Path, PathBuf};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn gatekeeper() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("gatekeeper").expect("binary builds");
    cmd.env("NO_COLOR", "1").env_remove("GATEKEEPER_LOG");
    cmd
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A private copy of the shipped demo team, state folder emptied.
pub fn demo_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo().join("examples/demo"), dir.path());
    for f in std::fs::read_dir(dir.path().join("state")).unwrap() {
        let p = f.unwrap().path();
        if p.file_name().is_some_and(|n| n != ".gitignore") {
            std::fs::remove_file(p).unwrap();
        }
    }
    dir
}

pub const DEMO_NOW: &str = "2026-11-30T08:00:00Z";

pub fn stdout_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Run `gatekeeper run --once` on a config; returns (exit code, stdout, stderr).
pub fn run_once(config: &Path, now: &str) -> (i32, String, String) {
    let out = gatekeeper()
        .args(["run", "--once", "--now", now, "--config"])
        .arg(config)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        stdout_of(&out),
        stderr_of(&out),
    )
}

/// The decision log as JSON rows.
pub fn log_rows(config: &Path) -> Vec<serde_json::Value> {
    let out = gatekeeper()
        .args(["log", "--format", "json", "--config"])
        .arg(config)
        .output()
        .unwrap();
    assert!(out.status.success(), "log failed: {}", stderr_of(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Unfold iCalendar content lines (RFC 5545 §3.1) for easy assertions.
pub fn unfold(text: &str) -> String {
    text.replace("\r\n ", "").replace("\n ", "")
}
