//! The development binary as a person uses it in the README's walkthrough:
//! `--write-example DIR` from a folder outside the repository, `invite`
//! against the running fake, and the summary on Ctrl-C.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_gatekeeper-google-fake");

struct Running {
    child: Child,
    out: Arc<Mutex<Vec<String>>>,
    err: Arc<Mutex<Vec<String>>>,
}

impl Running {
    fn start(args: &[&str], cwd: &std::path::Path) -> Running {
        let mut child = Command::new(BIN)
            .args(args)
            .current_dir(cwd)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let collect = |r: Box<dyn std::io::Read + Send>| {
            let lines = Arc::new(Mutex::new(Vec::new()));
            let sink = lines.clone();
            std::thread::spawn(move || {
                for l in BufReader::new(r).lines().map_while(Result::ok) {
                    sink.lock().unwrap().push(l);
                }
            });
            lines
        };
        let out = collect(Box::new(child.stdout.take().unwrap()));
        let err = collect(Box::new(child.stderr.take().unwrap()));
        Running { child, out, err }
    }

    /// The first stdout line containing `needle`, waiting up to a minute.
    fn wait_for(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(l) = self.out.lock().unwrap().iter().find(|l| l.contains(needle)) {
                return l.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no line with {needle:?}; stdout: {:?}; stderr: {:?}",
                self.out.lock().unwrap(),
                self.err.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Ctrl-C, then everything it wrote to stderr.
    fn interrupt(mut self) -> String {
        // SAFETY: sending a signal to our own child by its pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let status = self.child.wait().unwrap();
        assert!(status.success(), "{status:?}");
        // The reader threads end with the pipe; wait for the last lines.
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self
            .err
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("stopped after"))
        {
            assert!(Instant::now() < deadline, "{:?}", self.err.lock().unwrap());
            std::thread::sleep(Duration::from_millis(50));
        }
        self.err.lock().unwrap().join("\n")
    }
}

#[test]
fn write_example_makes_a_folder_gatekeeper_runs_from_and_invite_reaches_the_fake() {
    let cwd = tempfile::tempdir().unwrap();
    let example = cwd.path().join("gk-google");
    let fake = Running::start(
        &["--listen", "127.0.0.1:0", "--write-example", "gk-google"],
        cwd.path(),
    );
    let api_base = fake.wait_for("api_base");
    let api_base = api_base.split('"').nth(1).unwrap().to_string();
    fake.wait_for("press Ctrl-C");
    let config = std::fs::read_to_string(example.join("gatekeeper.toml")).unwrap();
    assert!(
        config.contains(&format!("api_base = \"{api_base}\"")),
        "{config}"
    );
    assert!(example.join("policies/team.toml").is_file());
    let key: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(example.join("state/service-account.json")).unwrap(),
    )
    .unwrap();
    let fake_url = api_base.trim_end_matches("calendar/v3/").to_string();
    assert_eq!(key["token_uri"], format!("{fake_url}token"));

    let out = Command::new(BIN)
        .args([
            "invite",
            "--fake",
            &fake_url,
            "--organizer",
            "bo@example.com",
        ])
        .args(["--attendee", "ana@example.com", "--summary", "Quick sync"])
        .args(["--start", "2026-03-05T15:00:00Z", "--minutes", "45"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("added") && stdout.contains("Quick sync"),
        "{stdout}"
    );

    let summary = fake.interrupt();
    assert!(summary.contains("google-fake: stopped after"), "{summary}");
    assert!(!summary.contains("Stats {"), "{summary}");
}

#[test]
fn invite_to_no_fake_fails_with_a_message() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = Command::new(BIN)
        .args(["invite", "--fake", &format!("http://127.0.0.1:{port}")])
        .args([
            "--organizer",
            "bo@example.com",
            "--attendee",
            "ana@example.com",
        ])
        .args(["--summary", "x", "--start", "2026-03-05T15:00:00Z"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot reach the fake"), "{err}");
}
