//! The event source of a running daemon: SIGINT and SIGTERM (stop), SIGHUP
//! (`systemctl reload`: read the policies again), edits to the policy files
//! (looked at once a second), push notifications from the webhook
//! listener, and changes in local calendar folders (`folder_watch`). Waiting here is real waiting; the loop it serves
//! (`event_loop`) never sleeps itself.
//!
//! Must not decide anything: it only says what arrived.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::clock::Clock;
use super::engine::Interrupt;
use super::event_loop::{Arrival, EventSource};
use super::webhook::Notification;
use crate::team::PolicyWatch;

/// How often a wait looks at the flags and the clock.
const TICK: Duration = Duration::from_millis(100);
/// How often the policy files are looked at.
const POLICY_EVERY: Duration = Duration::from_secs(1);

/// Flags the signal handlers raise.
#[derive(Debug, Clone, Default)]
pub struct SignalFlags {
    /// SIGINT or SIGTERM.
    pub stop: Arc<AtomicBool>,
    /// SIGHUP.
    pub reload: Arc<AtomicBool>,
}

impl SignalFlags {
    /// Install the handlers: SIGINT and SIGTERM raise `stop`, SIGHUP raises
    /// `reload` (without a handler SIGHUP would end the process).
    pub fn install() -> std::io::Result<SignalFlags> {
        let flags = SignalFlags::default();
        for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            signal_hook::flag::register(signal, Arc::clone(&flags.stop))?;
        }
        signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&flags.reload))?;
        Ok(flags)
    }
}

/// Signals, policy edits and push notifications, as they arrive.
#[derive(Debug)]
pub struct LiveEvents {
    signals: SignalFlags,
    /// Raised as a push comes in, so a long pass stops at the next item to
    /// let the loop handle it; lowered once the loop has it.
    wake: Arc<AtomicBool>,
    pushes: Receiver<Notification>,
    /// Shared with the interrupter, which runs inside a pass on this same
    /// thread, never during a wait.
    policies: Rc<RefCell<PolicyWatch>>,
    /// Raised by `folder_watch` when a local calendar folder changed.
    folders: Option<Arc<AtomicBool>>,
}

impl LiveEvents {
    /// The event source, and where the webhook listener sends the
    /// notifications it accepts.
    pub fn new(signals: SignalFlags, policies: PolicyWatch) -> (LiveEvents, Sender<Notification>) {
        let (tx, raw) = std::sync::mpsc::channel::<Notification>();
        let (forward, pushes) = std::sync::mpsc::channel();
        let wake = Arc::new(AtomicBool::new(false));
        {
            let wake = Arc::clone(&wake);
            std::thread::spawn(move || {
                for n in raw {
                    wake.store(true, Ordering::SeqCst);
                    if forward.send(n).is_err() {
                        break;
                    }
                }
            });
        }
        let events = LiveEvents {
            signals,
            wake,
            pushes,
            policies: Rc::new(RefCell::new(policies)),
            folders: None,
        };
        (events, tx)
    }

    /// Wake on this flag too (`folder_watch::spawn`'s), lowering it.
    pub fn watch_folders(&mut self, changed: Arc<AtomicBool>) {
        self.folders = Some(changed);
    }
}

impl EventSource for LiveEvents {
    fn wait(&mut self, clock: &dyn Clock, until: DateTime<Utc>) -> Option<Arrival> {
        let mut next_look = Instant::now();
        loop {
            if self.signals.stop.load(Ordering::Relaxed) {
                return Some(Arrival::Stop);
            }
            if self.signals.reload.swap(false, Ordering::Relaxed) {
                // Everything on disk is about to be read.
                self.policies.borrow_mut().mark_seen();
                return Some(Arrival::PoliciesEdited);
            }
            if Instant::now() >= next_look {
                next_look = Instant::now() + POLICY_EVERY;
                if self.policies.borrow_mut().edited() {
                    return Some(Arrival::PoliciesEdited);
                }
            }
            if self
                .folders
                .as_ref()
                .is_some_and(|f| f.swap(false, Ordering::SeqCst))
            {
                return Some(Arrival::FoldersChanged);
            }
            let left = match (until - clock.now()).to_std() {
                Ok(d) if !d.is_zero() => d.min(TICK),
                _ => return None,
            };
            match self.pushes.recv_timeout(left) {
                Ok(n) => {
                    // This notification is being handled: it no longer
                    // needs to cut a pass short.
                    self.wake.store(false, Ordering::SeqCst);
                    return Some(Arrival::Push(n));
                }
                Err(RecvTimeoutError::Timeout) => {}
                // No listener: nothing will ever arrive that way.
                Err(RecvTimeoutError::Disconnected) => std::thread::sleep(left),
            }
        }
    }

    fn interrupter(&self) -> Interrupt {
        let stop = Arc::clone(&self.signals.stop);
        let reload = Arc::clone(&self.signals.reload);
        let wake = Arc::clone(&self.wake);
        let policies = Rc::clone(&self.policies);
        let mut last_look = Instant::now();
        Box::new(move || {
            // Only looks: the loop's wait takes each of these.
            if stop.load(Ordering::Relaxed)
                || reload.load(Ordering::Relaxed)
                || wake.swap(false, Ordering::SeqCst)
            {
                return true;
            }
            if last_look.elapsed() < POLICY_EVERY {
                return false;
            }
            last_look = Instant::now();
            policies.borrow().peek()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::clock::SystemClock;
    use crate::team::Team;

    const POLICY: &str = r#"
[team]
name = "t"

[[member]]
email = "a@example.com"
time_zone = "UTC"
working_hours = "09:00-17:00"
"#;

    fn touch(path: &std::path::Path, secs: u64) {
        let f = std::fs::File::options().write(true).open(path).unwrap();
        f.set_modified(std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
            .unwrap();
    }

    /// Every wait here has a deadline already past: each answer comes from
    /// what is there, never from time passing.
    #[test]
    fn what_arrived_comes_out_stop_first() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("team.toml");
        std::fs::write(&file, POLICY).unwrap();
        touch(&file, 1_000_000);
        let paths = vec![dir.path().to_path_buf()];
        let team = Team::load(&paths).unwrap_or_else(|e| panic!("{}", e.render(false)));
        let signals = SignalFlags::default();
        let (mut events, tx) = LiveEvents::new(signals.clone(), team.watch(&paths));
        let mut interrupt = events.interrupter();
        let past = SystemClock.now() - chrono::Duration::seconds(1);

        assert_eq!(events.wait(&SystemClock, past), None);
        assert!(!interrupt());

        let n = Notification {
            source: "g".into(),
            member: "a@example.com".into(),
        };
        tx.send(n.clone()).unwrap();
        // The forwarding thread raises `wake` before the push is there to
        // take: once the interrupter has seen it, so will the wait.
        while !interrupt() {
            std::thread::yield_now();
        }
        let future = SystemClock.now() + chrono::Duration::days(1);
        assert_eq!(events.wait(&SystemClock, future), Some(Arrival::Push(n)));

        touch(&file, 2_000_000);
        assert_eq!(
            events.wait(&SystemClock, past),
            Some(Arrival::PoliciesEdited)
        );
        assert_eq!(events.wait(&SystemClock, past), None, "an edit comes once");

        signals.reload.store(true, Ordering::Relaxed);
        assert!(interrupt());
        assert_eq!(
            events.wait(&SystemClock, past),
            Some(Arrival::PoliciesEdited)
        );
        assert_eq!(events.wait(&SystemClock, past), None);

        let folders = Arc::new(AtomicBool::new(false));
        events.watch_folders(Arc::clone(&folders));
        assert_eq!(events.wait(&SystemClock, past), None);
        folders.store(true, Ordering::SeqCst);
        assert_eq!(
            events.wait(&SystemClock, future),
            Some(Arrival::FoldersChanged)
        );
        assert_eq!(events.wait(&SystemClock, past), None, "a change comes once");

        signals.stop.store(true, Ordering::Relaxed);
        signals.reload.store(true, Ordering::Relaxed);
        folders.store(true, Ordering::SeqCst);
        assert!(interrupt());
        assert_eq!(events.wait(&SystemClock, past), Some(Arrival::Stop));
    }
}
