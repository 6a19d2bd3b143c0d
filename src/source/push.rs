//! Push channels, for backends that can push changes (Google's
//! `events.watch`): the channel as the backend answered it, stored as a
//! cursor row, and the registry the webhook listener checks every
//! notification against. No I/O.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A push channel as the backend answered it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WatchChannel {
    pub id: String,
    pub resource_id: String,
    pub token: String,
    /// Milliseconds since the epoch.
    pub expiration_ms: i64,
}

/// A random channel token: the webhook checks it on every notification.
pub fn random_token() -> String {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 24];
    // The system random source only fails if the OS has none; then a
    // time-based token still differs per channel.
    if ring::rand::SystemRandom::new().fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes[..16].copy_from_slice(&nanos.to_le_bytes());
    }
    hex::encode(bytes)
}

/// Shared between the webhook listener and the daemon: which channel id
/// belongs to which source and member, and its token; and the channel each
/// member has open, so a channel is never opened twice or forgotten.
#[derive(Clone, Default)]
pub struct ChannelRegistry(Arc<Mutex<Channels>>);

#[derive(Default)]
struct Channels {
    by_id: HashMap<String, ChannelOwner>,
    /// (source, member) → the channel open for them.
    open: HashMap<(String, String), WatchChannel>,
    /// Channels this process stopped, with their tokens (the latest few):
    /// Google may still deliver a message it sent before the stop.
    retired: std::collections::VecDeque<(String, String)>,
}

/// How many stopped channels are remembered.
const RETIRED_CHANNELS: usize = 1024;

/// Whose channel it is: (source, member, token).
type ChannelOwner = (String, String, String);

impl ChannelRegistry {
    fn lock(&self) -> std::sync::MutexGuard<'_, Channels> {
        // A panic while holding the lock leaves two plain maps behind,
        // still consistent enough to check tokens against.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Accept notifications for `channel_id` with `token` from now on: call
    /// before `events.watch`, whose `sync` message may arrive first.
    pub fn insert(&self, channel_id: &str, source: &str, member: &str, token: &str) {
        self.lock().by_id.insert(
            channel_id.to_string(),
            (source.to_string(), member.to_string(), token.to_string()),
        );
    }

    /// Forget a channel (stopped, or its watch failed). A late message on
    /// it with its token is still recognised as gatekeeper's own (see
    /// `is_retired`), so it does not read as a forged one.
    pub fn remove(&self, channel_id: &str) {
        let mut m = self.lock();
        if let Some((_, _, token)) = m.by_id.remove(channel_id) {
            if m.retired.len() >= RETIRED_CHANNELS {
                m.retired.pop_front();
            }
            m.retired.push_back((channel_id.to_string(), token));
        }
        m.open.retain(|_, c| c.id != channel_id);
    }

    /// Whether `channel_id` is a channel this process stopped, and `token`
    /// its token: a late message to be acknowledged and ignored.
    pub fn is_retired(&self, channel_id: &str, token: &str) -> bool {
        self.lock()
            .retired
            .iter()
            .any(|(id, t)| id == channel_id && constant_time_eq(t.as_bytes(), token.as_bytes()))
    }

    /// Record the channel now open for `member` of `source` (and accept
    /// notifications for it).
    pub fn opened(&self, source: &str, member: &str, channel: &WatchChannel) {
        let mut m = self.lock();
        m.by_id.insert(
            channel.id.clone(),
            (
                source.to_string(),
                member.to_string(),
                channel.token.clone(),
            ),
        );
        m.open
            .insert((source.to_string(), member.to_string()), channel.clone());
    }

    /// The channel open for `member` of `source`, if this process opened or
    /// registered one.
    pub fn open_channel(&self, source: &str, member: &str) -> Option<WatchChannel> {
        self.lock()
            .open
            .get(&(source.to_string(), member.to_string()))
            .cloned()
    }

    /// The (source, member) a notification is for, if its channel is known
    /// and its token matches (compared in constant time).
    pub fn check(&self, channel_id: &str, token: &str) -> Option<(String, String)> {
        let m = self.lock();
        let (source, member, expected) = m.by_id.get(channel_id)?;
        let matches = constant_time_eq(expected.as_bytes(), token.as_bytes());
        matches.then(|| (source.clone(), member.clone()))
    }
}

/// Compare without an early exit, so the time taken does not tell an
/// attacker how much of a guessed token was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
