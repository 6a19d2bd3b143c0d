//! One daemon scenario suite, run against every backend (issue 10, Part 2,
//! "Tests"): local folders (vdir), the fake of Google's Calendar API, and a
//! real CalDAV server (Radicale).
//!
//! Every scenario is written once, in `suite.rs`, against the `World` trait
//! (`world.rs`): add an invite as its organizer, edit it, answer it as a
//! member, read a member's answer and gatekeeper's comment back. Each
//! backend's folder-of-one (`vdir.rs`, `google.rs`, `caldav.rs`) implements
//! that trait in the backend's own terms: files a calendar app writes, the
//! Google UI's actions on the fake, PUTs to the CalDAV server. The daemon is
//! always the real binary (`gatekeeper run --once`), whose CLI is stable,
//! never the engine's Rust API.
//!
//! Nothing here waits for time: a run is stalled at an exact point by
//! handing it a full stdout pipe (it blocks printing its first decision,
//! after that decision is finished and before the next is written), and
//! released or killed there. CalDAV reads each item just before deciding
//! it, so for the race there a proxy in front of Radicale holds
//! gatekeeper's PUT while the member's lands.

#[path = "../common/mod.rs"]
mod common;

mod caldav;
mod google;
mod suite;
mod vdir;
mod world;

/// Generates one `#[test]` per backend for each scenario in `suite`:
/// `vdir_<name>`, `google_<name>` and `caldav_<name>`.
macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        mod vdir_backend {
            $(
                #[test]
                fn $name() {
                    crate::suite::$name::<crate::vdir::Vdir>();
                }
            )*
        }
        mod google_backend {
            $(
                #[test]
                fn $name() {
                    crate::suite::$name::<crate::google::Google>();
                }
            )*
        }
        mod caldav_backend {
            $(
                #[test]
                fn $name() {
                    crate::suite::$name::<crate::caldav::Caldav>();
                }
            )*
        }
    };
}

scenarios!(
    a_new_invite_that_breaks_the_policy_is_declined_with_the_rules_comment,
    the_organizer_fixes_the_invite_and_the_decline_is_taken_back,
    a_members_own_answer_before_and_after_gatekeepers_is_kept,
    a_member_answering_during_gatekeepers_write_keeps_their_answer,
    a_run_killed_mid_sync_is_finished_by_the_next_without_answering_twice,
    a_policy_edit_rescreens_the_team_with_one_write_per_copy,
    an_invite_to_twenty_members_is_decided_once_per_member,
);
