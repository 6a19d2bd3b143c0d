//! Google Calendar behind the `CalendarSource` trait: each member's primary
//! calendar synced concurrently (a bounded number at a time) with sync
//! tokens, one full resync when the server refuses a token, a windowed
//! read after a policy edit, answers as conditional PATCHes, push channels
//! and the calendar's own time zone. The calls themselves are in
//! `super` (`GoogleSource`); this file turns them into the trait's batches
//! and cursor rows.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{DateTime, Duration, Utc};

use super::auth::Credentials;
use super::map::GoogleEvent;
use super::retry::Backoff;
use super::{CallError, GoogleSettings, GoogleSource, SyncBatch, SyncWindow, WatchChannel};
use crate::calendar::Event;
use crate::calendar::recurrence::group_by_uid;
use crate::config::{Mode, SourceConfig};
use crate::source::{
    Answer, Batch, CalendarSource, Change, CursorOp, Cursors, Entry, Gone, ItemRef, Reread,
    SourceError, SyncRequest, Target, Window,
};

/// The cursor row slot of a member's sync token.
pub const SYNC_TOKEN_ITEM: &str = "";

/// The cursor row slot that asks for one windowed re-screen of a member's
/// calendar after their team's policy changed.
pub const RESCREEN_ITEM: &str = "rescreen";

/// How many members' calendars a Google source syncs at once.
pub const SYNC_CONCURRENCY: usize = 16;

pub struct GoogleCalendar {
    name: String,
    mode: Option<Mode>,
    members: Vec<String>,
    source: Arc<GoogleSource>,
    runtime: Arc<tokio::runtime::Runtime>,
    /// API calls since last asked.
    calls: AtomicU32,
}

/// One member's sync as it arrives from its task.
struct Synced {
    member: String,
    batch: Result<SyncBatch, CallError>,
    /// The token was refused and the calendar synced in full.
    resynced: bool,
    read_at: std::time::Instant,
    /// A windowed re-screen read, not a sync.
    windowed: bool,
}

impl GoogleCalendar {
    /// Connect a Google source of the config on the shared runtime (created
    /// here if it is the first source to need it). `None` when no runtime
    /// can be started.
    pub fn from_config(
        s: &SourceConfig,
        team: &[String],
        runtime: &mut Option<Arc<tokio::runtime::Runtime>>,
    ) -> Option<GoogleCalendar> {
        let runtime = crate::source::runtime(runtime)?;
        let (settings, members) = google_settings_for(s, team);
        let source = runtime.block_on(GoogleSource::connect(settings, &members));
        Some(GoogleCalendar {
            name: s.name().to_string(),
            mode: s.mode(),
            members,
            source: Arc::new(source),
            runtime,
            calls: AtomicU32::new(0),
        })
    }

    fn count(&self, calls: u32) {
        self.calls.fetch_add(calls, Ordering::Relaxed);
    }

    /// Turn one member's sync into the changes it brings.
    fn changes_of(&self, synced: Synced, out: &mut VecDeque<Change>) {
        let Synced {
            member,
            batch,
            resynced,
            read_at,
            windowed,
        } = synced;
        if resynced {
            // The refused token is dropped whatever the full sync brings:
            // it must never be sent again.
            tracing::info!(
                "source `{}`: `{member}`: the sync token was refused; synced in full",
                self.name
            );
            out.push_back(Change::Cursor(CursorOp::Remove {
                calendar: member.clone(),
                item: SYNC_TOKEN_ITEM.to_string(),
            }));
        }
        let batch = match batch {
            Ok(b) => b,
            Err(e) => {
                out.push_back(Change::Failed {
                    member: Some(member),
                    error: SourceError::Backend(Box::new(e)),
                });
                return;
            }
        };
        self.count(batch.calls);
        // Events of one series are screened together, like a vdir file.
        let mut series: Vec<Vec<Entry>> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        for g in batch.events {
            let key = g.series_id.clone();
            let entry = self.entry(&member, g);
            match index.get(&key) {
                Some(&i) => series[i].push(entry),
                None => {
                    index.insert(key, series.len());
                    series.push(vec![entry]);
                }
            }
        }
        let gone = batch
            .cancelled
            .into_iter()
            .map(|c| match c.occurrence {
                Some((series, start)) => Gone {
                    uid: series,
                    recurrence_id: String::new(),
                    occurrence: Some(start),
                    protected_id: Some(c.id),
                },
                None => Gone {
                    uid: c.id.clone(),
                    recurrence_id: String::new(),
                    occurrence: None,
                    protected_id: Some(c.id),
                },
            })
            .collect();
        // The token moves on only when every change in the batch was dealt
        // with; otherwise the next pass sees them again.
        let cursor = if windowed {
            CursorOp::Remove {
                calendar: member.clone(),
                item: RESCREEN_ITEM.to_string(),
            }
        } else {
            CursorOp::Set {
                calendar: member.clone(),
                item: SYNC_TOKEN_ITEM.to_string(),
                value: batch.next_sync_token,
            }
        };
        out.push_back(Change::Batch(Box::new(Batch {
            item: ItemRef {
                calendar: member.clone(),
                href: String::new(),
                etag: String::new(),
            },
            member,
            series,
            gone,
            problems: batch
                .problems
                .iter()
                .map(|p| format!("source `{}`: {p}", self.name))
                .collect(),
            items_read: 0,
            read_at,
            cursor: vec![cursor],
        })));
    }

    fn entry(&self, member: &str, g: GoogleEvent) -> Entry {
        Entry {
            target: Target {
                member: member.to_string(),
                calendar: member.to_string(),
                href: g.id.clone(),
                shared_id: Some(g.id),
                etag: g.etag,
            },
            event: g.event,
        }
    }
}

impl CalendarSource for GoogleCalendar {
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
        let members: Vec<String> = match request.members {
            Some(only) => only.to_vec(),
            None => self.members.clone(),
        };
        // Sync members' calendars concurrently, a bounded number at a time,
        // and hand each batch over as it arrives: memory stays bounded
        // however large the team, and the rate limiter keeps the whole
        // source under its quotas.
        let (tx, rx) = tokio::sync::mpsc::channel(SYNC_CONCURRENCY);
        // A first (or forced full) sync starts a day back, not at the
        // beginning of the calendar: nothing older is screened or counted.
        let now = request.now;
        let window = SyncWindow {
            time_min: Some(now - Duration::days(1)),
        };
        let permits = Arc::new(tokio::sync::Semaphore::new(SYNC_CONCURRENCY));
        for member in members {
            let google = Arc::clone(&self.source);
            let token = cursors
                .get(&(member.clone(), SYNC_TOKEN_ITEM.to_string()))
                .cloned();
            // After a policy edit: the screening window read once more,
            // sync token and channel untouched.
            let rescreen = cursors
                .contains_key(&(member.clone(), RESCREEN_ITEM.to_string()))
                .then(|| {
                    (
                        now - Duration::days(1),
                        now + Duration::days(i64::from(request.horizon_days)),
                    )
                });
            let tx = tx.clone();
            let permits = Arc::clone(&permits);
            self.runtime.spawn(async move {
                let Ok(_permit) = permits.acquire_owned().await else {
                    return;
                };
                let read_at = std::time::Instant::now();
                let first = google.sync(&member, token.as_deref(), window).await;
                let (batch, resynced) = match first {
                    // The server refused the token (410, or a 400 that says
                    // it is invalid): sync this calendar in full, once.
                    // Invites already decided are recognised by their
                    // screenings and markers, so nothing is redone.
                    Err(CallError::FullSyncRequired) if token.is_some() => {
                        (google.sync(&member, None, window).await, true)
                    }
                    other => (other, false),
                };
                let synced = Synced {
                    member: member.clone(),
                    batch,
                    resynced,
                    read_at,
                    windowed: false,
                };
                let _ = tx.send(synced).await;
                if let Some((from, to)) = rescreen {
                    let read_at = std::time::Instant::now();
                    let batch = google.events_between(&member, from, to).await;
                    let synced = Synced {
                        member,
                        batch,
                        resynced: false,
                        read_at,
                        windowed: true,
                    };
                    let _ = tx.send(synced).await;
                }
            });
        }
        drop(tx);
        Box::new(GoogleChanges {
            calendar: self,
            rx,
            pending: VecDeque::new(),
        })
    }

    fn write(&self, target: &Target, _event: &Event, answer: &Answer) -> Result<(), SourceError> {
        let r = self.runtime.block_on(self.source.respond(
            &target.member,
            &target.href,
            target.etag.as_deref(),
            answer,
        ));
        match r {
            Ok(w) => {
                self.count(w.calls);
                Ok(())
            }
            Err(CallError::Conflict) => Err(SourceError::Conflict {
                path: format!("`{}`'s event `{}`", target.member, target.href),
            }),
            Err(e) => Err(SourceError::Backend(Box::new(e))),
        }
    }

    fn reread(&self, target: &Target) -> Result<Reread, SourceError> {
        self.count(1);
        match self
            .runtime
            .block_on(self.source.event(&target.member, &target.href))
        {
            Ok(Some(fresh)) => Ok(Reread::Copy(Box::new(self.entry(&target.member, fresh)))),
            Ok(None) => Ok(Reread::Gone),
            Err(e) => Err(SourceError::Backend(Box::new(e))),
        }
    }

    fn rescreen(&self, cursors: &Cursors, members: &[&str]) -> Vec<CursorOp> {
        // A member not synced yet gets everything in the first full sync
        // anyway.
        self.members
            .iter()
            .filter(|m| members.contains(&m.as_str()))
            .filter(|m| cursors.contains_key(&((*m).clone(), SYNC_TOKEN_ITEM.to_string())))
            .map(|m| CursorOp::Set {
                calendar: m.clone(),
                item: RESCREEN_ITEM.to_string(),
                value: "1".to_string(),
            })
            .collect()
    }

    /// Google's copy is read over the window: the daemon keeps no events of
    /// its own.
    fn events_between(
        &self,
        member: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Window, SourceError> {
        if !self.members.iter().any(|m| m == member) {
            return Ok(Window::default());
        }
        let batch = self
            .runtime
            .block_on(self.source.events_between(member, from, to))
            .map_err(|e| SourceError::Backend(Box::new(e)))?;
        self.count(batch.calls);
        Ok(Window {
            series: group_by_uid(batch.events.into_iter().map(|g| g.event).collect()),
            problems: batch.problems,
        })
    }

    fn can_watch(&self) -> bool {
        true
    }

    fn watch(
        &self,
        member: &str,
        id: &str,
        address: &str,
        token: &str,
        ttl: std::time::Duration,
    ) -> Result<WatchChannel, SourceError> {
        self.runtime
            .block_on(self.source.watch(member, id, address, token, ttl))
            .map_err(|e| SourceError::Backend(Box::new(e)))
    }

    fn unwatch(&self, member: &str, channel: &WatchChannel) -> Result<(), SourceError> {
        self.runtime
            .block_on(self.source.stop(member, channel))
            .map_err(|e| SourceError::Backend(Box::new(e)))
    }

    fn time_zone(&self, member: &str) -> Option<Result<String, SourceError>> {
        if !self.members.iter().any(|m| m == member) {
            return None;
        }
        Some(
            self.runtime
                .block_on(self.source.time_zone(member))
                .map_err(|e| SourceError::Backend(Box::new(e))),
        )
    }

    fn take_calls(&self) -> u32 {
        self.calls.swap(0, Ordering::Relaxed)
    }

    fn api_stats(&self) -> super::stats::ApiStatsSnapshot {
        self.source.api_stats()
    }
}

/// The changes of one sync, as members' batches arrive.
struct GoogleChanges<'s> {
    calendar: &'s GoogleCalendar,
    rx: tokio::sync::mpsc::Receiver<Synced>,
    pending: VecDeque<Change>,
}

impl Iterator for GoogleChanges<'_> {
    type Item = Change;

    fn next(&mut self) -> Option<Change> {
        loop {
            if let Some(c) = self.pending.pop_front() {
                return Some(c);
            }
            let synced = self.calendar.runtime.block_on(self.rx.recv())?;
            self.calendar.changes_of(synced, &mut self.pending);
        }
    }
}

/// The Google settings and members of a configured Google source; `team`
/// is every policy member, the default when the source names none.
pub fn google_settings_for(s: &SourceConfig, team: &[String]) -> (GoogleSettings, Vec<String>) {
    let SourceConfig::Google {
        service_account_key,
        members,
        client_secret,
        token_file,
        member,
        api_base,
        token_uri,
        send_updates,
        rate_per_user_per_minute,
        rate_per_project_per_minute,
        ..
    } = s
    else {
        unreachable!("google_settings_for is only called for Google sources")
    };
    let credentials = match (service_account_key, client_secret, token_file) {
        (Some(key), _, _) => Credentials::ServiceAccount {
            key_file: key.clone(),
            token_uri: token_uri.clone(),
        },
        (None, Some(secret), Some(token)) => Credentials::InstalledApp {
            client_secret: secret.clone(),
            token_file: token.clone(),
        },
        // Config::load refuses other combinations.
        _ => Credentials::ServiceAccount {
            key_file: std::path::PathBuf::new(),
            token_uri: None,
        },
    };
    let members = match (members, member) {
        (Some(list), _) => list.clone(),
        (None, Some(m)) => vec![m.clone()],
        (None, None) => team.to_vec(),
    };
    (
        GoogleSettings {
            credentials,
            api_base: api_base.clone(),
            send_updates: send_updates.clone(),
            rate_per_user_per_minute: *rate_per_user_per_minute,
            rate_per_project_per_minute: *rate_per_project_per_minute,
            backoff: Backoff::default(),
            page_size: 250,
        },
        members,
    )
}
