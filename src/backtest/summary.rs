//! The figures of a backtest, from the decisions a replay made and the
//! events it replayed. Pure: no I/O, no clock.
//!
//! Which decision counts: for each invite (member, UID, occurrence) that
//! arrived in the period, the last one the replay made (a later decision
//! replaces an earlier one, as a later answer replaces an earlier one in
//! the calendar). Hours given back: the declined meetings' occurrences from
//! their arrival to the end of the period (a meeting first held after the
//! period counts its first occurrence). After-hours burden: what every
//! meeting a member did not decline themselves costs them in the period
//! (the fairness curve, `fairness::ledger_entries`), before, and without
//! the ones the policy would have declined, after.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::calendar::{Event, PartStat, Status};
use crate::daemon::engine::upcoming_spans;
use crate::fairness::{Figures, Standing, figures, ledger_entries};
use crate::policy::{Invite, Policy, Span};
use crate::store::{DecisionRecord, LoggedAction};

/// Where an invite's state is kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub member: String,
    pub uid: String,
    pub recurrence_id: String,
}

/// An invite as it arrived.
#[derive(Debug, Clone)]
pub struct Known {
    pub group: Vec<Event>,
    pub idx: usize,
    /// The member's own answer, as they really gave it.
    pub answer: PartStat,
    pub arrived: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Totals {
    pub screened: usize,
    pub allowed: usize,
    pub annotated: usize,
    pub declined: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleCount {
    pub rule: String,
    pub annotated: usize,
    pub declined: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrganizerCount {
    pub organizer: String,
    pub screened: usize,
    pub annotated: usize,
    pub declined: usize,
    /// The rules their invites fell short of, most often first.
    pub rules: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PersonHours {
    pub member: String,
    pub zone: String,
    pub declined: usize,
    /// Meeting minutes the declines give back.
    pub minutes_given_back: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ZoneBurden {
    pub zone: String,
    pub members: usize,
    /// Weighted minutes of inconvenience, before and after the policy.
    pub before: u64,
    pub after: u64,
    /// Minutes outside working hours, before and after.
    pub outside_before: u64,
    pub outside_after: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fairness {
    /// 1 − σ/μ over the members' burdens: 1 when everyone carries the same.
    pub index: f64,
    pub gini: f64,
    pub worst_to_mean: f64,
}

impl From<&Figures> for Fairness {
    fn from(f: &Figures) -> Fairness {
        Fairness {
            index: f.index,
            gini: f.gini,
            worst_to_mean: f.worst_to_mean,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decline {
    pub member: String,
    pub title: String,
    pub organizer: String,
    pub arrived: DateTime<Utc>,
    pub start: Option<DateTime<Utc>>,
    pub rules: Vec<String>,
    /// The fairer times gatekeeper's comment suggested, one a line.
    pub suggestions: Vec<String>,
}

/// One invite two policies treat differently.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Difference {
    pub member: String,
    pub title: String,
    pub organizer: String,
    pub current: String,
    pub current_rules: Vec<String>,
    pub candidate: String,
    pub candidate_rules: Vec<String>,
}

/// One policy's backtest.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// `current` or the candidate file's name.
    pub label: String,
    pub policy_hash: String,
    pub totals: Totals,
    pub by_rule: Vec<RuleCount>,
    pub by_organizer: Vec<OrganizerCount>,
    pub people: Vec<PersonHours>,
    pub zones: Vec<ZoneBurden>,
    pub fairness_before: Fairness,
    pub fairness_after: Fairness,
    pub declines: Vec<Decline>,
}

/// The whole backtest: one policy, or two and how they differ.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Backtest {
    pub team: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Invites that arrived in the period.
    pub invites: usize,
    pub outcomes: Vec<Outcome>,
    /// Present when two policies were compared.
    pub differences: Option<Vec<Difference>>,
    pub notes: Vec<String>,
}

/// The period a backtest covers.
#[derive(Debug, Clone, Copy)]
pub struct Period {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// The last decision per invite that arrived in the period, by key.
pub fn final_decisions<'a>(
    decisions: &'a [DecisionRecord],
    known: &HashMap<Key, Known>,
    period: Period,
) -> BTreeMap<Key, &'a DecisionRecord> {
    let mut out = BTreeMap::new();
    for d in decisions {
        let key = Key {
            member: d.member.clone(),
            uid: d.uid.clone(),
            recurrence_id: d.recurrence_id.clone(),
        };
        let in_period = known
            .get(&key)
            .is_some_and(|k| k.arrived >= period.from && k.arrived < period.to);
        if in_period {
            out.insert(key, d);
        }
    }
    out
}

fn acting(d: &DecisionRecord) -> Vec<String> {
    d.findings.acting_rules()
}

fn spans_in(k: &Known, policy: &Policy, member: &str, period: Period) -> Vec<Span> {
    let tz = policy.member(member).map_or(chrono_tz::UTC, |m| m.tz);
    let start = k.arrived.max(period.from);
    let days = u32::try_from((period.to - start).num_days().max(0) + 1).unwrap_or(u32::MAX);
    let spans = upcoming_spans(&k.group, k.idx, tz, start, days, 500);
    let inside: Vec<Span> = spans
        .iter()
        .copied()
        .filter(|s| s.start < period.to)
        .collect();
    if inside.is_empty() {
        spans.into_iter().take(1).collect()
    } else {
        inside
    }
}

/// The lines of a comment that suggest fairer times.
fn suggestions(comment: Option<&str>) -> Vec<String> {
    let Some(c) = comment else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut on = false;
    for line in c.lines() {
        if line.starts_with("Times that would be fairer") || line.starts_with("A rotation") {
            on = true;
            continue;
        }
        if on {
            match line.strip_prefix("- ") {
                Some(s) => out.push(s.to_string()),
                None if line.trim().is_empty() => {}
                None => on = false,
            }
        }
    }
    out
}

/// What one policy would have done in the period.
pub fn outcome(
    label: &str,
    policy: &Policy,
    decisions: &[DecisionRecord],
    known: &HashMap<Key, Known>,
    period: Period,
) -> Outcome {
    let last = final_decisions(decisions, known, period);
    let mut totals = Totals::default();
    let mut rules: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut organizers: BTreeMap<String, (usize, usize, usize, BTreeMap<String, usize>)> =
        BTreeMap::new();
    let mut people: BTreeMap<String, (usize, u64)> = BTreeMap::new();
    let mut declines = Vec::new();
    for (key, d) in &last {
        totals.screened += 1;
        let org = organizers.entry(d.organizer.clone()).or_default();
        org.0 += 1;
        let acting = acting(d);
        match d.action {
            LoggedAction::Allow => totals.allowed += 1,
            LoggedAction::Annotate => {
                totals.annotated += 1;
                org.1 += 1;
                for r in &acting {
                    rules.entry(r.clone()).or_default().0 += 1;
                }
            }
            LoggedAction::Decline => {
                totals.declined += 1;
                org.2 += 1;
                for r in &acting {
                    rules.entry(r.clone()).or_default().1 += 1;
                }
                let k = &known[key];
                let spans = spans_in(k, policy, &key.member, period);
                let minutes: i64 = spans.iter().map(|s| (s.end - s.start).num_minutes()).sum();
                let p = people.entry(key.member.clone()).or_default();
                p.0 += 1;
                p.1 += u64::try_from(minutes.max(0)).unwrap_or(0);
                declines.push(Decline {
                    member: key.member.clone(),
                    title: d.title.clone(),
                    organizer: d.organizer.clone(),
                    arrived: k.arrived,
                    start: spans.first().map(|s| s.start),
                    rules: acting.clone(),
                    suggestions: suggestions(d.comment.as_deref()),
                });
            }
            LoggedAction::Unknown(_) => {}
        }
        if d.action != LoggedAction::Allow {
            for r in acting {
                *org.3.entry(r).or_default() += 1;
            }
        }
    }
    // The after-hours burden, before and after.
    let mut before: BTreeMap<String, (u32, u32)> = BTreeMap::new();
    let mut after: BTreeMap<String, (u32, u32)> = BTreeMap::new();
    for m in &policy.members {
        before.insert(m.email.clone(), (0, 0));
        after.insert(m.email.clone(), (0, 0));
    }
    let mut keys: Vec<&Key> = known.keys().collect();
    keys.sort();
    for key in keys {
        let k = &known[key];
        if k.arrived < period.from || k.arrived >= period.to || k.answer == PartStat::Declined {
            continue;
        }
        let event = &k.group[k.idx];
        if policy.member(&key.member).is_none() {
            continue;
        }
        let spans = spans_in(k, policy, &key.member, period);
        let invite = Invite::of_event(event, &spans);
        let standing = Standing {
            partstat: &PartStat::Accepted,
            gatekeeper_partstat: None,
            cancelled: event.status == Status::Cancelled,
        };
        let (mut inc, mut out) = (0u32, 0u32);
        for e in ledger_entries(policy, &key.member, &invite, standing) {
            inc = inc.saturating_add(e.burden.inconvenience);
            out = out.saturating_add(e.burden.outside_minutes);
        }
        let add = |map: &mut BTreeMap<String, (u32, u32)>| {
            let b = map.entry(key.member.clone()).or_default();
            b.0 = b.0.saturating_add(inc);
            b.1 = b.1.saturating_add(out);
        };
        add(&mut before);
        let declined = last
            .get(key)
            .is_some_and(|d| d.action == LoggedAction::Decline);
        if !declined {
            add(&mut after);
        }
    }
    let zone_of = |m: &str| {
        policy
            .member(m)
            .map_or("UTC".to_string(), |m| m.tz.to_string())
    };
    let mut zones: BTreeMap<String, ZoneBurden> = BTreeMap::new();
    for (m, (inc, out)) in &before {
        let z = zones.entry(zone_of(m)).or_insert_with(|| ZoneBurden {
            zone: zone_of(m),
            members: 0,
            before: 0,
            after: 0,
            outside_before: 0,
            outside_after: 0,
        });
        z.members += 1;
        z.before += u64::from(*inc);
        z.outside_before += u64::from(*out);
        let (ai, ao) = after.get(m).copied().unwrap_or_default();
        z.after += u64::from(ai);
        z.outside_after += u64::from(ao);
    }
    let fig = |map: &BTreeMap<String, (u32, u32)>| {
        Fairness::from(&figures(map.iter().map(|(m, b)| (m.as_str(), b.0))))
    };
    let mut by_rule: Vec<RuleCount> = rules
        .into_iter()
        .map(|(rule, (annotated, declined))| RuleCount {
            rule,
            annotated,
            declined,
        })
        .collect();
    by_rule.sort_by(|a, b| {
        (b.declined + b.annotated)
            .cmp(&(a.declined + a.annotated))
            .then_with(|| a.rule.cmp(&b.rule))
    });
    let mut by_organizer: Vec<OrganizerCount> = organizers
        .into_iter()
        .map(|(organizer, (screened, annotated, declined, rules))| {
            let mut rules: Vec<(String, usize)> = rules.into_iter().collect();
            rules.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            OrganizerCount {
                organizer,
                screened,
                annotated,
                declined,
                rules: rules.into_iter().map(|r| r.0).collect(),
            }
        })
        .collect();
    by_organizer.sort_by(|a, b| {
        (b.declined, b.annotated, b.screened)
            .cmp(&(a.declined, a.annotated, a.screened))
            .then_with(|| a.organizer.cmp(&b.organizer))
    });
    let people = policy
        .members
        .iter()
        .map(|m| {
            let (declined, minutes) = people.get(&m.email).copied().unwrap_or_default();
            PersonHours {
                member: m.email.clone(),
                zone: m.tz.to_string(),
                declined,
                minutes_given_back: minutes,
            }
        })
        .collect();
    declines
        .sort_by(|a, b| (a.arrived, &a.member, &a.title).cmp(&(b.arrived, &b.member, &b.title)));
    Outcome {
        label: label.to_string(),
        policy_hash: policy.hash.clone(),
        totals,
        by_rule,
        by_organizer,
        people,
        zones: zones.into_values().collect(),
        fairness_before: fig(&before),
        fairness_after: fig(&after),
        declines,
    }
}

/// The invites two policies' replays treat differently: another action,
/// or the same action on other rules.
pub fn differences(
    current: &[DecisionRecord],
    candidate: &[DecisionRecord],
    known: &HashMap<Key, Known>,
    period: Period,
) -> Vec<Difference> {
    let a = final_decisions(current, known, period);
    let b = final_decisions(candidate, known, period);
    let mut keys: Vec<&Key> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    let describe = |d: Option<&&DecisionRecord>| match d {
        Some(d) => (d.action.as_str().to_string(), acting(d)),
        None => ("not screened".to_string(), Vec::new()),
    };
    keys.into_iter()
        .filter_map(|key| {
            let (da, db) = (a.get(key), b.get(key));
            let (ca, ra) = describe(da);
            let (cb, rb) = describe(db);
            if ca == cb && ra == rb {
                return None;
            }
            let any = da.or(db)?;
            Some(Difference {
                member: key.member.clone(),
                title: any.title.clone(),
                organizer: any.organizer.clone(),
                current: ca,
                current_rules: ra,
                candidate: cb,
                candidate_rules: rb,
            })
        })
        .collect()
}
