//! Writing a member's response into their copy of an event, the way a
//! calendar client answers an invitation, changing as few bytes as possible.
//!
//! This module owns the in-place edit of one VEVENT: the attendee's PARTSTAT
//! parameter, gatekeeper's own COMMENT (`COMMENT;X-GATEKEEPER=TRUE`) and the
//! `X-GATEKEEPER-PARTSTAT` marker. Every other byte of the text stays as it
//! was: other events and lines, their folding, line endings, unknown
//! properties and trailing text. It must not re-serialize the calendar, read
//! or write files, or read the clock.

use std::ops::Range;

use super::ical::{self, Comp, Document, Prop, RawLine};
use super::{EventTime, PartStat};

/// What to write, and where.
#[derive(Debug, Clone)]
pub struct ResponseEdit<'a> {
    /// The UID of the series or event.
    pub uid: &'a str,
    /// `None` edits the VEVENT without RECURRENCE-ID (the master or a single
    /// event); `Some` edits the override with that RECURRENCE-ID (compared as
    /// times, not as text).
    pub recurrence_id: Option<EventTime>,
    /// The attendee's address; compared without `mailto:` and ignoring case.
    pub attendee: &'a str,
    pub partstat: PartStat,
    /// Gatekeeper's comment; `None` removes an existing one.
    pub comment: Option<&'a str>,
    /// The `X-GATEKEEPER-PARTSTAT` marker; `None` removes an existing one.
    pub marker: Option<PartStat>,
    /// The acting rules the answer stands on, written as the marker's
    /// `X-GATEKEEPER-RULES` parameter (none: no parameter).
    pub marker_rules: &'a [String],
}

#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum EditError {
    #[error("cannot edit: {0}")]
    Ics(#[from] ical::IcsError),
    #[error("no VEVENT with UID {uid:?} and {}", describe(.recurrence_id))]
    EventNotFound {
        uid: String,
        recurrence_id: Option<String>,
    },
    #[error("{count} VEVENTs with UID {uid:?} and {}; refusing to guess", describe(.recurrence_id))]
    AmbiguousEvent {
        uid: String,
        recurrence_id: Option<String>,
        count: usize,
    },
    #[error("VEVENT {uid:?} has no ATTENDEE {attendee:?}")]
    AttendeeNotFound { uid: String, attendee: String },
}

fn describe(recurrence_id: &Option<String>) -> String {
    match recurrence_id {
        Some(r) => format!("RECURRENCE-ID {r}"),
        None => "no RECURRENCE-ID".to_string(),
    }
}

/// The gatekeeper marker property.
const MARKER: &str = "X-GATEKEEPER-PARTSTAT";

/// Set the attendee's response in the VEVENT named by `edit` and return the
/// new text. See [`ResponseEdit`] for what each field does.
pub fn set_response(ics: &str, edit: &ResponseEdit) -> Result<String, EditError> {
    let doc = ical::document(ics.as_bytes())?;
    let zones = doc.vtimezones();
    let rid_text = edit.recurrence_id.map(|r| r.to_display_string());

    let candidates: Vec<&Comp> = doc
        .vevents()
        .filter(|ev| {
            doc.first(ev, "UID")
                .is_some_and(|p| p.value.trim() == edit.uid)
        })
        .filter(|ev| {
            let rid = doc
                .first(ev, "RECURRENCE-ID")
                .map(|p| ical::parse_time_prop(p, &zones));
            match (rid, &edit.recurrence_id) {
                (None, None) => true,
                (Some(Ok(found)), Some(wanted)) => same_time(&found, wanted),
                _ => false,
            }
        })
        .collect();
    let vevent = match candidates.as_slice() {
        [one] => *one,
        [] => {
            return Err(EditError::EventNotFound {
                uid: edit.uid.to_string(),
                recurrence_id: rid_text,
            });
        }
        many => {
            return Err(EditError::AmbiguousEvent {
                uid: edit.uid.to_string(),
                recurrence_id: rid_text,
                count: many.len(),
            });
        }
    };

    let eol = if ics.contains("\r\n") { "\r\n" } else { "\n" };
    let wanted = ical::address(edit.attendee);
    let mut changes: Vec<(Range<usize>, String)> = Vec::new();

    // The attendee line(s): only the VEVENT's own properties, not an email
    // VALARM's ATTENDEE.
    let mut found = false;
    for &index in &vevent.props {
        let Some(prop) = doc.prop(index) else {
            continue;
        };
        if prop.name == "ATTENDEE" && ical::address(&prop.value) == wanted {
            found = true;
            let current: Vec<&String> = prop
                .params
                .iter()
                .filter(|p| p.key == "PARTSTAT")
                .flat_map(|p| &p.values)
                .collect();
            if let [only] = current.as_slice()
                && only.eq_ignore_ascii_case(edit.partstat.as_ical())
            {
                // Already the answer: keep the line and its folding as they are.
                continue;
            }
            let line = &doc.lines[index];
            changes.push((
                line.range.clone(),
                finish_line(&attendee_line(line, prop, &edit.partstat), line, eol),
            ));
        }
    }
    if !found {
        return Err(EditError::AttendeeNotFound {
            uid: edit.uid.to_string(),
            attendee: edit.attendee.to_string(),
        });
    }

    let insert_at = vevent
        .children
        .iter()
        .map(|c| c.begin)
        .min()
        .map_or(doc.lines[vevent.end].range.start, |i| {
            doc.lines[i].range.start
        });

    let comment_line = edit
        .comment
        .map(|c| format!("COMMENT;X-GATEKEEPER=TRUE:{}", ical::escape_text(c)));
    let comment_lines = own_lines(&doc, vevent, |p| {
        p.name == "COMMENT"
            && p.params.iter().any(|q| {
                q.key == "X-GATEKEEPER" && q.values.iter().any(|v| v.eq_ignore_ascii_case("TRUE"))
            })
    });
    replace_or_insert(
        &mut changes,
        &doc.lines,
        &comment_lines,
        comment_line,
        insert_at,
        eol,
    );

    let marker_line = edit
        .marker
        .as_ref()
        .map(|m| match rules_param(edit.marker_rules) {
            rules if rules.is_empty() => format!("{MARKER}:{}", m.as_ical()),
            rules => format!("{MARKER};X-GATEKEEPER-RULES={rules}:{}", m.as_ical()),
        });
    let marker_lines = own_lines(&doc, vevent, |p| p.name == MARKER);
    replace_or_insert(
        &mut changes,
        &doc.lines,
        &marker_lines,
        marker_line,
        insert_at,
        eol,
    );

    // Apply from the end so earlier ranges stay valid. Insertions share one
    // position; a stable sort keeps them in the order they were added.
    changes.sort_by_key(|(range, _)| (range.start, range.end));
    let mut out = String::with_capacity(ics.len() + 256);
    let mut pos = 0;
    for (range, text) in changes {
        out.push_str(&ics[pos..range.start]);
        out.push_str(&text);
        pos = range.end;
    }
    out.push_str(&ics[pos..]);
    Ok(out)
}

/// Rule names as one parameter value list. Rule names are snake_case words;
/// anything else is dropped rather than risk breaking the line.
fn rules_param(rules: &[String]) -> String {
    rules
        .iter()
        .filter(|r| {
            !r.is_empty()
                && r.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        })
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(",")
}

/// Indices of the VEVENT's own property lines that satisfy `pred`.
fn own_lines(doc: &Document, vevent: &Comp, pred: impl Fn(&Prop) -> bool) -> Vec<usize> {
    vevent
        .props
        .iter()
        .copied()
        .filter(|i| doc.prop(*i).is_some_and(&pred))
        .collect()
}

/// Replace the first of `existing` by `new` (or remove it), remove the
/// others, and insert `new` at `insert_at` when there was none.
fn replace_or_insert(
    changes: &mut Vec<(Range<usize>, String)>,
    lines: &[RawLine],
    existing: &[usize],
    new: Option<String>,
    insert_at: usize,
    eol: &str,
) {
    let mut new = new;
    for &index in existing {
        let line = &lines[index];
        let text = new
            .take()
            .map(|n| finish_line(&n, line, eol))
            .unwrap_or_default();
        changes.push((line.range.clone(), text));
    }
    if let Some(n) = new {
        changes.push((insert_at..insert_at, format!("{}{eol}", fold(&n, eol))));
    }
}

/// A rewritten line, folded, with a line break when the original had one.
fn finish_line(text: &str, original: &RawLine, eol: &str) -> String {
    let mut s = fold(text, eol);
    if original.has_eol {
        s.push_str(eol);
    }
    s
}

/// The ATTENDEE line with PARTSTAT set: every other parameter is copied as
/// written (quotes included), a PARTSTAT parameter is replaced in place or
/// appended at the end of the parameters.
fn attendee_line(line: &RawLine, prop: &Prop, partstat: &PartStat) -> String {
    let text = &line.text;
    let mut out = text[prop.name_raw.clone()].to_string();
    let mut replaced = false;
    for param in &prop.params {
        out.push(';');
        if param.key == "PARTSTAT" {
            if replaced {
                // A duplicate PARTSTAT would contradict the new one.
                out.pop();
                continue;
            }
            out.push_str("PARTSTAT=");
            out.push_str(partstat.as_ical());
            replaced = true;
        } else {
            out.push_str(&text[param.raw.clone()]);
        }
    }
    if !replaced {
        out.push_str(";PARTSTAT=");
        out.push_str(partstat.as_ical());
    }
    out.push(':');
    out.push_str(&text[prop.value_start..]);
    out
}

/// Fold a content line at 75 octets without splitting a UTF-8 character;
/// continuation lines start with one space (RFC 5545 §3.1).
fn fold(line: &str, eol: &str) -> String {
    const LIMIT: usize = 75;
    let mut out = String::with_capacity(line.len() + line.len() / 70 * 3);
    let mut used = 0;
    for c in line.chars() {
        let width = c.len_utf8();
        if used + width > LIMIT {
            out.push_str(eol);
            out.push(' ');
            used = 1;
        }
        out.push(c);
        used += width;
    }
    out
}

/// Two RECURRENCE-ID values name the same instance: equal instants, equal
/// wall-clock times for floating values, equal dates when either is a date.
fn same_time(a: &EventTime, b: &EventTime) -> bool {
    use EventTime as T;
    let wall = |t: &EventTime| match t {
        T::Utc(u) => u.naive_utc(),
        T::Zoned(z) => z.naive_local(),
        T::Floating(n) => *n,
        T::Date(d) => d.and_time(chrono::NaiveTime::MIN),
    };
    match (a, b) {
        (T::Date(_), _) | (_, T::Date(_)) => wall(a).date() == wall(b).date(),
        (T::Floating(_), _) | (_, T::Floating(_)) => wall(a) == wall(b),
        _ => a.to_utc(chrono_tz::UTC) == b.to_utc(chrono_tz::UTC),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::ical::parse_ics;
    use chrono::TimeZone;

    /// Physical lines removed (`-`) and added (`+`), line breaks included,
    /// from a longest-common-subsequence line diff.
    fn diff(a: &str, b: &str) -> Vec<String> {
        let a: Vec<&str> = a.split_inclusive('\n').collect();
        let b: Vec<&str> = b.split_inclusive('\n').collect();
        let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
        for i in (0..a.len()).rev() {
            for j in (0..b.len()).rev() {
                lcs[i][j] = if a[i] == b[j] {
                    lcs[i + 1][j + 1] + 1
                } else {
                    lcs[i + 1][j].max(lcs[i][j + 1])
                };
            }
        }
        let (mut i, mut j, mut out) = (0, 0, Vec::new());
        while i < a.len() || j < b.len() {
            if i < a.len() && j < b.len() && a[i] == b[j] {
                i += 1;
                j += 1;
            } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
                out.push(format!("-{}", a[i]));
                i += 1;
            } else {
                out.push(format!("+{}", b[j]));
                j += 1;
            }
        }
        out
    }

    const CAL: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:u1\r\nDTSTART:20260302T090000Z\r\nSUMMARY:Series\r\nRRULE:FREQ=DAILY;COUNT=3\r\nATTENDEE;CN=\"Doe, Jane\";ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:Jane@Example.com\r\nATTENDEE;CN=Bob:mailto:bob@example.com\r\nX-UNKNOWN;X-P=\"a:b\":keep me\r\nBEGIN:VALARM\r\nACTION:EMAIL\r\nATTENDEE:mailto:jane@example.com\r\nTRIGGER:-PT5M\r\nEND:VALARM\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:u1\r\nRECURRENCE-ID:20260303T090000Z\r\nDTSTART:20260303T100000Z\r\nSUMMARY:Moved\r\nATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:jane@example.com\r\nEND:VEVENT\r\nEND:VCALENDAR\r\ntrailing bytes";

    fn edit<'a>(
        recurrence_id: Option<EventTime>,
        attendee: &'a str,
        partstat: PartStat,
    ) -> ResponseEdit<'a> {
        ResponseEdit {
            uid: "u1",
            recurrence_id,
            attendee,
            partstat,
            comment: None,
            marker: None,
            marker_rules: &[],
        }
    }

    /// Apply an edit and compare the line diff.
    fn check(input: &str, e: &ResponseEdit, expect: &[&str]) -> String {
        let out = set_response(input, e).expect("edit applies");
        assert_eq!(diff(input, &out), expect);
        out
    }

    #[test]
    fn partstat_replaced_keeping_other_params_and_quotes() {
        let out = check(
            CAL,
            &edit(None, "MAILTO:JANE@example.com", PartStat::Accepted),
            &[
                "-ATTENDEE;CN=\"Doe, Jane\";ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:Jane@Example.com\r\n",
                "+ATTENDEE;CN=\"Doe, Jane\";ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;RSVP=TRUE:ma\r\n",
                "+ ilto:Jane@Example.com\r\n",
            ],
        );
        let before = parse_ics(CAL).expect("parses");
        let after = parse_ics(&out).expect("parses");
        let mut expected = before.events.clone();
        expected[0].attendees[0].partstat = PartStat::Accepted;
        assert_eq!(after.events, expected, "only the partstat changed");
    }

    #[test]
    fn partstat_appended_when_missing() {
        check(
            CAL,
            &edit(None, "bob@example.com", PartStat::Declined),
            &[
                "-ATTENDEE;CN=Bob:mailto:bob@example.com\r\n",
                "+ATTENDEE;CN=Bob;PARTSTAT=DECLINED:mailto:bob@example.com\r\n",
            ],
        );
    }

    #[test]
    fn override_edited_without_touching_the_master() {
        let rid = Some(EventTime::Zoned(
            chrono_tz::Europe::Berlin
                .with_ymd_and_hms(2026, 3, 3, 10, 0, 0)
                .single()
                .expect("valid"),
        ));
        let out = check(
            CAL,
            &edit(rid, "jane@example.com", PartStat::Tentative),
            &[
                "-ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:jane@example.com\r\n",
                "+ATTENDEE;PARTSTAT=TENTATIVE:mailto:jane@example.com\r\n",
            ],
        );
        let after = parse_ics(&out).expect("parses");
        assert_eq!(after.events[0], parse_ics(CAL).expect("parses").events[0]);
        assert_eq!(after.events[1].attendees[0].partstat, PartStat::Tentative);
    }

    #[test]
    fn the_marker_carries_the_rules_the_answer_stands_on() {
        let rules = vec![
            "agenda".to_string(),
            "working_hours".to_string(),
            // Not a rule name: dropped rather than break the line.
            "bad,name:x".to_string(),
        ];
        let mut e = edit(None, "jane@example.com", PartStat::Declined);
        e.marker = Some(PartStat::Declined);
        e.marker_rules = &rules;
        let out = set_response(CAL, &e).expect("edit applies");
        assert!(
            out.contains(
                "X-GATEKEEPER-PARTSTAT;X-GATEKEEPER-RULES=agenda,working_hours:DECLINED\r\n"
            ),
            "{out}"
        );
        let event = &parse_ics(&out).expect("parses").events[0];
        assert_eq!(event.gatekeeper_partstat, Some(PartStat::Declined));
        assert_eq!(
            event.gatekeeper_rules,
            Some(vec!["agenda".to_string(), "working_hours".to_string()])
        );
        // A marker written without rules (an older gatekeeper) says nothing
        // about them.
        e.marker_rules = &[];
        let plain = set_response(CAL, &e).expect("edit applies");
        assert_eq!(
            parse_ics(&plain).expect("parses").events[0].gatekeeper_rules,
            None
        );
    }

    #[test]
    fn comment_and_marker_add_replace_remove() {
        let mut e = edit(None, "jane@example.com", PartStat::Declined);
        e.comment = Some("Busy; focus time, sorry\nnext week?");
        e.marker = Some(PartStat::Declined);
        let added = check(
            CAL,
            &e,
            &[
                "-ATTENDEE;CN=\"Doe, Jane\";ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:Jane@Example.com\r\n",
                "+ATTENDEE;CN=\"Doe, Jane\";ROLE=REQ-PARTICIPANT;PARTSTAT=DECLINED;RSVP=TRUE:ma\r\n",
                "+ ilto:Jane@Example.com\r\n",
                "+COMMENT;X-GATEKEEPER=TRUE:Busy\\; focus time\\, sorry\\nnext week?\r\n",
                "+X-GATEKEEPER-PARTSTAT:DECLINED\r\n",
            ],
        );
        // New lines go before the VALARM, inside the master.
        assert!(added.contains("X-GATEKEEPER-PARTSTAT:DECLINED\r\nBEGIN:VALARM"));
        assert_eq!(
            parse_ics(&added).expect("parses").events[0].gatekeeper_partstat,
            Some(PartStat::Declined)
        );

        e.comment = Some("Replaced");
        e.marker = Some(PartStat::Accepted);
        e.partstat = PartStat::Accepted;
        check(
            &added,
            &e,
            &[
                "-ATTENDEE;CN=\"Doe, Jane\";ROLE=REQ-PARTICIPANT;PARTSTAT=DECLINED;RSVP=TRUE:ma\r\n",
                "+ATTENDEE;CN=\"Doe, Jane\";ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;RSVP=TRUE:ma\r\n",
                "-COMMENT;X-GATEKEEPER=TRUE:Busy\\; focus time\\, sorry\\nnext week?\r\n",
                "-X-GATEKEEPER-PARTSTAT:DECLINED\r\n",
                "+COMMENT;X-GATEKEEPER=TRUE:Replaced\r\n",
                "+X-GATEKEEPER-PARTSTAT:ACCEPTED\r\n",
            ],
        );

        e.comment = None;
        e.marker = None;
        e.partstat = PartStat::NeedsAction;
        // Removing comment and marker restores the original bytes except for
        // the refolded attendee line.
        let removed = set_response(&added, &e).expect("edit applies");
        assert_eq!(
            diff(CAL, &removed),
            [
                "-ATTENDEE;CN=\"Doe, Jane\";ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:Jane@Example.com\r\n",
                "+ATTENDEE;CN=\"Doe, Jane\";ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRU\r\n",
                "+ E:mailto:Jane@Example.com\r\n",
            ]
        );
        assert_eq!(
            parse_ics(&removed).expect("parses"),
            parse_ics(CAL).expect("parses")
        );
    }

    #[test]
    fn unchanged_response_leaves_the_bytes_alone() {
        let e = edit(None, "jane@example.com", PartStat::NeedsAction);
        assert_eq!(set_response(CAL, &e).expect("edit applies"), CAL);
    }

    #[test]
    fn long_comment_is_folded_without_splitting_characters() {
        let lf = CAL.replace("\r\n", "\n");
        let mut e = edit(None, "bob@example.com", PartStat::Accepted);
        let comment = "Ünïcödé ".repeat(12);
        e.comment = Some(&comment);
        let out = set_response(&lf, &e).expect("edit applies");
        assert!(!out.contains('\r'), "LF file stays LF");
        let added: Vec<String> = diff(&lf, &out)
            .into_iter()
            .filter(|l| l.starts_with('+'))
            .collect();
        for line in &added {
            // One for the `+` of the diff and one for the line break.
            assert!(line.len() <= 77, "{line:?} is {} octets", line.len() - 2);
        }
        assert!(
            added.iter().filter(|l| l.starts_with("+ ")).count() >= 2,
            "{added:?}"
        );
        let doc = ical::document(out.as_bytes()).expect("parses");
        let comment_text = doc
            .lines
            .iter()
            .find(|l| l.text.starts_with("COMMENT"))
            .map(|l| l.text.clone());
        assert_eq!(
            comment_text,
            Some(format!("COMMENT;X-GATEKEEPER=TRUE:{comment}"))
        );
    }

    #[test]
    fn errors() {
        let e = ResponseEdit {
            uid: "nope",
            ..edit(None, "jane@example.com", PartStat::Accepted)
        };
        assert!(matches!(
            set_response(CAL, &e),
            Err(EditError::EventNotFound { .. })
        ));
        let e = edit(
            Some(EventTime::Utc(
                chrono::Utc
                    .with_ymd_and_hms(2026, 3, 4, 9, 0, 0)
                    .single()
                    .expect("valid"),
            )),
            "jane@example.com",
            PartStat::Accepted,
        );
        assert!(matches!(
            set_response(CAL, &e),
            Err(EditError::EventNotFound { .. })
        ));
        let e = edit(None, "carol@example.com", PartStat::Accepted);
        assert_eq!(
            set_response(CAL, &e)
                .expect_err("no such attendee")
                .to_string(),
            "VEVENT \"u1\" has no ATTENDEE \"carol@example.com\""
        );
        assert!(matches!(set_response("hello", &e), Err(EditError::Ics(_))));
    }
}
