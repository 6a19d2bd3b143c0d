//! What a pass keeps besides decisions, for sources that can: push
//! channels (opened, renewed, registered with the webhook listener,
//! stopped at shutdown) and members' time zones from their calendar
//! settings. Sources that cannot say so through the trait's defaults.

use super::*;
use crate::source::{CHANNEL_ITEM, WatchChannel};

impl<S: Store> Engine<S> {
    /// Members whose policy names no time zone get their calendar's
    /// setting, where a source has one (read once, then remembered).
    pub(super) fn apply_calendar_zones(&mut self) {
        for member in self.team.members_needing_zone() {
            if !self.calendar_zones.contains_key(&member) {
                let setting = self.sources.iter().find_map(|s| s.time_zone(&member));
                match setting {
                    None => continue,
                    Some(Ok(name)) => match crate::calendar::tz::resolve_name(&name) {
                        Some(tz) => {
                            self.calendar_zones.insert(member.clone(), tz);
                        }
                        None => tracing::warn!(
                            "`{member}`: unknown calendar time zone `{name}`; using UTC"
                        ),
                    },
                    Some(Err(e)) => tracing::warn!(
                        "`{member}`: cannot read the calendar's time zone: {e}; using UTC"
                    ),
                }
            }
            if let Some(tz) = self.calendar_zones.get(&member) {
                self.team.set_member_zone(&member, *tz);
            }
        }
    }

    /// Open, renew and register push channels for every member of every
    /// source that can push. A channel is renewed (a new one opened, then
    /// the old one stopped) when less than a tenth of its lifetime is left.
    pub fn maintain_channels(&mut self, now: DateTime<Utc>) -> Result<Vec<String>, StoreError> {
        let mut problems = Vec::new();
        let Some(webhook) = self.config.webhook.clone() else {
            return Ok(problems);
        };
        let ttl = std::time::Duration::from_secs(webhook.channel_ttl_hours.max(1) * 3600);
        let renew_before = chrono::Duration::from_std(ttl / 10).unwrap_or_default();
        for source in self.sources.iter().filter(|s| s.can_watch()) {
            let name = source.name();
            let cursors = self.store.cursors(name)?;
            for m in source.members() {
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
                let id = format!("gatekeeper-{}", crate::source::random_token());
                let token = crate::source::random_token();
                // The backend may send the channel's first message as soon
                // as the channel exists, possibly before `watch` answers:
                // the listener must know the id and token first.
                self.channels.insert(&id, name, m, &token);
                match source.watch(m, &id, &webhook.public_url, &token, ttl) {
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
                            if let Err(e) = source.unwatch(m, &old) {
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

    /// Accept notifications for the channels an earlier run left open, from
    /// before the listener starts: the backend keeps posting to them, and a
    /// refusal would be a false "wrong token" warning and a failed delivery.
    pub fn register_channels(&mut self) -> Result<(), StoreError> {
        for source in self.sources.iter().filter(|s| s.can_watch()) {
            let cursors = self.store.cursors(source.name())?;
            for m in source.members() {
                if let Some(c) = cursors
                    .get(&(m.clone(), CHANNEL_ITEM.to_string()))
                    .and_then(|c| serde_json::from_str::<WatchChannel>(c).ok())
                {
                    self.channels.opened(source.name(), m, &c);
                }
            }
        }
        Ok(())
    }

    /// Stop every open channel (at shutdown).
    pub fn stop_channels(&mut self) -> Result<(), StoreError> {
        for source in self.sources.iter().filter(|s| s.can_watch()) {
            let name = source.name();
            let cursors = self.store.cursors(name)?;
            for m in source.members() {
                let Some(c) = cursors
                    .get(&(m.clone(), CHANNEL_ITEM.to_string()))
                    .and_then(|c| serde_json::from_str::<WatchChannel>(c).ok())
                    .or_else(|| self.channels.open_channel(name, m))
                else {
                    continue;
                };
                self.channels.remove(&c.id);
                if let Err(e) = source.unwatch(m, &c) {
                    tracing::warn!("source `{name}`: `{m}`: cannot stop channel: {e}");
                }
                self.store.remove_cursor(name, m, CHANNEL_ITEM)?;
            }
        }
        Ok(())
    }
}
