//! The report as Markdown, for pasting into a team's documentation and for
//! the chat summary. Renders `WeeklyReport` only: computes nothing, reads
//! nothing. Text from calendars and the log is escaped so a title cannot
//! break a table or inject markup.

use std::fmt::Write;

use super::stats::WeeklyReport;
use super::text::{hours, percent};

/// Escape text for a Markdown table cell or a line: characters Markdown
/// gives meaning to are backslash-escaped, and `<`/`>`/`&` become entities
/// so a renderer that allows HTML shows them as text.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let chars: Vec<char> = s.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        // An underscore inside a word (`America/New_York`) never starts
        // emphasis in CommonMark, so it is left as typed: an escape there
        // shows literally in renderers that do not take it.
        let in_word = |j: Option<usize>| {
            j.and_then(|j| chars.get(j))
                .is_some_and(|n| n.is_alphanumeric())
        };
        if c == '_' && in_word(i.checked_sub(1)) && in_word(Some(i + 1)) {
            out.push(c);
            continue;
        }
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' | '\r' => out.push(' '),
            '\\' | '|' | '*' | '_' | '`' | '[' | ']' | '#' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

pub fn render(r: &WeeklyReport) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "# Meeting load: {} — {}\n",
        escape(&r.team),
        escape(&r.week)
    );
    let _ = writeln!(o, "{} ({}).\n", escape(&r.dates), escape(&r.time_zone));
    let (lead, rest) = super::text::headline(r);
    let _ = writeln!(o, "**{lead}**{rest}\n");

    let _ = writeln!(o, "## People\n");
    let _ = writeln!(
        o,
        "| member | zone | meetings | hours | {} | focus h | outside hours | meeting-free days | screened | annotated | declined | given back h | {} |",
        super::text::IN_HOURS_SHARE,
        super::text::BURDEN,
    );
    let _ = writeln!(o, "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
    for m in &r.members {
        if !m.has_calendar {
            let _ = writeln!(
                o,
                "| {} | {} | no calendar | | | | | | {} | {} | {} | | |",
                escape(&m.email),
                escape(&m.time_zone),
                m.screened,
                m.annotated,
                m.declined
            );
            continue;
        }
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} ({} h) | {} ({} h) | {} | {} | {} | {} | {} |",
            escape(&m.email),
            escape(&m.time_zone),
            m.meetings,
            hours(u64::from(m.meeting_minutes)),
            percent(m.share_of_working_hours),
            hours(u64::from(m.focus_minutes)),
            m.outside_hours.count,
            hours(u64::from(m.outside_hours.minutes)),
            m.meeting_free_days.count,
            hours(u64::from(m.meeting_free_days.minutes)),
            m.screened,
            m.annotated,
            m.declined,
            hours(u64::from(m.given_back.minutes)),
            m.burden,
        );
    }
    let notable: Vec<_> = r
        .members
        .iter()
        .flat_map(|m| m.notable.iter().map(move |n| (m, n)))
        .collect();
    if !notable.is_empty() {
        let _ = writeln!(o, "\nOutside working hours or on meeting-free days:\n");
        for (m, n) in notable {
            let _ = writeln!(
                o,
                "- {}: {} at {} local, {} min ({})",
                escape(&m.email),
                escape(&n.title),
                n.local_start,
                n.minutes,
                n.why.replace(',', ", ").replace('_', " ")
            );
        }
    }

    let f = &r.fairness;
    let _ = writeln!(o, "\n## Fairness across time zones\n");
    let _ = writeln!(o, "{}\n", escape(&super::text::fairness_sentence(r)));
    if !f.by_zone.is_empty() {
        let _ = writeln!(
            o,
            "| time zone | members | {} | mean per member |",
            super::text::BURDEN
        );
        let _ = writeln!(o, "|---|--:|--:|--:|");
        for z in &f.by_zone {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {:.0} |",
                escape(&z.time_zone),
                z.members,
                z.burden,
                z.mean
            );
        }
    }
    let _ = writeln!(o, "\nWhose working hours the team's meetings fall in:\n");
    let _ = writeln!(
        o,
        "| member | zone | share of meeting time in their hours |"
    );
    let _ = writeln!(o, "|---|---|--:|");
    for h in r.hours_of.iter().take(20) {
        let _ = writeln!(
            o,
            "| {} | {} | {} |",
            escape(&h.member),
            escape(&h.time_zone),
            percent(h.share)
        );
    }
    if r.hours_of.len() > 20 {
        let _ = writeln!(
            o,
            "\n({} more members in the JSON report.)",
            r.hours_of.len() - 20
        );
    }

    let _ = writeln!(o, "\n## Invites that fell short\n");
    if r.organizers.is_empty() {
        let _ = writeln!(o, "No invite was annotated or declined this week.");
    } else {
        let _ = writeln!(
            o,
            "| organizer | annotated | declined | only logged (observe mode) | rules |"
        );
        let _ = writeln!(o, "|---|--:|--:|--:|---|");
        for g in &r.organizers {
            let rules: Vec<String> = g
                .rules
                .iter()
                .map(|c| format!("{} ×{}", escape(&c.rule), c.count))
                .collect();
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} |",
                escape(&g.organizer),
                g.annotated,
                g.declined,
                g.observed,
                rules.join(", ")
            );
        }
    }

    if let Some(p) = &r.purposes {
        purposes(&mut o, p);
    }

    let _ = writeln!(o, "\n## Trend\n");
    let _ = writeln!(
        o,
        "| week | meetings | hours | {} | focus h | declined | given back h | evenness |",
        super::text::IN_HOURS_SHARE
    );
    let _ = writeln!(o, "|---|--:|--:|--:|--:|--:|--:|--:|");
    for p in &r.trend {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} | {:.2} |",
            escape(&p.week),
            p.meetings,
            hours(p.meeting_minutes),
            percent(p.mean_share_of_working_hours),
            hours(p.focus_minutes),
            p.declined,
            hours(u64::from(p.given_back_minutes)),
            p.evenness
        );
    }

    let _ = writeln!(o, "\n## What counts\n");
    let _ = writeln!(o, "{}", r.definition);
    if !r.notes.is_empty() {
        let _ = writeln!(o, "\n## Notes\n");
    }
    for n in &r.notes {
        let _ = writeln!(o, "- {}", escape(n));
    }
    o
}

fn purposes(o: &mut String, p: &super::stats::PurposeSection) {
    let _ = writeln!(o, "\n## Meeting purposes\n");
    let _ = writeln!(o, "{}\n", escape(&super::text::purpose_sentence(p)));
    let _ = writeln!(o, "| purpose | meetings | hours |");
    let _ = writeln!(o, "|---|--:|--:|");
    for t in &p.by_purpose {
        let _ = writeln!(
            o,
            "| {} | {} | {} |",
            escape(&t.purpose),
            t.meetings,
            hours(t.minutes)
        );
    }
    if !p.decisions.is_empty() {
        let _ = writeln!(o, "\nDecision meetings:\n");
        for d in &p.decisions {
            let record = match (&d.record, d.has_record) {
                (Some(link), _) => format!("record: {}", escape(link)),
                (None, true) => "has a record".to_string(),
                (None, false) => "**no record**".to_string(),
            };
            let _ = writeln!(
                o,
                "- {} ({}, {}): {record}",
                escape(&d.title),
                escape(d.organizer.as_deref().unwrap_or("no organizer")),
                d.local_start
            );
        }
        if p.decisions_total as usize > p.decisions.len() {
            let _ = writeln!(
                o,
                "\n({} more in the JSON report.)",
                p.decisions_total as usize - p.decisions.len()
            );
        }
    }
}

/// Escape text for Slack's mrkdwn, which has no backslash escapes (a `\\_`
/// shows as typed): only `&`, `<` and `>` are special, and Slack asks for
/// exactly these entities. Line breaks become spaces.
pub fn escape_slack(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The short summary posted to chat (Slack mrkdwn): the headline and the
/// people with the most meeting time.
pub fn summary(r: &WeeklyReport) -> String {
    let (lead, rest) = super::text::headline(r);
    let mut o = format!(
        "*Meeting load: {} — {}*\n*{}*{} Burden evenness {:.2} (1 = shared evenly).\n",
        escape_slack(&r.team),
        escape_slack(&r.week),
        escape_slack(&lead),
        escape_slack(&rest),
        r.fairness.evenness,
    );
    if let Some(p) = &r.purposes {
        let _ = writeln!(o, "{}", escape_slack(&super::text::purpose_sentence(p)));
    }
    let mut busiest: Vec<_> = r.members.iter().filter(|m| m.has_calendar).collect();
    busiest.sort_by(|a, b| {
        b.meeting_minutes
            .cmp(&a.meeting_minutes)
            .then_with(|| a.email.cmp(&b.email))
    });
    for m in busiest.iter().take(5) {
        let _ = writeln!(
            o,
            "- {} ({}): {} h in meetings (in-hours meetings: {} of working time), {} h focus",
            escape_slack(&m.email),
            escape_slack(&m.time_zone),
            hours(u64::from(m.meeting_minutes)),
            percent(m.share_of_working_hours),
            hours(u64::from(m.focus_minutes))
        );
    }
    o
}
