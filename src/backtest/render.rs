//! A [`Backtest`] in the weekly report's formats and look: Markdown, one
//! self-contained HTML page (the report's style and tables, an SVG chart of
//! the burden by zone before and after), JSON (the struct as is) and CSV
//! (one row per member and policy). Computes nothing; every piece of
//! calendar, policy or log text is escaped by the format that shows it.

use std::fmt::Write;

use super::summary::{Backtest, Outcome};
use crate::report::Format;
use crate::report::csv::field;
use crate::report::markdown::escape as md;
use crate::report::text::{escape, hours};

pub fn render(format: Format, b: &Backtest) -> String {
    match format {
        Format::Md => markdown(b),
        Format::Html => html(b),
        Format::Json => json(b),
        Format::Csv => csv(b),
    }
}

fn period(b: &Backtest) -> String {
    format!(
        "{} to {}",
        b.from.format("%Y-%m-%d %H:%M UTC"),
        b.to.format("%Y-%m-%d %H:%M UTC")
    )
}

/// The sentence that leads every format.
pub fn headline(o: &Outcome) -> String {
    let t = &o.totals;
    let given: u64 = o.people.iter().map(|p| p.minutes_given_back).sum();
    format!(
        "{} invites screened: {} allowed, {} annotated, {} declined; {} h of meetings given back",
        t.screened,
        t.allowed,
        t.annotated,
        t.declined,
        hours(given)
    )
}

fn fairness_line(o: &Outcome) -> String {
    // The report shows evenness (1 − Gini, 0–1) rather than the unbounded
    // 1 − σ/μ index; the JSON carries both.
    format!(
        "burden evenness {:.2} → {:.2} (Gini {:.2} → {:.2})",
        1.0 - o.fairness_before.gini,
        1.0 - o.fairness_after.gini,
        o.fairness_before.gini,
        o.fairness_after.gini
    )
}

fn rules(r: &[String]) -> String {
    if r.is_empty() {
        "-".into()
    } else {
        r.join(", ")
    }
}

/// An action and the rules it stands on: `decline [agenda, working_hours]`,
/// or the bare action when no rule acted.
fn verdict(action: &str, r: &[String]) -> String {
    if r.is_empty() {
        action.to_string()
    } else {
        format!("{action} [{}]", r.join(", "))
    }
}

fn markdown(b: &Backtest) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# Backtest: {}\n", md(&b.team));
    let _ = writeln!(o, "{}; {} invites arrived.\n", period(b), b.invites);
    for out in &b.outcomes {
        let _ = writeln!(o, "## Policy: {}\n", md(&out.label));
        let _ = writeln!(o, "**{}**; {}.\n", headline(out), fairness_line(out));
        let _ = writeln!(o, "### By rule\n");
        let _ = writeln!(o, "| rule | annotated | declined |\n|---|---:|---:|");
        for r in &out.by_rule {
            let _ = writeln!(o, "| {} | {} | {} |", md(&r.rule), r.annotated, r.declined);
        }
        let _ = writeln!(o, "\n### By organizer\n");
        let _ = writeln!(
            o,
            "| organizer | screened | annotated | declined | to fix |\n|---|---:|---:|---:|---|"
        );
        for r in &out.by_organizer {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} |",
                md(&r.organizer),
                r.screened,
                r.annotated,
                r.declined,
                md(&rules(&r.rules))
            );
        }
        let _ = writeln!(o, "\n### Hours given back\n");
        let _ = writeln!(
            o,
            "| member | zone | declined | hours given back |\n|---|---|---:|---:|"
        );
        for p in &out.people {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} |",
                md(&p.member),
                md(&p.zone),
                p.declined,
                hours(p.minutes_given_back)
            );
        }
        let _ = writeln!(o, "\n### After-hours burden by time zone\n");
        let _ = writeln!(
            o,
            "| zone | members | burden before | burden after | outside hours before (h) | after (h) |\n|---|---:|---:|---:|---:|---:|"
        );
        for z in &out.zones {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {} |",
                md(&z.zone),
                z.members,
                z.before,
                z.after,
                hours(z.outside_before),
                hours(z.outside_after)
            );
        }
        let _ = writeln!(o, "\n### Would-be declines\n");
        if out.declines.is_empty() {
            let _ = writeln!(o, "None.");
        }
        for d in &out.declines {
            let start = d.start.map_or(String::new(), |s| {
                s.format(" on %Y-%m-%d %H:%M UTC").to_string()
            });
            let _ = writeln!(
                o,
                "- {} for {}{} from {} [{}]",
                md(&d.title),
                md(&d.member),
                start,
                md(&d.organizer),
                md(&rules(&d.rules))
            );
            for s in &d.suggestions {
                let _ = writeln!(o, "  - fairer: {}", md(s));
            }
        }
        o.push('\n');
    }
    if let Some(diff) = &b.differences {
        let _ = writeln!(o, "## Differences\n");
        if diff.is_empty() {
            let _ = writeln!(o, "The two policies treat every invite alike.\n");
        } else {
            let (a, c) = (&b.outcomes[0].label, &b.outcomes[1].label);
            let _ = writeln!(
                o,
                "| member | invite | organizer | {} | {} |\n|---|---|---|---|---|",
                md(a),
                md(c)
            );
            for d in diff {
                let _ = writeln!(
                    o,
                    "| {} | {} | {} | {} | {} |",
                    md(&d.member),
                    md(&d.title),
                    md(&d.organizer),
                    md(&verdict(&d.current, &d.current_rules)),
                    md(&verdict(&d.candidate, &d.candidate_rules))
                );
            }
            o.push('\n');
        }
    }
    for n in &b.notes {
        let _ = writeln!(o, "> {}", md(n));
    }
    o
}

/// Burden by zone before and after, as grouped horizontal bars.
fn zone_chart(out: &Outcome) -> Result<String, String> {
    if out.zones.is_empty() {
        return Err("no members, so no burden to chart".into());
    }
    let max = out
        .zones
        .iter()
        .map(|z| z.before.max(z.after))
        .max()
        .unwrap_or(0)
        .max(1);
    let (width, label_w, row) = (480u64, 150u64, 44u64);
    let height = 40 + row * out.zones.len() as u64;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\">\n<title>After-hours burden by time zone, before and after</title>\n"
    );
    let _ = writeln!(
        s,
        "<rect x=\"10\" y=\"8\" width=\"14\" height=\"12\" fill=\"#c83c3c\"/><text x=\"30\" y=\"19\" font-size=\"14\" font-family=\"sans-serif\">before</text><rect x=\"100\" y=\"8\" width=\"14\" height=\"12\" fill=\"#4272c4\"/><text x=\"120\" y=\"19\" font-size=\"14\" font-family=\"sans-serif\">after</text>"
    );
    let span = width - label_w - 60;
    for (i, z) in out.zones.iter().enumerate() {
        let y = 32 + row * i as u64;
        let wb = z.before * span / max;
        let wa = z.after * span / max;
        let _ = writeln!(
            s,
            "<text x=\"10\" y=\"{}\" font-size=\"14\" font-family=\"sans-serif\">{}</text>",
            y + 22,
            escape(&z.zone)
        );
        let _ = writeln!(
            s,
            "<rect x=\"{label_w}\" y=\"{y}\" width=\"{wb}\" height=\"16\" fill=\"#c83c3c\"/><text x=\"{}\" y=\"{}\" font-size=\"12\" font-family=\"sans-serif\">{}</text>",
            label_w + wb + 4,
            y + 13,
            z.before
        );
        let _ = writeln!(
            s,
            "<rect x=\"{label_w}\" y=\"{}\" width=\"{wa}\" height=\"16\" fill=\"#4272c4\"/><text x=\"{}\" y=\"{}\" font-size=\"12\" font-family=\"sans-serif\">{}</text>",
            y + 18,
            label_w + wa + 4,
            y + 31,
            z.after
        );
    }
    s.push_str("</svg>\n");
    Ok(s)
}

fn html(b: &Backtest) -> String {
    use crate::report::html::{STYLE, chart, table};
    let mut o = String::new();
    let title = format!("Backtest: {}", b.team);
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        escape(&title),
        escape(&title)
    );
    let _ = writeln!(
        o,
        "<p class=\"note\">{}; {} invites arrived.</p>",
        escape(&period(b)),
        b.invites
    );
    for out in &b.outcomes {
        let _ = writeln!(o, "<h2>Policy: {}</h2>", escape(&out.label));
        let _ = writeln!(
            o,
            "<p class=\"headline\"><strong>{}</strong>; {}.</p>",
            escape(&headline(out)),
            escape(&fairness_line(out))
        );
        chart(
            &mut o,
            zone_chart(out),
            "Weighted after-hours burden by time zone: every meeting the members did not decline themselves (before), without the ones this policy declines (after).",
        );
        let _ = writeln!(o, "<h3>By rule</h3>");
        table(
            &mut o,
            &["rule", "annotated", "declined"],
            out.by_rule.iter().map(|r| {
                vec![
                    r.rule.clone(),
                    r.annotated.to_string(),
                    r.declined.to_string(),
                ]
            }),
        );
        let _ = writeln!(o, "<h3>By organizer</h3>");
        table(
            &mut o,
            &["organizer", "screened", "annotated", "declined", "to fix"],
            out.by_organizer.iter().map(|r| {
                vec![
                    r.organizer.clone(),
                    r.screened.to_string(),
                    r.annotated.to_string(),
                    r.declined.to_string(),
                    rules(&r.rules),
                ]
            }),
        );
        let _ = writeln!(o, "<h3>Hours given back</h3>");
        table(
            &mut o,
            &["member", "zone", "declined", "hours given back"],
            out.people.iter().map(|p| {
                vec![
                    p.member.clone(),
                    p.zone.clone(),
                    p.declined.to_string(),
                    hours(p.minutes_given_back),
                ]
            }),
        );
        let _ = writeln!(o, "<h3>After-hours burden by time zone</h3>");
        table(
            &mut o,
            &[
                "zone",
                "members",
                "burden before",
                "burden after",
                "outside h before",
                "outside h after",
            ],
            out.zones.iter().map(|z| {
                vec![
                    z.zone.clone(),
                    z.members.to_string(),
                    z.before.to_string(),
                    z.after.to_string(),
                    hours(z.outside_before),
                    hours(z.outside_after),
                ]
            }),
        );
        let _ = writeln!(o, "<h2>Would-be declines ({})</h2>", escape(&out.label));
        table(
            &mut o,
            &[
                "invite",
                "member",
                "organizer",
                "starts",
                "rules",
                "fairer times",
            ],
            out.declines.iter().map(|d| {
                vec![
                    d.title.clone(),
                    d.member.clone(),
                    d.organizer.clone(),
                    d.start.map_or(String::new(), |s| {
                        s.format("%Y-%m-%d %H:%M UTC").to_string()
                    }),
                    rules(&d.rules),
                    if d.suggestions.is_empty() {
                        "none offered".to_string()
                    } else {
                        d.suggestions.join(" · ")
                    },
                ]
            }),
        );
    }
    if let Some(diff) = &b.differences {
        let _ = writeln!(o, "<h2>Differences</h2>");
        let (a, c) = (&b.outcomes[0].label, &b.outcomes[1].label);
        table(
            &mut o,
            &["member", "invite", "organizer", a.as_str(), c.as_str()],
            diff.iter().map(|d| {
                vec![
                    d.member.clone(),
                    d.title.clone(),
                    d.organizer.clone(),
                    verdict(&d.current, &d.current_rules),
                    verdict(&d.candidate, &d.candidate_rules),
                ]
            }),
        );
    }
    for n in &b.notes {
        let _ = writeln!(o, "<p class=\"note\">{}</p>", escape(n));
    }
    o.push_str("</body>\n</html>\n");
    o
}

fn json(b: &Backtest) -> String {
    // A struct of strings and numbers always serializes.
    let mut s =
        serde_json::to_string_pretty(b).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    s.push('\n');
    s
}

fn csv(b: &Backtest) -> String {
    let mut o = String::from(
        "team,from,to,policy,member,time_zone,declined,minutes_given_back,policy_screened,policy_allowed,policy_annotated,policy_declined\n",
    );
    for out in &b.outcomes {
        for p in &out.people {
            let row = [
                b.team.clone(),
                b.from.to_rfc3339(),
                b.to.to_rfc3339(),
                out.label.clone(),
                p.member.clone(),
                p.zone.clone(),
                p.declined.to_string(),
                p.minutes_given_back.to_string(),
                out.totals.screened.to_string(),
                out.totals.allowed.to_string(),
                out.totals.annotated.to_string(),
                out.totals.declined.to_string(),
            ];
            let fields: Vec<String> = row.iter().map(|f| field(f)).collect();
            let _ = writeln!(o, "{}", fields.join(","));
        }
    }
    o
}
