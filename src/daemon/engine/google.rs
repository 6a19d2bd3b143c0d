//! The Google Calendar side of a pass: sync each member's calendar
//! (bounded concurrency, sync tokens, one full resync when the server
//! refuses a token), remember protected time and cancellations, screen each
//! batch as it arrives, answer with writes conditional on the copy screened
//! (a refused write is read again and decided again), and keep push
//! channels open. Google I/O goes through `source::google`; a member that
//! could not be synced or answered ends up in `RunReport::failures`.

use super::*;
use crate::source::google::SyncWindow;

impl<S: Store> Engine<S> {
    /// Members whose policy names no time zone get their Google calendar's
    /// setting (read once, then remembered).
    pub(super) fn apply_calendar_zones(&mut self) {
        let Some(rt) = self.runtime.as_ref().map(|r| r.handle().clone()) else {
            return;
        };
        for member in self.team.members_needing_zone() {
            if !self.calendar_zones.contains_key(&member) {
                let google = self.sources.iter().find_map(|(_, b)| match b {
                    Backend::Google { source, members } if members.contains(&member) => {
                        Some(Arc::clone(source))
                    }
                    _ => None,
                });
                let Some(google) = google else { continue };
                match rt.block_on(google.time_zone(&member)) {
                    Ok(name) => match crate::calendar::tz::resolve_name(&name) {
                        Some(tz) => {
                            self.calendar_zones.insert(member.clone(), tz);
                        }
                        None => tracing::warn!(
                            "`{member}`: unknown calendar time zone `{name}`; using UTC"
                        ),
                    },
                    Err(e) => tracing::warn!(
                        "`{member}`: cannot read the calendar's time zone: {e}; using UTC"
                    ),
                }
            }
            if let Some(tz) = self.calendar_zones.get(&member) {
                self.team.set_member_zone(&member, *tz);
            }
        }
    }

    /// One pass over one member of one source: what a push notification
    /// triggers.
    pub fn sync_member(
        &mut self,
        source_name: &str,
        member: &str,
        now: DateTime<Utc>,
    ) -> Result<RunReport, StoreError> {
        let mut report = RunReport::default();
        self.begin_pass(now)?;
        let mut sources = std::mem::take(&mut self.sources);
        let mut result = Ok(());
        // One member's incremental batch is short, and the notification
        // that asked for it would otherwise interrupt it at once.
        let interrupt = self.interrupt.take();
        for (cfg, backend) in &mut sources {
            if cfg.name() != source_name {
                continue;
            }
            if let Backend::Google { source, .. } = backend {
                result = self.sync_google(cfg, source, &[member.to_string()], now, &mut report);
            }
        }
        self.interrupt = interrupt;
        self.sources = sources;
        result.map(|()| report)
    }

    pub(super) fn sync_google(
        &mut self,
        cfg: &SourceConfig,
        google: &Arc<GoogleSource>,
        members: &[String],
        now: DateTime<Utc>,
        report: &mut RunReport,
    ) -> Result<(), StoreError> {
        let name = cfg.name().to_string();
        let mode = cfg.mode().unwrap_or(self.config.mode);
        let Some(rt) = self.runtime.as_ref().map(|r| r.handle().clone()) else {
            return Ok(());
        };
        let cursors = self.store.cursors(&name)?;
        // Sync members' calendars concurrently, a bounded number at a time,
        // and screen each batch as it arrives: memory stays bounded however
        // large the team, and the rate limiter keeps the whole source under
        // its quotas.
        let (tx, mut rx) = tokio::sync::mpsc::channel(SYNC_CONCURRENCY);
        // A first (or forced full) sync starts a day back, not at the
        // beginning of the calendar: nothing older is screened or counted.
        let window = SyncWindow {
            time_min: Some(now - Duration::days(1)),
        };
        let permits = Arc::new(tokio::sync::Semaphore::new(SYNC_CONCURRENCY));
        for m in members {
            let google = Arc::clone(google);
            let member = m.clone();
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
                        now + Duration::days(i64::from(self.config.horizon_days)),
                    )
                });
            let tx = tx.clone();
            let permits = Arc::clone(&permits);
            rt.spawn(async move {
                let Ok(_permit) = permits.acquire_owned().await else {
                    return;
                };
                let read_from = std::time::Instant::now();
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
                let _ = tx
                    .send((member.clone(), batch, resynced, read_from, false))
                    .await;
                if let Some((from, to)) = rescreen {
                    let read_from = std::time::Instant::now();
                    let batch = google.events_between(&member, from, to).await;
                    let _ = tx.send((member, batch, false, read_from, true)).await;
                }
            });
        }
        drop(tx);
        // When gatekeeper last wrote to each event this pass: every
        // participant's copy changed then (their attendee lists show the
        // answer), so a copy read before is stale and its write would only
        // meet a 412.
        let mut written: HashMap<String, std::time::Instant> = HashMap::new();
        while let Some((member, batch, resynced, read_from, windowed)) = rt.block_on(rx.recv()) {
            if resynced {
                // The refused token is dropped whatever the full sync
                // brings: it must never be sent again.
                tracing::info!(
                    "source `{name}`: `{member}`: the sync token was refused; synced in full"
                );
                self.store.remove_cursor(&name, &member, SYNC_TOKEN_ITEM)?;
            }
            let batch = match batch {
                Ok(b) => b,
                Err(e) => {
                    // A failed member is a failure of the pass (the exit
                    // code says so), whatever the kind; the daemon does not
                    // repeat one that lasts from pass to pass.
                    report.fail(&name, Some(&member), e.to_string());
                    continue;
                }
            };
            report.api_calls += batch.calls;
            report.problems.extend(
                batch
                    .problems
                    .iter()
                    .map(|p| format!("source `{name}`: {p}")),
            );
            let Some(policy) = self.team.policy_for(&member).cloned() else {
                self.report_once(
                    report,
                    format!("source `{name}`: `{member}` is not a member in any policy; skipped"),
                );
                continue;
            };
            let tz = policy.member(&member).map_or(Tz::UTC, |m| m.tz);
            let item = ItemRef {
                calendar: member.clone(),
                href: String::new(),
                etag: String::new(),
            };
            let unit = Unit {
                source: &name,
                member: &member,
                mode,
                item: &item,
            };
            // The member's own focus time and out-of-office blocks are
            // remembered: later invites are checked against them, and
            // incremental sync will not send them again.
            for g in &batch.events {
                let kind = match g.event.event_type {
                    EventType::FocusTime => ProtectedKind::FocusTime,
                    EventType::OutOfOffice => ProtectedKind::OutOfOffice,
                    _ => continue,
                };
                let spans = upcoming_spans(
                    std::slice::from_ref(&g.event),
                    0,
                    tz,
                    now,
                    self.config.horizon_days,
                    500,
                );
                let blocks: Vec<ProtectedBlock> = spans
                    .into_iter()
                    .map(|span| ProtectedBlock { span, kind })
                    .collect();
                self.store
                    .replace_protected(&name, &member, &g.id, &blocks)?;
            }
            // A deleted event or occurrence comes off the member's protected
            // time and burden ledger.
            for c in &batch.cancelled {
                self.store.replace_protected(&name, &member, &c.id, &[])?;
                match &c.occurrence {
                    Some((series, start)) => {
                        let item = BurdenItem {
                            source: name.clone(),
                            calendar: member.clone(),
                            uid: series.clone(),
                            recurrence_id: String::new(),
                        };
                        self.store.remove_burden(&item, *start, &member)?;
                    }
                    None => {
                        let item = BurdenItem {
                            source: name.clone(),
                            calendar: member.clone(),
                            uid: c.id.clone(),
                            recurrence_id: String::new(),
                        };
                        self.store.replace_burden(&item, &member, now, &[])?;
                    }
                }
            }
            // Events of one series are screened together, like a vdir file.
            let mut groups: Vec<(String, Vec<crate::source::google::map::GoogleEvent>)> =
                Vec::new();
            let mut index: HashMap<String, usize> = HashMap::new();
            for e in batch.events {
                match index.get(&e.series_id) {
                    Some(&i) => groups[i].1.push(e),
                    None => {
                        index.insert(e.series_id.clone(), groups.len());
                        groups.push((e.series_id.clone(), vec![e]));
                    }
                }
            }
            let mut complete = true;
            for (_, group) in groups {
                if self.interrupted(report) {
                    // The token stays: the next pass sees these again.
                    complete = false;
                    break;
                }
                let ids: Vec<String> = group.iter().map(|g| g.id.clone()).collect();
                let mut etags: Vec<Option<String>> = group.iter().map(|g| g.etag.clone()).collect();
                let mut events: Vec<Event> = group.into_iter().map(|g| g.event).collect();
                for (idx, id) in ids.iter().enumerate() {
                    if written.get(id).is_some_and(|at| *at > read_from)
                        && let Ok(Some(fresh)) = rt.block_on(google.event(&member, id))
                    {
                        report.api_calls += 1;
                        etags[idx] = fresh.etag;
                        events[idx] = fresh.event;
                    }
                    // A refused write (the copy changed since it was read)
                    // is decided again on a fresh copy: a member's own
                    // answer that arrived meanwhile then wins by the usual
                    // ownership rules. Bounded: a copy that keeps changing
                    // is left to the next pass.
                    let mut rounds = 0;
                    // The row of a write refused with 412, until a later
                    // round settles it.
                    let mut refused: Option<Box<DecisionRecord>> = None;
                    loop {
                        rounds += 1;
                        let google = Arc::clone(google);
                        let member_email = member.clone();
                        let etag = etags[idx].clone();
                        let mut calls = 0;
                        let mut conflict = false;
                        let mut landed = false;
                        let mut responder = |_: &Event, w: &Write| -> Result<(), String> {
                            let r =
                                rt.block_on(google.respond(&member_email, id, etag.as_deref(), w));
                            match r {
                                Ok(w) => {
                                    calls += w.calls;
                                    landed = true;
                                    Ok(())
                                }
                                Err(e) => {
                                    conflict = e == CallError::Conflict;
                                    Err(e.to_string())
                                }
                            }
                        };
                        let outcome = self.screen_event(
                            &unit,
                            &policy,
                            tz,
                            &events,
                            idx,
                            &mut responder,
                            now,
                        )?;
                        report.api_calls += calls;
                        if landed {
                            written.insert(id.clone(), std::time::Instant::now());
                        }
                        let Screened::Decided(record) = outcome else {
                            // Decided again and nothing is to be written
                            // (the member answered meanwhile, or the
                            // event was deleted): the refused write's row
                            // says so instead of "failed".
                            if let Some(r) = refused.take() {
                                self.settle_refused(&r)?;
                            }
                            break;
                        };
                        if conflict && rounds < MAX_DECISION_ROUNDS {
                            match rt.block_on(google.event(&member, id)) {
                                Ok(Some(fresh)) => {
                                    tracing::info!(
                                        "source `{name}`: `{member}`: event `{id}` changed while it was being answered; deciding again"
                                    );
                                    etags[idx] = fresh.etag;
                                    events[idx] = fresh.event;
                                    refused = Some(record);
                                    continue;
                                }
                                // Deleted meanwhile: nothing left to answer.
                                Ok(None) => {
                                    self.settle_refused(&record)?;
                                    break;
                                }
                                Err(e) => {
                                    report.fail(
                                        &name,
                                        Some(&member),
                                        format!("cannot read event `{id}` again: {e}"),
                                    );
                                }
                            }
                        }
                        // `emit` counts a failed write as a failure of the pass.
                        complete &= record.outcome != Outcome::Failed;
                        self.emit(report, *record);
                        break;
                    }
                }
            }
            // The token moves on only when every change in the batch was
            // dealt with; otherwise the next pass sees them again.
            if complete && windowed {
                self.store.remove_cursor(&name, &member, RESCREEN_ITEM)?;
            } else if complete {
                self.store
                    .set_cursor(&name, &member, SYNC_TOKEN_ITEM, &batch.next_sync_token)?;
            }
        }
        Ok(())
    }

    /// Open, renew and register push channels for every Google member.
    /// A channel is renewed (a new one opened, then the old one stopped)
    /// when less than a tenth of its lifetime is left.
    pub fn maintain_channels(&mut self, now: DateTime<Utc>) -> Result<Vec<String>, StoreError> {
        let mut problems = Vec::new();
        let Some(webhook) = self.config.webhook.clone() else {
            return Ok(problems);
        };
        let Some(rt) = self.runtime.as_ref().map(|r| r.handle().clone()) else {
            return Ok(problems);
        };
        let ttl = std::time::Duration::from_secs(webhook.channel_ttl_hours.max(1) * 3600);
        let renew_before = chrono::Duration::from_std(ttl / 10).unwrap_or_default();
        for (cfg, backend) in &self.sources {
            let Backend::Google { source, members } = backend else {
                continue;
            };
            let name = cfg.name();
            let cursors = self.store.cursors(name)?;
            for m in members {
                let stored: Option<WatchChannel> = cursors
                    .get(&(m.clone(), CHANNEL_ITEM.to_string()))
                    .and_then(|c| serde_json::from_str(c).ok());
                // A channel this process opened is still open even if its
                // cursor went (cleared state): reuse and record it again
                // rather than open a second one and leak the first.
                let existing = match stored {
                    Some(c) => Some(c),
                    None => match self.channels.open_channel(name, m) {
                        Some(c) => {
                            let json = serde_json::to_string(&c).unwrap_or_default();
                            self.store.set_cursor(name, m, CHANNEL_ITEM, &json)?;
                            Some(c)
                        }
                        None => None,
                    },
                };
                let fresh = existing.as_ref().filter(|c| {
                    DateTime::from_timestamp_millis(c.expiration_ms)
                        .is_some_and(|exp| exp - now > renew_before)
                });
                if let Some(c) = fresh {
                    self.channels.opened(name, m, c);
                    continue;
                }
                let id = format!("gatekeeper-{}", crate::source::google::random_token());
                let token = crate::source::google::random_token();
                // Google sends the channel's `sync` message as soon as the
                // channel exists, possibly before `watch` answers: the
                // listener must know the id and token first.
                self.channels.insert(&id, name, m, &token);
                match rt.block_on(source.watch(m, &id, &webhook.public_url, &token, ttl)) {
                    Ok(channel) => {
                        if channel.id != id {
                            self.channels.remove(&id);
                            self.channels.insert(&channel.id, name, m, &channel.token);
                        }
                        self.channels.opened(name, m, &channel);
                        tracing::info!("source `{name}`: `{m}`: push channel open");
                        let json = serde_json::to_string(&channel).unwrap_or_default();
                        self.store.set_cursor(name, m, CHANNEL_ITEM, &json)?;
                        if let Some(old) = existing {
                            self.channels.remove(&old.id);
                            if let Err(e) = rt.block_on(source.stop(m, &old)) {
                                problems.push(format!(
                                    "source `{name}`: `{m}`: cannot stop the old channel: {e}"
                                ));
                            }
                        }
                    }
                    Err(e) => {
                        self.channels.remove(&id);
                        problems.push(format!(
                            "source `{name}`: `{m}`: cannot open a push channel: {e}"
                        ));
                    }
                }
            }
        }
        Ok(problems)
    }

    /// Finish the log row of a write Google refused (412) once deciding
    /// again on the fresh copy found nothing to write: it is `no_change`
    /// with the reason, not `failed`, and its screening stays as the
    /// second decision left it.
    fn settle_refused(&mut self, record: &DecisionRecord) -> Result<(), StoreError> {
        let key = ScreeningKey {
            source: record.source.clone(),
            calendar: record.calendar.clone(),
            uid: record.uid.clone(),
            recurrence_id: record.recurrence_id.clone(),
            member: record.member.clone(),
        };
        let Some(screening) = self.store.screening(&key)? else {
            return Ok(());
        };
        // Only a row the second decision did not take over.
        if screening.decision_id.is_some_and(|id| id != record.id) || !screening.complete {
            return Ok(());
        }
        self.store.finish_decision(
            record.id,
            Outcome::NoChange,
            Some("the event changed before gatekeeper's answer landed; decided again on the new version, nothing to write"),
            &screening,
        )
    }

    /// Accept notifications for the channels an earlier run left open, from
    /// before the listener starts: Google keeps posting to them, and a
    /// refusal would be a false "wrong token" warning and a failed delivery.
    pub fn register_channels(&mut self) -> Result<(), StoreError> {
        for (cfg, backend) in &self.sources {
            let Backend::Google { members, .. } = backend else {
                continue;
            };
            let cursors = self.store.cursors(cfg.name())?;
            for m in members {
                if let Some(c) = cursors
                    .get(&(m.clone(), CHANNEL_ITEM.to_string()))
                    .and_then(|c| serde_json::from_str::<WatchChannel>(c).ok())
                {
                    self.channels.opened(cfg.name(), m, &c);
                }
            }
        }
        Ok(())
    }

    /// Stop every open channel (at shutdown).
    pub fn stop_channels(&mut self) -> Result<(), StoreError> {
        let Some(rt) = self.runtime.as_ref().map(|r| r.handle().clone()) else {
            return Ok(());
        };
        for (cfg, backend) in &self.sources {
            let Backend::Google { source, members } = backend else {
                continue;
            };
            let cursors = self.store.cursors(cfg.name())?;
            for m in members {
                let Some(c) = cursors
                    .get(&(m.clone(), CHANNEL_ITEM.to_string()))
                    .and_then(|c| serde_json::from_str::<WatchChannel>(c).ok())
                    .or_else(|| self.channels.open_channel(cfg.name(), m))
                else {
                    continue;
                };
                self.channels.remove(&c.id);
                if let Err(e) = rt.block_on(source.stop(m, &c)) {
                    tracing::warn!("source `{}`: `{m}`: cannot stop channel: {e}", cfg.name());
                }
                self.store.remove_cursor(cfg.name(), m, CHANNEL_ITEM)?;
            }
        }
        Ok(())
    }
}

/// How often one invite is decided in a pass when its copy keeps changing
/// under gatekeeper's conditional writes.
const MAX_DECISION_ROUNDS: u32 = 3;

/// The cursor item that asks for one windowed re-screen of a member's
/// calendar after their team's policy changed.
pub(super) const RESCREEN_ITEM: &str = "rescreen";

/// How many members' calendars a Google source syncs at once.
pub(super) const SYNC_CONCURRENCY: usize = 16;

/// The Google settings and members of a configured Google source.
pub(super) fn google_settings(s: &SourceConfig, team: &Team) -> (GoogleSettings, Vec<String>) {
    google_settings_for(s, &team.members())
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
        unreachable!("google_settings is only called for Google sources")
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
