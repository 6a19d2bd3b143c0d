//! The team's meeting time as a whole: whose working hours the distinct
//! meetings fall in, and the heat map of people in meetings by hour.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::HoursOf;
use crate::policy::model::Policy;

/// Whose hours: the share of distinct meeting minutes inside each member's
/// working hours, highest first.
pub(super) fn hours_of(
    policy: &Policy,
    distinct: &HashMap<(&str, DateTime<Utc>), (usize, usize)>,
    working_masks: &[Vec<bool>],
    n: usize,
) -> Vec<HoursOf> {
    // Whose hours: distinct meeting minutes inside each member's hours.
    let mut meeting_diff = vec![0i32; n + 1];
    for (fm, tm) in distinct.values() {
        meeting_diff[*fm] += 1;
        meeting_diff[*tm] -= 1;
    }
    let mut per_minute = vec![0u32; n];
    let mut run = 0i32;
    for i in 0..n {
        run += meeting_diff[i];
        per_minute[i] = run.max(0) as u32;
    }
    let distinct_minutes: u64 = per_minute.iter().map(|x| u64::from(*x)).sum();
    let mut hours_of: Vec<HoursOf> = policy
        .members
        .iter()
        .zip(working_masks)
        .map(|(m, mask)| {
            let inside: u64 = per_minute
                .iter()
                .zip(mask)
                .filter(|(_, w)| **w)
                .map(|(x, _)| u64::from(*x))
                .sum();
            HoursOf {
                member: m.email.clone(),
                time_zone: m.tz.name().to_string(),
                share: if distinct_minutes == 0 {
                    0.0
                } else {
                    inside as f64 / distinct_minutes as f64
                },
            }
        })
        .collect();
    hours_of.sort_by(|a, b| {
        b.share
            .total_cmp(&a.share)
            .then_with(|| a.member.cmp(&b.member))
    });
    hours_of
}

/// People in meetings per weekday and hour in the report's zone
/// (`team_minutes`: the local minute of the week of every real minute).
pub(super) fn heatmap(person_diff: &[i32], team_minutes: &[u16], n: usize) -> Vec<[u32; 24]> {
    // Heat map in the report's zone.
    let mut heatmap = vec![[0u32; 24]; 7];
    let mut people_now = 0i32;
    for (i, d) in person_diff.iter().take(n).enumerate() {
        people_now += d;
        if people_now > 0 {
            let mow = team_minutes.get(i).copied().unwrap_or(0) as usize;
            heatmap[(mow / 1440) % 7][(mow % 1440) / 60] += people_now as u32;
        }
    }
    heatmap
}
