//! The Google Calendar side of a pass: sync each member's calendar
//! (bounded concurrency, sync tokens, a full resync on 410), remember
//! protected time and cancellations, screen each batch as it arrives, and
//! keep push channels open. Google I/O goes through `source::google`.

use super::*;

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
        let permits = Arc::new(tokio::sync::Semaphore::new(SYNC_CONCURRENCY));
        for m in members {
            let google = Arc::clone(google);
            let member = m.clone();
            let token = cursors
                .get(&(member.clone(), SYNC_TOKEN_ITEM.to_string()))
                .cloned();
            // After a policy edit: the screening window read once more,
            // sync token and channel untouched.
            let window = cursors
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
                let first = google.sync(&member, token.as_deref()).await;
                let batch = match first {
                    // The token expired: sync this calendar in full.
                    // Invites already decided are recognised by their
                    // screenings and markers, so nothing is redone.
                    Err(CallError::FullSyncRequired) => google.sync(&member, None).await,
                    other => other,
                };
                let _ = tx.send((member.clone(), batch, false)).await;
                if let Some((from, to)) = window {
                    let batch = google.events_between(&member, from, to).await;
                    let _ = tx.send((member, batch, true)).await;
                }
            });
        }
        drop(tx);
        while let Some((member, batch, windowed)) = rt.block_on(rx.recv()) {
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
                let events: Vec<Event> = group.into_iter().map(|g| g.event).collect();
                for (idx, id) in ids.iter().enumerate() {
                    let google = Arc::clone(google);
                    let id = id.clone();
                    let member_email = member.clone();
                    let mut calls = 0;
                    let mut responder = |_: &Event, w: &Write| -> Result<(), String> {
                        let r = rt.block_on(google.respond(&member_email, &id, w));
                        match r {
                            Ok(n) => {
                                calls += n;
                                Ok(())
                            }
                            Err(e) => Err(e.to_string()),
                        }
                    };
                    let outcome =
                        self.screen_event(&unit, &policy, tz, &events, idx, &mut responder, now)?;
                    report.api_calls += calls;
                    if let Screened::Decided(record) = outcome {
                        complete &= record.outcome != Outcome::Failed;
                        self.emit(report, *record);
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
                let existing: Option<WatchChannel> = cursors
                    .get(&(m.clone(), CHANNEL_ITEM.to_string()))
                    .and_then(|c| serde_json::from_str(c).ok());
                let fresh = existing.as_ref().filter(|c| {
                    DateTime::from_timestamp_millis(c.expiration_ms)
                        .is_some_and(|exp| exp - now > renew_before)
                });
                if let Some(c) = fresh {
                    self.channels.insert(&c.id, name, m, &c.token);
                    continue;
                }
                let id = format!("gatekeeper-{}", crate::source::google::random_token());
                let token = crate::source::google::random_token();
                match rt.block_on(source.watch(m, &id, &webhook.public_url, &token, ttl)) {
                    Ok(channel) => {
                        self.channels.insert(&channel.id, name, m, &channel.token);
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
                    Err(e) => problems.push(format!(
                        "source `{name}`: `{m}`: cannot open a push channel: {e}"
                    )),
                }
            }
        }
        Ok(problems)
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
