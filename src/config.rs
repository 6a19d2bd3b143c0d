//! The daemon's config file: where policies, calendars and state live.
//! Parsing takes `&str`; reading the file and resolving relative paths
//! against its folder is the caller's job (`Config::load`).

use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Policy files or folders of them, relative to the config file.
    pub policies: Vec<PathBuf>,
    /// `enforce` writes responses; `observe` only logs what it would do.
    #[serde(default)]
    pub mode: Mode,
    /// Seconds between rescans when watching.
    #[serde(default = "default_poll")]
    pub poll_seconds: u64,
    /// How many upcoming occurrences of a series are judged.
    #[serde(default = "default_occurrences")]
    pub series_occurrences: usize,
    /// How far ahead series are expanded to find those occurrences.
    #[serde(default = "default_horizon")]
    pub horizon_days: u32,
    pub store: StoreConfig,
    #[serde(rename = "source", default)]
    pub sources: Vec<SourceConfig>,
}

fn default_poll() -> u64 {
    30
}
fn default_occurrences() -> usize {
    10
}
fn default_horizon() -> u32 {
    180
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    Enforce,
    Observe,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// Path of the SQLite database, relative to the config file.
    pub sqlite: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "snake_case")]
pub enum SourceConfig {
    /// Local calendars in the vdir layout (vdirsyncer, khal): one folder
    /// per calendar, one `.ics` file per event.
    Vdir {
        /// Unique name; the store keys state by it.
        name: String,
        /// The member whose calendars these are.
        member: String,
        /// A folder of calendar folders, or one calendar folder.
        path: PathBuf,
        /// Overrides the global mode for this source.
        #[serde(default)]
        mode: Option<Mode>,
    },
}

impl SourceConfig {
    pub fn name(&self) -> &str {
        match self {
            SourceConfig::Vdir { name, .. } => name,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config `{path}`: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
}

impl Config {
    pub fn parse(text: &str) -> Result<Config, toml::de::Error> {
        toml::from_str(text)
    }

    /// Read and parse a config file, then make its relative paths relative
    /// to the file's folder.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let mut config = Config::parse(&text).map_err(|e| {
            let (line, column) = e
                .span()
                .map(|s| crate::policy::diagnostic::line_col(&text, s.start))
                .unwrap_or((1, 1));
            ConfigError::Invalid {
                path: path.display().to_string(),
                line,
                column,
                message: e.message().trim().to_string(),
            }
        })?;
        let base = path.parent().unwrap_or(Path::new(""));
        config.policies = config.policies.iter().map(|p| base.join(p)).collect();
        config.store.sqlite = base.join(&config.store.sqlite);
        for s in &mut config.sources {
            match s {
                SourceConfig::Vdir { path, member, .. } => {
                    *path = base.join(&*path);
                    *member = member.trim().to_lowercase();
                }
            }
        }
        let mut names = std::collections::HashSet::new();
        for s in &config.sources {
            if !names.insert(s.name().to_string()) {
                return Err(ConfigError::Invalid {
                    path: path.display().to_string(),
                    line: 1,
                    column: 1,
                    message: format!(
                        "two sources are named `{}`; source names must be unique",
                        s.name()
                    ),
                });
            }
        }
        Ok(config)
    }
}
