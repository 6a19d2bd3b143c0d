//! One week's report, without the trend: each member's load and
//! decisions, then what the team's week adds up to.

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::decisions::{by_member, organizer_stats, tally};
use super::fairness::section;
use super::load::{TeamMinutes, local_minutes, member_week};
use super::meetings::MemberOccurrences;
use super::team_time::{heatmap, hours_of};
use super::totals::{notes, totals};
use super::{DEFINITION, Input, IsoWeek, WeeklyReport};
use crate::store::DecisionRecord;

/// The report for one week, without the trend.
pub(super) fn week_report(
    input: &Input<'_>,
    week: IsoWeek,
    tz: Tz,
    occurrences: &[Option<MemberOccurrences<'_>>],
) -> WeeklyReport {
    let policy = input.policy;
    let (ws, we) = week.bounds(tz);
    let n = (we - ws).num_minutes().max(0) as usize;
    let team_minutes = local_minutes(ws, we, tz);
    let week_decisions: Vec<&DecisionRecord> = input
        .decisions
        .iter()
        .filter(|d| d.decided_at >= ws && d.decided_at < we)
        .collect();
    let decisions_of = by_member(&week_decisions);

    let mut team = TeamMinutes::new(n);
    let mut members = Vec::with_capacity(policy.members.len());
    let mut calendar_burden: Vec<(String, u32)> = Vec::new();
    let mut working_masks: Vec<Vec<bool>> = Vec::with_capacity(policy.members.len());
    for (idx, m) in policy.members.iter().enumerate() {
        let occ = occurrences.get(idx).and_then(Option::as_ref);
        let mut member = member_week(input, m, occ, (ws, we), n, &mut team);
        if let Some(decisions) = decisions_of.get(m.email.as_str()) {
            tally(&mut member.stats, decisions, occ);
        }
        if member.stats.has_calendar {
            calendar_burden.push((m.email.clone(), member.burden));
        }
        working_masks.push(member.working);
        members.push(member.stats);
    }

    let fairness = section(input, week, &mut members, calendar_burden);
    let hours_of = hours_of(policy, &team.distinct, &working_masks, n);
    let heatmap = heatmap(&team.person_diff, &team_minutes, n);
    let organizers = organizer_stats(&week_decisions);
    let totals = totals(&members, team.distinct.len());
    let notes = notes(&members, fairness.source);

    let fmt = |t: DateTime<Utc>| {
        tz.from_utc_datetime(&t.naive_utc())
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
    };
    WeeklyReport {
        team: policy.team.clone(),
        week: week.to_string(),
        time_zone: tz.name().to_string(),
        from: fmt(ws),
        to: fmt(we),
        dates: format!(
            "{} – {}",
            week.monday().format("%a %-d %b"),
            (week.monday() + chrono::Duration::days(6)).format("%a %-d %b %Y")
        ),
        definition: DEFINITION,
        focus_block_minutes: input.settings.focus_block_minutes,
        members,
        totals,
        fairness,
        hours_of,
        organizers,
        heatmap,
        trend: Vec::new(),
        notes,
        purposes: super::purposes::screens_purposes(policy)
            .then(|| super::purposes::section(policy, occurrences, (ws, we), tz)),
    }
}
