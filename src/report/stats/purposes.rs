//! Which purposes the week's meetings served (issue 15): meeting hours by
//! purpose, the share of meetings that stated one, and the decision
//! meetings with their record links (or the lack of one). Computed only for
//! a policy with a `purpose` or `decision_record` rule: a team that has not
//! agreed on purposes gets no section.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use super::meetings::MemberOccurrences;
use crate::calendar::Event;
use crate::policy::model::{Policy, RuleSpec};
use crate::policy::purpose::{DecisionRecordRule, Purpose, links, recognise, record_link};

/// At most this many decision meetings are listed (all are counted).
const LISTED_DECISIONS: usize = 50;
/// What the table calls meetings that stated no purpose.
pub const NONE_STATED: &str = "none stated";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PurposeSection {
    /// Distinct meetings of the week (the same occurrence in several
    /// calendars once), and how many of them stated a purpose.
    pub meetings: u32,
    pub stated: u32,
    /// `stated / meetings`, 0 without meetings.
    pub share_stated: f64,
    /// Distinct meetings and their minutes by the first purpose each
    /// stated, in the policy's order, then `none stated`.
    pub by_purpose: Vec<PurposeTime>,
    /// Each member's meeting minutes by purpose, in `by_purpose`'s order.
    pub members: Vec<MemberPurposes>,
    /// The decision meetings, earliest first (at most 50 listed).
    pub decisions: Vec<DecisionMeeting>,
    pub decisions_total: u32,
    pub decisions_without_record: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PurposeTime {
    pub purpose: String,
    pub meetings: u32,
    pub minutes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemberPurposes {
    pub email: String,
    pub minutes: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DecisionMeeting {
    /// "(private event)" for private events.
    pub title: String,
    pub organizer: Option<String>,
    /// Local start in the report's zone, `Tue 01 Dec 10:00`.
    pub local_start: String,
    /// The record link; `None` when there is none, or when the event is
    /// private (then `has_record` still says whether it has one).
    pub record: Option<String>,
    pub has_record: bool,
}

/// What one member's copy of an event says, worked out once per event.
#[derive(Clone, Copy)]
struct Read<'e> {
    /// Index into the section's purposes.
    purpose: Option<usize>,
    decision: bool,
    record: Option<&'e str>,
}

pub(super) fn screens_purposes(policy: &Policy) -> bool {
    policy
        .rules
        .iter()
        .any(|r| matches!(r.spec, RuleSpec::Purpose(_) | RuleSpec::DecisionRecord(_)))
}

/// The purposes the section reports on: every `purpose` rule's, in the
/// policy's order, or the defaults.
fn section_purposes(policy: &Policy) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for r in &policy.rules {
        if let RuleSpec::Purpose(p) = &r.spec {
            for p in &p.purposes {
                if !names.contains(&p.name) {
                    names.push(p.name.clone());
                }
            }
        }
    }
    if names.is_empty() {
        names = crate::policy::purpose::DEFAULT_PURPOSES
            .iter()
            .map(|s| s.to_string())
            .collect();
    }
    names
}

fn record_rule<'p>(policy: &'p Policy, member: &str) -> Option<&'p DecisionRecordRule> {
    policy
        .rules
        .iter()
        .filter(|r| r.applies_to(member))
        .find_map(|r| match &r.spec {
            RuleSpec::DecisionRecord(d) => Some(d),
            _ => None,
        })
}

/// Which purpose the event states first, whether it is a decision (the
/// member's `decision_record` rule's purpose, else `decision`), and its
/// record: a link the rule accepts, or without a rule any link.
fn read<'e>(
    event: &'e Event,
    purposes: &[Purpose],
    names: &[String],
    rule: Option<&DecisionRecordRule>,
) -> Read<'e> {
    let r = recognise(
        &event.summary,
        &event.description,
        &event.categories,
        purposes,
    );
    let purpose = r
        .first(purposes)
        .and_then(|n| names.iter().position(|x| x == n));
    let decision_name = rule.map_or("decision", |d| d.purpose.as_str());
    let decision = purposes
        .iter()
        .position(|p| p.name == decision_name)
        .is_some_and(|i| r.states(i));
    let record = if !decision {
        None
    } else {
        match rule {
            Some(d) => record_link(&event.description, d),
            None => links(&event.description, 1).first().copied(),
        }
    };
    Read {
        purpose,
        decision,
        record,
    }
}

pub(super) fn section(
    policy: &Policy,
    occurrences: &[Option<MemberOccurrences<'_>>],
    (ws, we): (DateTime<Utc>, DateTime<Utc>),
    tz: Tz,
) -> PurposeSection {
    let names = section_purposes(policy);
    let none = names.len();
    let mut by_purpose: Vec<PurposeTime> = names
        .iter()
        .chain(std::iter::once(&NONE_STATED.to_string()))
        .map(|n| PurposeTime {
            purpose: n.clone(),
            meetings: 0,
            minutes: 0,
        })
        .collect();
    let mut members = Vec::new();
    // Distinct meetings by (uid, start): the first member's copy decides
    // their purpose.
    let mut distinct: HashSet<(&str, DateTime<Utc>)> = HashSet::new();
    let mut decisions: Vec<(DateTime<Utc>, &Event, Read<'_>)> = Vec::new();
    for (m, occ) in policy.members.iter().zip(occurrences) {
        let Some(occ) = occ else { continue };
        let purposes = policy.purposes_for(&m.email);
        let rule = record_rule(policy, &m.email);
        let mut cache: HashMap<*const Event, Read> = HashMap::new();
        let mut minutes = vec![0u32; none + 1];
        for o in occ.occurrences.iter().filter(|o| o.counts) {
            let (s, e) = (o.start.max(ws), o.end.min(we));
            if e <= s {
                continue;
            }
            let read = *cache
                .entry(o.event as *const Event)
                .or_insert_with(|| read(o.event, &purposes, &names, rule));
            let slot = read.purpose.unwrap_or(none);
            let len = (e - s).num_minutes().max(0) as u32;
            minutes[slot] += len;
            if distinct.insert((o.event.uid.as_str(), o.start)) {
                by_purpose[slot].meetings += 1;
                by_purpose[slot].minutes += u64::from(len);
                if read.decision {
                    decisions.push((o.start, o.event, read));
                }
            }
        }
        members.push(MemberPurposes {
            email: m.email.clone(),
            minutes,
        });
    }
    decisions.sort_by(|a, b| (a.0, &a.1.uid).cmp(&(b.0, &b.1.uid)));
    let meetings: u32 = by_purpose.iter().map(|p| p.meetings).sum();
    let stated = meetings - by_purpose[none].meetings;
    PurposeSection {
        meetings,
        stated,
        share_stated: if meetings == 0 {
            0.0
        } else {
            f64::from(stated) / f64::from(meetings)
        },
        by_purpose,
        members,
        decisions_total: decisions.len() as u32,
        decisions_without_record: decisions.iter().filter(|d| d.2.record.is_none()).count() as u32,
        decisions: decisions
            .into_iter()
            .take(LISTED_DECISIONS)
            .map(|(start, event, read)| DecisionMeeting {
                title: if event.private {
                    "(private event)".to_string()
                } else {
                    event.summary.clone()
                },
                organizer: event.organizer.clone(),
                local_start: tz
                    .from_utc_datetime(&start.naive_utc())
                    .format("%a %d %b %H:%M")
                    .to_string(),
                // A private event's link may say what it is about.
                record: read.record.filter(|_| !event.private).map(str::to_string),
                has_record: read.record.is_some(),
            })
            .collect(),
    }
}
