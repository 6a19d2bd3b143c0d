//! Real CalDAV servers for the tests: Radicale 3 (with htpasswd users and a
//! rights file) and Xandikos (one user, no authentication), each started on
//! 127.0.0.1 on a free port with a temporary storage folder, waited for by
//! polling its port, and killed when the handle is dropped.
//!
//! The servers come from PyPI: the ones on PATH (`pip install radicale
//! xandikos`; `.ci/run` installs them), else the tests install both into a
//! virtual environment under the build's temporary folder. A server that
//! cannot be had is a test FAILURE with the install line, never a skip.
//!
//! The helpers (`put`, `get`, `delete`, `request`, `mkcalendar`) play the
//! other clients: a member's phone, the organizer's calendar app. They use
//! reqwest on a small runtime of their own, so they work from plain `#[test]`
//! functions.
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The delegated account: the rights file lets it read and write every
/// user's collections, as a team deployment of gatekeeper would be set up.
pub const DELEGATE: &str = "gatekeeper";
pub const DELEGATE_PASSWORD: &str = "gatekeeper-secret";

/// How long a server may take to start before the test fails. A bound for
/// failing, not an expectation: the wait ends as soon as the port answers.
const START_DEADLINE: Duration = Duration::from_secs(120);

/// A response as the test sees it.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub etag: Option<String>,
    pub location: Option<String>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// The server program to run: the one on PATH, else one installed from
/// PyPI into a virtual environment under the build's temporary folder, so
/// `cargo test` on a fresh machine with Python needs no setup step. Fails
/// (never skips) with the install line when neither works.
fn program_path(program: &str) -> PathBuf {
    let runs = |p: &Path| {
        Command::new(p)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    };
    if runs(Path::new(program)) {
        return PathBuf::from(program);
    }
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("caldav-servers");
    let installed = venv.join("bin").join(program);
    if runs(&installed) {
        return installed;
    }
    // Several test processes may get here at once: one installs, the
    // others wait on the lock and then find the program.
    std::fs::create_dir_all(venv.parent().unwrap()).unwrap();
    let lock = std::fs::File::create(venv.with_extension("lock")).unwrap();
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a file descriptor this function owns; it is
    // released when `lock` is dropped at the end of the function.
    unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) };
    if !runs(&installed) {
        eprintln!(
            "`{program}` is not on PATH: installing Radicale and Xandikos from PyPI into `{}`",
            venv.display()
        );
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .is_ok_and(|s| s.success())
            && Command::new(venv.join("bin").join("pip"))
                .args(["install", "-q", "radicale", "xandikos"])
                .status()
                .is_ok_and(|s| s.success());
        assert!(
            ok && runs(&installed),
            "`{program}` is not on PATH and could not be installed from PyPI: these tests need a real CalDAV server; run `pip install {program}` (`.ci/run` does)"
        );
    }
    installed
}

/// A port nobody listens on right now. Another process may take it before
/// the server binds it; `start_server` then retries with a new one.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

/// Start `command` (which listens on `port`) and wait until the port
/// accepts connections. `None` when the process exited first (its port was
/// taken, most likely); the log is in `log`.
fn start_server(mut command: Command, port: u16, log: &Path) -> Option<Child> {
    let out = std::fs::File::create(log).expect("server log file");
    let err = out.try_clone().expect("server log file");
    let mut child = command
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("start the CalDAV server");
    let deadline = Instant::now() + START_DEADLINE;
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            return None;
        }
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(child);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the CalDAV server did not listen on port {port} within {START_DEADLINE:?}; its log:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        // A poll interval, not a timing assumption: the loop ends on the
        // condition.
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// What both servers share: the process, its folder, an HTTP client.
struct Server {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
    runtime: tokio::runtime::Runtime,
    http: reqwest::Client,
}

impl Server {
    fn spawn(program: &str, dir: tempfile::TempDir, args: impl Fn(u16) -> Vec<String>) -> Server {
        let program = program_path(program);
        let log = dir.path().join("server.log");
        for _ in 0..5 {
            let port = free_port();
            let mut command = Command::new(&program);
            command.args(args(port));
            if let Some(child) = start_server(command, port, &log) {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a tokio runtime for the test client");
                let http = reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .timeout(Duration::from_secs(60))
                    .build()
                    .expect("an HTTP client");
                return Server {
                    child,
                    dir,
                    port,
                    runtime,
                    http,
                };
            }
        }
        panic!(
            "`{}` exited before listening, five times; its last log:\n{}",
            program.display(),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn request(
        &self,
        auth: Option<(&str, &str)>,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("an HTTP method");
        let mut req = self.http.request(method, self.url(path));
        if let Some((user, password)) = auth {
            req = req.basic_auth(user, Some(password));
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        if let Some(body) = body {
            req = req.body(body);
        }
        self.runtime.block_on(async {
            let resp = req
                .send()
                .await
                .unwrap_or_else(|e| panic!("{path}: request failed: {e}"));
            let header = |name: &str| {
                resp.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            let (etag, location) = (header("etag"), header("location"));
            let status = resp.status().as_u16();
            let body = resp
                .bytes()
                .await
                .unwrap_or_else(|e| panic!("{path}: reading the body failed: {e}"))
                .to_vec();
            Reply {
                status,
                etag,
                location,
                body,
            }
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Radicale 3 server with htpasswd users (plain passwords), each owning
/// `/<user>/`, and the [`DELEGATE`] account that may read and write every
/// user's calendars.
pub struct Radicale {
    server: Server,
    users: Vec<(String, String)>,
}

impl Radicale {
    /// Start Radicale with these `(user, password)` pairs and the delegate.
    /// Each user's principal collection is created (Radicale creates it at
    /// a user's first authenticated request), so the delegate can find it.
    pub fn start(users: &[(&str, &str)]) -> Radicale {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let mut all: Vec<(String, String)> = users
            .iter()
            .map(|(u, p)| (u.to_string(), p.to_string()))
            .collect();
        all.push((DELEGATE.into(), DELEGATE_PASSWORD.into()));
        let htpasswd: String = all.iter().map(|(u, p)| format!("{u}:{p}\n")).collect();
        std::fs::write(dir.path().join("htpasswd"), htpasswd).expect("htpasswd");
        // Rules are tried in order; the first whose user and collection
        // match decides. R/W: principal collections; r/w: calendars and
        // their items.
        let rights = format!(
            "[delegate]\nuser: {DELEGATE}\ncollection: .*\npermissions: RrWw\n\n\
             [root]\nuser: .+\ncollection:\npermissions: R\n\n\
             [principal]\nuser: .+\ncollection: {{user}}\npermissions: RW\n\n\
             [calendars]\nuser: .+\ncollection: {{user}}/[^/]+\npermissions: rw\n"
        );
        std::fs::write(dir.path().join("rights"), rights).expect("rights");
        let root = dir.path().to_path_buf();
        let config_for = |port: u16| {
            format!(
                "[server]\nhosts = 127.0.0.1:{port}\n\
                 [auth]\ntype = htpasswd\nhtpasswd_filename = {}\nhtpasswd_encryption = plain\n\
                 [rights]\ntype = from_file\nfile = {}\n\
                 [storage]\nfilesystem_folder = {}\n\
                 [logging]\nlevel = warning\n",
                root.join("htpasswd").display(),
                root.join("rights").display(),
                root.join("collections").display(),
            )
        };
        let config_path = root.join("config");
        let server = Server::spawn("radicale", dir, |port| {
            std::fs::write(&config_path, config_for(port)).expect("radicale config");
            vec!["--config".into(), config_path.display().to_string()]
        });
        let radicale = Radicale { server, users: all };
        for (user, _) in &radicale.users {
            let r = radicale.request(
                user,
                "PROPFIND",
                &format!("/{user}/"),
                &[("Depth", "0")],
                None,
            );
            assert_eq!(r.status, 207, "principal of {user}: {}", r.text());
        }
        radicale
    }

    /// `http://127.0.0.1:<port>` (no trailing slash).
    pub fn base_url(&self) -> String {
        self.server.url("")
    }

    pub fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    pub fn port(&self) -> u16 {
        self.server.port
    }

    /// The server's own folder (storage, config, log).
    pub fn folder(&self) -> &Path {
        self.server.dir.path()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.folder().join("server.log")).unwrap_or_default()
    }

    pub fn password(&self, user: &str) -> &str {
        self.users
            .iter()
            .find(|(u, _)| u == user)
            .map(|(_, p)| p.as_str())
            .unwrap_or_else(|| panic!("no Radicale user `{user}`"))
    }

    /// Write `user`'s password into `folder/<user>.password`, mode 0600
    /// (gatekeeper refuses a password file others can read).
    pub fn password_file(&self, user: &str, folder: &Path) -> PathBuf {
        let path = folder.join(format!("{user}.password"));
        std::fs::write(&path, self.password(user)).expect("password file");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .expect("chmod 600");
        }
        path
    }

    /// Any request, as `user` (password from `start`).
    pub fn request(
        &self,
        user: &str,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Reply {
        let auth = (user, self.password(user));
        let mut headers = headers.to_vec();
        if matches!(method, "PROPFIND" | "REPORT") {
            headers.push(("Content-Type", "application/xml"));
        }
        self.server
            .request(Some(auth), method, path, &headers, body)
    }

    /// Create the calendar `/<user>/<name>/` as `user`.
    pub fn mkcalendar(&self, user: &str, name: &str) -> String {
        let path = format!("/{user}/{name}/");
        let r = self.request(user, "MKCALENDAR", &path, &[], None);
        assert_eq!(r.status, 201, "MKCALENDAR {path}: {}", r.text());
        path
    }

    /// PUT an item as `user`; `if_match` makes it conditional. Returns the
    /// reply whatever its status (a test may expect a 412).
    pub fn put(&self, user: &str, path: &str, ics: &[u8], if_match: Option<&str>) -> Reply {
        let mut headers = vec![("Content-Type", "text/calendar; charset=utf-8")];
        if let Some(etag) = if_match {
            headers.push(("If-Match", etag));
        }
        self.request(user, "PUT", path, &headers, Some(ics.to_vec()))
    }

    /// PUT that must succeed; returns the new etag.
    pub fn put_ok(&self, user: &str, path: &str, ics: &[u8]) -> String {
        let r = self.put(user, path, ics, None);
        assert!(
            matches!(r.status, 201 | 204),
            "PUT {path} as {user}: {} {}",
            r.status,
            r.text()
        );
        r.etag.expect("Radicale returns an ETag on PUT")
    }

    pub fn get(&self, user: &str, path: &str) -> Reply {
        self.request(user, "GET", path, &[], None)
    }

    /// The item's bytes and etag; fails the test if it is not there.
    pub fn get_ok(&self, user: &str, path: &str) -> (Vec<u8>, String) {
        let r = self.get(user, path);
        assert_eq!(r.status, 200, "GET {path} as {user}: {}", r.text());
        (r.body, r.etag.expect("Radicale returns an ETag on GET"))
    }

    pub fn delete(&self, user: &str, path: &str, if_match: Option<&str>) -> Reply {
        let headers: Vec<(&str, &str)> = if_match.map(|e| ("If-Match", e)).into_iter().collect();
        self.request(user, "DELETE", path, &headers, None)
    }
}

/// A Xandikos server: no authentication (it serves one principal,
/// `/<user>/`, with a calendar `/<user>/calendars/calendar/` from
/// `--defaults`). Xandikos wants authentication in a proxy in front of it;
/// the tests use it for discovery and sync, where it differs from Radicale.
pub struct Xandikos {
    server: Server,
    pub user: String,
}

impl Xandikos {
    pub fn start(user: &str) -> Xandikos {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let data = dir.path().join("data");
        let state = dir.path().join("state");
        let user_owned = user.to_string();
        let server = Server::spawn("xandikos", dir, move |port| {
            vec![
                "serve".into(),
                "-d".into(),
                data.display().to_string(),
                "--state-dir".into(),
                state.display().to_string(),
                "--defaults".into(),
                "--no-detect-systemd".into(),
                "--current-user-principal".into(),
                format!("/{user_owned}/"),
                "-l".into(),
                "127.0.0.1".into(),
                "-p".into(),
                port.to_string(),
            ]
        });
        Xandikos {
            server,
            user: user.to_string(),
        }
    }

    pub fn base_url(&self) -> String {
        self.server.url("")
    }

    pub fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.server.dir.path().join("server.log")).unwrap_or_default()
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Reply {
        let mut headers = headers.to_vec();
        if matches!(method, "PROPFIND" | "REPORT") {
            headers.push(("Content-Type", "application/xml"));
        }
        self.server.request(None, method, path, &headers, body)
    }

    pub fn put(&self, path: &str, ics: &[u8], if_match: Option<&str>) -> Reply {
        let mut headers = vec![("Content-Type", "text/calendar; charset=utf-8")];
        if let Some(etag) = if_match {
            headers.push(("If-Match", etag));
        }
        self.request("PUT", path, &headers, Some(ics.to_vec()))
    }

    pub fn put_ok(&self, path: &str, ics: &[u8]) -> String {
        let r = self.put(path, ics, None);
        assert!(
            matches!(r.status, 201 | 204),
            "PUT {path}: {} {}",
            r.status,
            r.text()
        );
        r.etag.expect("Xandikos returns an ETag on PUT")
    }

    pub fn get(&self, path: &str) -> Reply {
        self.request("GET", path, &[], None)
    }

    pub fn delete(&self, path: &str, if_match: Option<&str>) -> Reply {
        let headers: Vec<(&str, &str)> = if_match.map(|e| ("If-Match", e)).into_iter().collect();
        self.request("DELETE", path, &headers, None)
    }
}
