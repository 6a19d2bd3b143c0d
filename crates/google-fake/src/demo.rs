//! What the walkthrough needs, built into the crate so it works from any
//! folder: the throwaway service-account key that only this fake trusts,
//! the demo seed, and the example gatekeeper config and policy, which
//! `write_example` turns into a ready-to-run folder pointed at a running
//! fake. The files under `examples/google-fake/` are the single copy: they
//! are compiled in here, not duplicated.

use std::io;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::FakeGoogle;

/// The test service account's key (Google's JSON key format). Its
/// `token_uri` points nowhere useful: `key_for` points it at a fake.
pub const TEST_KEY: &str = include_str!("../../../tests/fixtures/google/service-account.json");
/// The public half of `TEST_KEY` (RSAPublicKey DER), for `FakeGoogle::new`.
pub const TEST_PUBLIC_KEY: &[u8] =
    include_bytes!("../../../tests/fixtures/google/service-account-public.der");
/// Users and events to start with, in the format `FakeGoogle::load_seed` reads.
pub const SEED: &str = include_str!("../../../examples/google-fake/seed.json");
/// gatekeeper's config for the walkthrough; its `api_base` names the
/// default address, `API_BASE_IN_CONFIG`.
pub const CONFIG: &str = include_str!("../../../examples/google-fake/gatekeeper.toml");
/// The walkthrough's team policy, `policies/team.toml` beside `CONFIG`.
pub const POLICY: &str = include_str!("../../../examples/google-fake/policies/team.toml");
/// The `api_base` written in `CONFIG`; `write_example` replaces it with
/// the running fake's.
pub const API_BASE_IN_CONFIG: &str = "http://127.0.0.1:8085/calendar/v3/";

/// Where in a folder `write_example` puts the key, as `CONFIG` expects it.
pub const KEY_IN_FOLDER: &str = "state/service-account.json";

/// `key_text` (a service-account key) with its `token_uri` pointed at `fake`.
pub fn key_for(fake: &FakeGoogle, key_text: &str) -> Result<String, String> {
    let mut key: Value =
        serde_json::from_str(key_text).map_err(|e| format!("the service account key: {e}"))?;
    if !key.is_object() {
        return Err("the service account key is not a JSON object".to_string());
    }
    key["token_uri"] = Value::String(fake.token_uri());
    Ok(key.to_string())
}

/// Writes `key` to `path`, creating its folder, readable only by its owner
/// (gatekeeper refuses a key others can read).
pub fn write_key(path: &Path, key: &str) -> Result<(), String> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    use std::os::unix::fs::PermissionsExt as _;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create `{}`: {e}", dir.display()))?;
    }
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| {
            // An existing file keeps its mode through `open`: set it too.
            f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
            f.write_all(key.as_bytes())
        });
    written.map_err(|e| format!("cannot write `{}`: {e}", path.display()))
}

/// What `write_example` did with each file, for the person to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    Created(PathBuf),
    /// Already there (a person may have edited it): left as it was.
    Kept(PathBuf),
}

/// Makes `dir` a folder `gatekeeper run --config DIR/gatekeeper.toml` can
/// run from: the config (its `api_base` pointed at `fake`), the policy, and
/// the key pointed at `fake`'s token endpoint. The key is rewritten every
/// time (the fake's address may have changed); the config and the policy
/// are written only when missing, so a person's edits survive a restart.
pub fn write_example(
    dir: &Path,
    fake: &FakeGoogle,
    key_text: &str,
) -> Result<Vec<Written>, String> {
    let mut done = Vec::new();
    let config = CONFIG.replace(API_BASE_IN_CONFIG, &fake.api_base());
    for (name, text) in [
        ("gatekeeper.toml", config.as_str()),
        ("policies/team.toml", POLICY),
    ] {
        let path = dir.join(name);
        if create_new(&path, text).map_err(|e| format!("cannot write `{}`: {e}", path.display()))? {
            done.push(Written::Created(path));
        } else {
            done.push(Written::Kept(path));
        }
    }
    let key_path = dir.join(KEY_IN_FOLDER);
    write_key(&key_path, &key_for(fake, key_text)?)?;
    done.push(Written::Created(key_path));
    Ok(done)
}

/// Writes `text` to a new file at `path`; `false` when one is already there.
fn create_new(path: &Path, text: &str) -> io::Result<bool> {
    use std::io::Write as _;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(mut f) => f.write_all(text.as_bytes()).map(|()| true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_names_the_address_write_example_replaces() {
        assert!(CONFIG.contains(API_BASE_IN_CONFIG));
        assert!(CONFIG.contains(KEY_IN_FOLDER));
    }

    #[test]
    fn the_built_in_seed_loads() {
        let fake = FakeGoogle::new(TEST_PUBLIC_KEY.to_vec());
        let seed: Value = serde_json::from_str(SEED).unwrap();
        fake.load_seed(&seed).unwrap();
    }

    #[test]
    fn write_example_points_the_folder_at_the_fake_and_keeps_edits() {
        let dir = tempfile::tempdir().unwrap();
        let fake = FakeGoogle::new(TEST_PUBLIC_KEY.to_vec());
        let done = write_example(dir.path(), &fake, TEST_KEY).unwrap();
        assert!(
            done.iter().all(|w| matches!(w, Written::Created(_))),
            "{done:?}"
        );
        let config = std::fs::read_to_string(dir.path().join("gatekeeper.toml")).unwrap();
        assert!(config.contains(&fake.api_base()), "{config}");
        assert!(!config.contains(API_BASE_IN_CONFIG) || fake.api_base() == API_BASE_IN_CONFIG);
        let key: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join(KEY_IN_FOLDER)).unwrap())
                .unwrap();
        assert_eq!(key["token_uri"], fake.token_uri());
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.path().join(KEY_IN_FOLDER))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);

        std::fs::write(dir.path().join("policies/team.toml"), "# edited\n").unwrap();
        let again = write_example(dir.path(), &fake, TEST_KEY).unwrap();
        assert!(again.contains(&Written::Kept(dir.path().join("policies/team.toml"))));
        assert_eq!(
            std::fs::read_to_string(dir.path().join("policies/team.toml")).unwrap(),
            "# edited\n"
        );
    }
}
