//! Parsing of one iCalendar (.ics) text into domain [`Event`]s.
//!
//! This module owns the content-line grammar (unfolding, parameters with
//! quoted values, TEXT escapes), the component structure, and the mapping of
//! VEVENT properties to the domain model. The lexer keeps the raw byte range
//! of every logical line so that `edit` can rewrite single lines and leave
//! every other byte of a file as it was; that is why it does not use the
//! `icalendar` crate's parser, which discards positions.
//!
//! It must not read files, talk to a network or read the clock, and it must
//! not expand recurrences (that is `recurrence`). A VEVENT that cannot be
//! mapped is reported in [`ParsedCalendar::problems`] and skipped; only a text
//! that is not an iCalendar object at all fails as a whole.

use std::collections::HashMap;
use std::ops::Range;

use chrono::{DateTime, Days, NaiveDate, NaiveDateTime, TimeDelta, Utc};
use chrono_tz::Tz;

use super::tz::{self, VTimezoneInfo};
use super::{Attendee, Event, EventTime, PartStat, Recurrence, Role, Status, local_to_utc};

/// The events of one iCalendar text and what could not be mapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedCalendar {
    /// Every VEVENT that could be mapped, in file order (masters and
    /// overrides alike).
    pub events: Vec<Event>,
    /// One human-readable line per skipped VEVENT or ignored line, with the
    /// line number and the UID/SUMMARY when known.
    pub problems: Vec<String>,
    /// The calendar's `X-WR-TIMEZONE` (Google and Apple exports), when it
    /// names a known zone. Floating times are NOT converted with it: RFC 5545
    /// says a floating time stays floating, so events keep
    /// [`EventTime::Floating`] and a caller that wants the exporter's view can
    /// pass this zone as the reader zone.
    pub default_tz: Option<Tz>,
}

/// A text that is not a usable iCalendar object as a whole.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum IcsError {
    #[error("not an iCalendar file: line {line} is {found:?}, expected BEGIN:VCALENDAR")]
    NotICalendar { line: usize, found: String },
    #[error("not an iCalendar file: it contains no BEGIN:VCALENDAR")]
    Empty,
    #[error(
        "line {line}: END:{found} closes a component that is not open (expected END:{expected})"
    )]
    MismatchedEnd {
        line: usize,
        expected: String,
        found: String,
    },
    #[error("line {line}: BEGIN:{component} is never closed (file truncated?)")]
    Unterminated { line: usize, component: String },
}

/// Parse an iCalendar text. See the module documentation for what is
/// tolerated and how problems are reported.
pub fn parse_ics(text: &str) -> Result<ParsedCalendar, IcsError> {
    parse_lines(lex(text.as_bytes()))
}

/// Parse iCalendar bytes. Unlike [`parse_ics`] this also accepts files whose
/// folding splits a multi-byte UTF-8 character across two physical lines
/// (such bytes are not valid UTF-8 until unfolded); invalid UTF-8 that
/// remains after unfolding is replaced by U+FFFD.
pub fn parse_ics_bytes(bytes: &[u8]) -> Result<ParsedCalendar, IcsError> {
    parse_lines(lex(bytes))
}

// ---------------------------------------------------------------------------
// Content-line lexer, shared with `edit`.

/// One logical (unfolded) content line.
#[derive(Debug, Clone)]
pub(crate) struct RawLine {
    /// Byte range in the source of all its physical lines, including the
    /// final line break when there is one.
    pub range: Range<usize>,
    /// Whether `range` ends with a line break.
    pub has_eol: bool,
    /// 1-based number of its first physical line.
    pub line_no: usize,
    /// The unfolded text.
    pub text: String,
}

/// Split the source into logical lines. A physical line that starts with a
/// space or a tab continues the previous one (RFC 5545 §3.1); folds are
/// removed on bytes before decoding so a fold inside a UTF-8 sequence heals.
pub(crate) fn lex(src: &[u8]) -> Vec<RawLine> {
    let start = if src.starts_with(&[0xEF, 0xBB, 0xBF]) {
        3
    } else {
        0
    };
    let mut out = Vec::new();
    // The logical line being built: start offset, first line number, bytes.
    let mut current: Option<(usize, usize, Vec<u8>)> = None;
    let mut last_end = (start, false);
    let mut pos = start;
    let mut line_no = 0;
    let flush = |current: &mut Option<(usize, usize, Vec<u8>)>,
                 out: &mut Vec<RawLine>,
                 end: (usize, bool)| {
        if let Some((begin, no, bytes)) = current.take() {
            out.push(RawLine {
                range: begin..end.0,
                has_eol: end.1,
                line_no: no,
                text: String::from_utf8_lossy(&bytes).into_owned(),
            });
        }
    };
    while pos < src.len() {
        line_no += 1;
        let (content_end, next, has_eol) = match src[pos..].iter().position(|b| *b == b'\n') {
            Some(i) => {
                let nl = pos + i;
                let content_end = if nl > pos && src[nl - 1] == b'\r' {
                    nl - 1
                } else {
                    nl
                };
                (content_end, nl + 1, true)
            }
            None => (src.len(), src.len(), false),
        };
        let content = &src[pos..content_end];
        match content.first() {
            Some(b' ' | b'\t') if current.is_some() => {
                if let Some((_, _, bytes)) = current.as_mut() {
                    bytes.extend_from_slice(&content[1..]);
                }
            }
            None => {
                // A blank line is not allowed by the RFC but some exporters
                // write one; it ends the current logical line.
                flush(&mut current, &mut out, last_end);
            }
            _ => {
                flush(&mut current, &mut out, last_end);
                current = Some((pos, line_no, content.to_vec()));
            }
        }
        last_end = (next, has_eol);
        pos = next;
    }
    flush(&mut current, &mut out, last_end);
    out
}

/// One parameter of a content line.
#[derive(Debug, Clone)]
pub(crate) struct Param {
    /// Upper-cased name.
    pub key: String,
    /// Values with surrounding quotes removed.
    pub values: Vec<String>,
    /// Byte range of `KEY=value,...` in the unfolded line text, quotes kept.
    pub raw: Range<usize>,
}

/// A content line split into name, parameters and value.
#[derive(Debug, Clone)]
pub(crate) struct Prop {
    /// Upper-cased name.
    pub name: String,
    /// Byte range of the name as written.
    pub name_raw: Range<usize>,
    pub params: Vec<Param>,
    /// Byte offset of the first value byte (after the `:`).
    pub value_start: usize,
    pub value: String,
}

impl Prop {
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|p| p.key == key)
            .and_then(|p| p.values.first())
            .map(String::as_str)
    }
}

/// Split one unfolded line. `None` when it has no `:` outside quotes or no
/// name, i.e. it is not a content line.
pub(crate) fn parse_prop(line: &str) -> Option<Prop> {
    let bytes = line.as_bytes();
    let name_end = bytes.iter().position(|b| *b == b';' || *b == b':')?;
    if name_end == 0 {
        return None;
    }
    let name = line[..name_end].trim().to_ascii_uppercase();
    let mut params = Vec::new();
    let mut i = name_end;
    while bytes.get(i) == Some(&b';') {
        let key_start = i + 1;
        i = key_start;
        while i < bytes.len() && !matches!(bytes[i], b'=' | b';' | b':') {
            i += 1;
        }
        let key = line[key_start..i].trim().to_ascii_uppercase();
        let mut values = Vec::new();
        if bytes.get(i) == Some(&b'=') {
            i += 1;
            loop {
                if bytes.get(i) == Some(&b'"') {
                    let close = bytes[i + 1..].iter().position(|b| *b == b'"')? + i + 1;
                    values.push(line[i + 1..close].to_string());
                    i = close + 1;
                    // Tolerate junk between a closing quote and the next
                    // delimiter by skipping it.
                    while i < bytes.len() && !matches!(bytes[i], b',' | b';' | b':') {
                        i += 1;
                    }
                } else {
                    let v_start = i;
                    while i < bytes.len() && !matches!(bytes[i], b',' | b';' | b':') {
                        i += 1;
                    }
                    values.push(line[v_start..i].to_string());
                }
                if bytes.get(i) == Some(&b',') {
                    i += 1;
                } else {
                    break;
                }
            }
        }
        params.push(Param {
            key,
            values,
            raw: key_start..i,
        });
    }
    if bytes.get(i) != Some(&b':') {
        return None;
    }
    Some(Prop {
        name,
        name_raw: 0..name_end,
        params,
        value_start: i + 1,
        value: line[i + 1..].to_string(),
    })
}

// ---------------------------------------------------------------------------
// Component tree.

/// A component: its own properties (indices into the line list) and its
/// sub-components.
#[derive(Debug, Clone)]
pub(crate) struct Comp {
    pub name: String,
    /// Index of the BEGIN line.
    pub begin: usize,
    /// Index of the END line.
    pub end: usize,
    pub props: Vec<usize>,
    pub children: Vec<Comp>,
}

/// The lexed file: lines, their parsed form, and the VCALENDAR components.
pub(crate) struct Document {
    pub lines: Vec<RawLine>,
    pub props: Vec<Option<Prop>>,
    pub calendars: Vec<Comp>,
    /// Lines inside a component that are not content lines.
    pub bad_lines: Vec<usize>,
}

impl Document {
    pub fn prop(&self, index: usize) -> Option<&Prop> {
        self.props.get(index).and_then(Option::as_ref)
    }

    /// The first property named `name` among a component's own properties.
    pub fn first<'a>(&'a self, comp: &'a Comp, name: &'a str) -> Option<&'a Prop> {
        self.all(comp, name).next()
    }

    pub fn all<'a>(&'a self, comp: &'a Comp, name: &'a str) -> impl Iterator<Item = &'a Prop> + 'a {
        comp.props
            .iter()
            .filter_map(|i| self.prop(*i))
            .filter(move |p| p.name == name)
    }

    /// Every VEVENT of every calendar.
    pub fn vevents(&self) -> impl Iterator<Item = &Comp> {
        self.calendars
            .iter()
            .flat_map(|c| c.children.iter())
            .filter(|c| c.name == "VEVENT")
    }

    /// The VTIMEZONE definitions of all calendars, keyed by TZID as written.
    pub fn vtimezones(&self) -> HashMap<String, VTimezoneInfo> {
        let mut map = HashMap::new();
        for vtz in self
            .calendars
            .iter()
            .flat_map(|c| c.children.iter())
            .filter(|c| c.name == "VTIMEZONE")
        {
            let Some(tzid) = self.first(vtz, "TZID") else {
                continue;
            };
            let info = VTimezoneInfo {
                lic_location: self
                    .first(vtz, "X-LIC-LOCATION")
                    .map(|p| p.value.trim().to_string()),
                offsets_to: vtz
                    .children
                    .iter()
                    .filter(|c| c.name == "STANDARD" || c.name == "DAYLIGHT")
                    .filter_map(|c| self.first(c, "TZOFFSETTO"))
                    .filter_map(|p| tz::parse_utc_offset(&p.value))
                    .collect(),
            };
            map.insert(tzid.value.trim().to_string(), info);
        }
        map
    }
}

/// Lex and build the component tree.
pub(crate) fn document(src: &[u8]) -> Result<Document, IcsError> {
    build(lex(src))
}

fn build(lines: Vec<RawLine>) -> Result<Document, IcsError> {
    let props: Vec<Option<Prop>> = lines.iter().map(|l| parse_prop(&l.text)).collect();
    let mut calendars = Vec::new();
    let mut bad_lines = Vec::new();
    let mut stack: Vec<Comp> = Vec::new();
    for (index, prop) in props.iter().enumerate() {
        let line_no = lines[index].line_no;
        let Some(prop) = prop else {
            if stack.is_empty() && calendars.is_empty() {
                return Err(IcsError::NotICalendar {
                    line: line_no,
                    found: truncate(&lines[index].text),
                });
            }
            if !stack.is_empty() {
                bad_lines.push(index);
            }
            continue;
        };
        match prop.name.as_str() {
            "BEGIN" => {
                let name = prop.value.trim().to_ascii_uppercase();
                if stack.is_empty() && name != "VCALENDAR" {
                    if calendars.is_empty() {
                        return Err(IcsError::NotICalendar {
                            line: line_no,
                            found: truncate(&lines[index].text),
                        });
                    }
                    // Text after the calendar is left alone.
                    continue;
                }
                stack.push(Comp {
                    name,
                    begin: index,
                    end: index,
                    props: Vec::new(),
                    children: Vec::new(),
                });
            }
            "END" => {
                let name = prop.value.trim().to_ascii_uppercase();
                let Some(mut comp) = stack.pop() else {
                    if calendars.is_empty() {
                        return Err(IcsError::NotICalendar {
                            line: line_no,
                            found: truncate(&lines[index].text),
                        });
                    }
                    continue;
                };
                if comp.name != name {
                    return Err(IcsError::MismatchedEnd {
                        line: line_no,
                        expected: comp.name,
                        found: name,
                    });
                }
                comp.end = index;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(comp),
                    None => calendars.push(comp),
                }
            }
            _ => match stack.last_mut() {
                Some(comp) => comp.props.push(index),
                None if calendars.is_empty() => {
                    return Err(IcsError::NotICalendar {
                        line: line_no,
                        found: truncate(&lines[index].text),
                    });
                }
                None => {}
            },
        }
    }
    if let Some(open) = stack.into_iter().next_back() {
        return Err(IcsError::Unterminated {
            line: lines[open.begin].line_no,
            component: open.name,
        });
    }
    if calendars.is_empty() {
        return Err(IcsError::Empty);
    }
    Ok(Document {
        lines,
        props,
        calendars,
        bad_lines,
    })
}

fn truncate(s: &str) -> String {
    s.chars().take(60).collect()
}

// ---------------------------------------------------------------------------
// Mapping to domain events.

fn parse_lines(lines: Vec<RawLine>) -> Result<ParsedCalendar, IcsError> {
    let doc = build(lines)?;
    let zones = doc.vtimezones();
    let mut problems: Vec<String> = doc
        .bad_lines
        .iter()
        .map(|i| {
            format!(
                "line {}: not a content line, ignored: {:?}",
                doc.lines[*i].line_no,
                truncate(&doc.lines[*i].text)
            )
        })
        .collect();
    let default_tz = doc
        .calendars
        .iter()
        .find_map(|c| doc.first(c, "X-WR-TIMEZONE"))
        .and_then(|p| {
            let tz = tz::resolve_name(&p.value);
            if tz.is_none() {
                problems.push(format!(
                    "X-WR-TIMEZONE {:?} is not a known time zone, ignored",
                    p.value
                ));
            }
            tz
        });
    let mut events = Vec::new();
    for vevent in doc.vevents() {
        match map_event(&doc, vevent, &zones) {
            Ok(event) => events.push(event),
            Err(why) => {
                let uid = doc.first(vevent, "UID").map(|p| p.value.trim().to_string());
                let summary = doc
                    .first(vevent, "SUMMARY")
                    .map(|p| unescape_text(&p.value));
                let mut who = String::new();
                if let Some(uid) = uid {
                    who.push_str(&format!(" UID {uid:?}"));
                }
                if let Some(summary) = summary {
                    who.push_str(&format!(" SUMMARY {summary:?}"));
                }
                problems.push(format!(
                    "line {}: VEVENT{who} skipped: {why}",
                    doc.lines[vevent.begin].line_no
                ));
            }
        }
    }
    Ok(ParsedCalendar {
        events,
        problems,
        default_tz,
    })
}

fn map_event(
    doc: &Document,
    ev: &Comp,
    zones: &HashMap<String, VTimezoneInfo>,
) -> Result<Event, String> {
    let uid = doc
        .first(ev, "UID")
        .map(|p| p.value.trim().to_string())
        .filter(|u| !u.is_empty())
        .ok_or("no UID")?;
    let dtstart = doc.first(ev, "DTSTART").ok_or("no DTSTART")?;
    let start = parse_time_prop(dtstart, zones).map_err(|e| format!("DTSTART: {e}"))?;
    let end = if let Some(dtend) = doc.first(ev, "DTEND") {
        parse_time_prop(dtend, zones).map_err(|e| format!("DTEND: {e}"))?
    } else if let Some(duration) = doc.first(ev, "DURATION") {
        let d = parse_duration(&duration.value)
            .ok_or_else(|| format!("DURATION {:?} is not a duration", duration.value))?;
        add_duration(start, &d)
            .ok_or_else(|| format!("DURATION {:?} is out of range", duration.value))?
    } else {
        default_end(start).ok_or("DTSTART is out of range")?
    };
    let recurrence_id = doc
        .first(ev, "RECURRENCE-ID")
        .map(|p| parse_time_prop(p, zones).map_err(|e| format!("RECURRENCE-ID: {e}")))
        .transpose()?;

    let mut recurrence = Recurrence {
        rrules: doc
            .all(ev, "RRULE")
            .map(|p| p.value.trim().to_string())
            .collect(),
        ..Recurrence::default()
    };
    for (name, list) in [
        ("RDATE", &mut recurrence.rdates),
        ("EXDATE", &mut recurrence.exdates),
    ] {
        for prop in doc.all(ev, name) {
            let times = parse_time_list(prop, zones).map_err(|e| format!("{name}: {e}"))?;
            list.extend(times);
        }
    }

    let attendees = doc.all(ev, "ATTENDEE").map(map_attendee).collect();
    let text = |name: &str| doc.first(ev, name).map(|p| unescape_text(&p.value));
    let upper = |name: &str| {
        doc.first(ev, name)
            .map(|p| p.value.trim().to_ascii_uppercase())
    };
    let stamp = |name: &str| {
        doc.first(ev, name)
            .and_then(|p| parse_time_prop(p, zones).ok())
            .map(|t| stamp_utc(&t))
    };

    Ok(Event {
        uid,
        recurrence_id,
        summary: text("SUMMARY").unwrap_or_default(),
        description: text("DESCRIPTION").unwrap_or_default(),
        organizer: doc.first(ev, "ORGANIZER").map(|p| address(&p.value)),
        attendees,
        start,
        end,
        recurrence,
        status: match upper("STATUS").as_deref() {
            Some("CANCELLED") => Status::Cancelled,
            Some("TENTATIVE") => Status::Tentative,
            _ => Status::Confirmed,
        },
        private: matches!(upper("CLASS").as_deref(), Some("PRIVATE" | "CONFIDENTIAL")),
        transparent: upper("TRANSP").as_deref() == Some("TRANSPARENT"),
        sequence: doc
            .first(ev, "SEQUENCE")
            .and_then(|p| p.value.trim().parse().ok())
            .unwrap_or(0),
        created: stamp("CREATED"),
        last_modified: stamp("LAST-MODIFIED"),
        dtstamp: stamp("DTSTAMP"),
        gatekeeper_partstat: doc
            .first(ev, "X-GATEKEEPER-PARTSTAT")
            .map(|p| PartStat::parse(p.value.trim())),
        gatekeeper_rules: doc.first(ev, "X-GATEKEEPER-PARTSTAT").and_then(|p| {
            p.params
                .iter()
                .find(|q| q.key == "X-GATEKEEPER-RULES")
                .map(|q| {
                    q.values
                        .iter()
                        .flat_map(|v| v.split(','))
                        .map(|v| v.trim().to_string())
                        .filter(|v| !v.is_empty())
                        .collect()
                })
        }),
        gatekeeper_comment: doc
            .all(ev, "COMMENT")
            .find(|p| {
                p.param("X-GATEKEEPER")
                    .is_some_and(|v| v.eq_ignore_ascii_case("TRUE"))
            })
            .map(|p| unescape_text(&p.value)),
        event_type: super::EventType::Default,
    })
}

fn map_attendee(prop: &Prop) -> Attendee {
    Attendee {
        email: address(&prop.value),
        name: prop.param("CN").map(str::to_string),
        role: match prop.param("ROLE").map(str::to_ascii_uppercase).as_deref() {
            Some("CHAIR") => Role::Chair,
            Some("OPT-PARTICIPANT") => Role::Optional,
            Some("NON-PARTICIPANT") => Role::NonParticipant,
            _ => Role::Required,
        },
        partstat: prop
            .param("PARTSTAT")
            .map(PartStat::parse)
            .unwrap_or(PartStat::NeedsAction),
        is_resource: matches!(
            prop.param("CUTYPE").map(str::to_ascii_uppercase).as_deref(),
            Some("ROOM" | "RESOURCE")
        ),
    }
}

/// A CAL-ADDRESS as gatekeeper compares it: trimmed, `mailto:` removed in
/// any case, lowercased.
pub(crate) fn address(value: &str) -> String {
    let v = value.trim();
    let v = match v.get(..7) {
        Some(prefix) if prefix.eq_ignore_ascii_case("mailto:") => &v[7..],
        _ => v,
    };
    v.trim().to_lowercase()
}

/// Undo RFC 5545 TEXT escapes. Unknown escapes are kept as written.
pub(crate) fn unescape_text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n' | 'N') => out.push('\n'),
            Some(c @ (',' | ';' | '\\')) => out.push(c),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// Apply RFC 5545 TEXT escapes.
pub(crate) fn escape_text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// A timestamp property (CREATED, DTSTAMP, ...) as an instant. The RFC
/// requires UTC; a floating or date value is read as UTC rather than dropped.
fn stamp_utc(t: &EventTime) -> DateTime<Utc> {
    t.to_utc(chrono_tz::UTC)
}

/// Parse a DTSTART-like property: value type, TZID and the value.
pub(crate) fn parse_time_prop(
    prop: &Prop,
    zones: &HashMap<String, VTimezoneInfo>,
) -> Result<EventTime, String> {
    let mut list = parse_time_list(prop, zones)?;
    if list.len() != 1 {
        return Err(format!("expected one value, found {:?}", prop.value));
    }
    list.pop().ok_or_else(|| "empty value".to_string())
}

/// Parse a comma-separated list of date, date-time or period values sharing
/// the property's TZID and VALUE parameters. A period contributes its start.
pub(crate) fn parse_time_list(
    prop: &Prop,
    zones: &HashMap<String, VTimezoneInfo>,
) -> Result<Vec<EventTime>, String> {
    let value_type = prop.param("VALUE").map(str::to_ascii_uppercase);
    let zone = match prop.param("TZID") {
        Some(tzid) => {
            let key = tzid.trim();
            Some(
                tz::resolve_tzid(key, zones.get(key))
                    .ok_or_else(|| format!("unknown TZID {tzid:?}"))?,
            )
        }
        None => None,
    };
    prop.value
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| {
            // VALUE=PERIOD (RDATE only): `start/end` or `start/duration`.
            let v = v.split('/').next().unwrap_or(v);
            parse_time_value(v, value_type.as_deref() == Some("DATE"), zone)
        })
        .collect()
}

/// Parse one date or date-time value.
pub(crate) fn parse_time_value(
    value: &str,
    is_date: bool,
    zone: Option<Tz>,
) -> Result<EventTime, String> {
    let v = value.trim();
    if is_date || (v.len() == 8 && v.bytes().all(|b| b.is_ascii_digit())) {
        let date_part = v.get(..8).ok_or_else(|| format!("bad date {v:?}"))?;
        return NaiveDate::parse_from_str(date_part, "%Y%m%d")
            .map(EventTime::Date)
            .map_err(|_| format!("bad date {v:?}"));
    }
    let (body, utc) = match v.strip_suffix(['Z', 'z']) {
        Some(body) => (body, true),
        None => (v, false),
    };
    let naive = NaiveDateTime::parse_from_str(body, "%Y%m%dT%H%M%S")
        .map_err(|_| format!("bad date-time {v:?}"))?;
    Ok(if utc {
        EventTime::Utc(naive.and_utc())
    } else if let Some(tz) = zone {
        EventTime::Zoned(local_to_utc(tz, naive).with_timezone(&tz))
    } else {
        EventTime::Floating(naive)
    })
}

/// An RFC 5545 §3.3.6 duration: nominal weeks and days, exact seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IcsDuration {
    pub negative: bool,
    /// Weeks and days together, in days.
    pub days: u64,
    /// Hours, minutes and seconds together, in seconds.
    pub seconds: i64,
}

/// Parse `[+-]P[nW][nD][T[nH][nM][nS]]`. Returns `None` for anything else,
/// including an empty `P`.
pub fn parse_duration(value: &str) -> Option<IcsDuration> {
    let v = value.trim().to_ascii_uppercase();
    let (negative, rest) = match v.as_bytes().first()? {
        b'-' => (true, &v[1..]),
        b'+' => (false, &v[1..]),
        _ => (false, v.as_str()),
    };
    let rest = rest.strip_prefix('P')?;
    let mut d = IcsDuration {
        negative,
        ..IcsDuration::default()
    };
    let mut in_time = false;
    let mut number = String::new();
    let mut any = false;
    for c in rest.chars() {
        match c {
            '0'..='9' => number.push(c),
            'T' if !in_time && number.is_empty() => in_time = true,
            'W' | 'D' if !in_time => {
                let n: u64 = number.parse().ok()?;
                d.days = d
                    .days
                    .checked_add(if c == 'W' { n.checked_mul(7)? } else { n })?;
                number.clear();
                any = true;
            }
            'H' | 'M' | 'S' if in_time => {
                let n: i64 = number.parse().ok()?;
                let factor = match c {
                    'H' => 3600,
                    'M' => 60,
                    _ => 1,
                };
                d.seconds = d.seconds.checked_add(n.checked_mul(factor)?)?;
                number.clear();
                any = true;
            }
            _ => return None,
        }
    }
    (any && number.is_empty()).then_some(d)
}

/// `start + duration` per RFC 5545 §3.3.6: days are nominal (same wall-clock
/// time on a later date, in the start's own zone), hours and smaller are
/// exact. For a date start only the day part counts.
pub fn add_duration(start: EventTime, d: &IcsDuration) -> Option<EventTime> {
    let days = Days::new(d.days);
    let exact = TimeDelta::try_seconds(if d.negative {
        d.seconds.checked_neg()?
    } else {
        d.seconds
    })?;
    let shift_days = |n: NaiveDateTime| {
        if d.negative {
            n.checked_sub_days(days)
        } else {
            n.checked_add_days(days)
        }
    };
    Some(match start {
        EventTime::Date(date) => EventTime::Date(if d.negative {
            date.checked_sub_days(days)?
        } else {
            date.checked_add_days(days)?
        }),
        EventTime::Floating(n) => EventTime::Floating(shift_days(n)?.checked_add_signed(exact)?),
        EventTime::Utc(t) => EventTime::Utc(
            shift_days(t.naive_utc())?
                .and_utc()
                .checked_add_signed(exact)?,
        ),
        EventTime::Zoned(t) => {
            let tz = t.timezone();
            let moved = local_to_utc(tz, shift_days(t.naive_local())?);
            EventTime::Zoned(moved.checked_add_signed(exact)?.with_timezone(&tz))
        }
    })
}

/// The RFC 5545 default end without DTEND or DURATION: the next day for a
/// date, the same instant for a date-time.
fn default_end(start: EventTime) -> Option<EventTime> {
    match start {
        EventTime::Date(d) => d.checked_add_days(Days::new(1)).map(EventTime::Date),
        other => Some(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn wrap(vevent_body: &str) -> String {
        format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:u1\r\n{vevent_body}END:VEVENT\r\nEND:VCALENDAR\r\n"
        )
    }

    fn one(vevent_body: &str) -> Event {
        let parsed = parse_ics(&wrap(vevent_body)).expect("parses");
        assert_eq!(parsed.problems, Vec::<String>::new());
        assert_eq!(parsed.events.len(), 1);
        parsed.events.into_iter().next().expect("one event")
    }

    fn berlin(y: i32, m: u32, d: u32, h: u32, min: u32) -> EventTime {
        EventTime::Zoned(
            chrono_tz::Europe::Berlin
                .with_ymd_and_hms(y, m, d, h, min, 0)
                .single()
                .expect("valid"),
        )
    }

    #[test]
    fn duration_table() {
        fn check(value: &str, start: EventTime, expect: Option<EventTime>) {
            let got = parse_duration(value).and_then(|d| add_duration(start, &d));
            assert_eq!(got, expect, "{value} from {start:?}");
        }
        let utc = |d, h, m| {
            EventTime::Utc(
                Utc.with_ymd_and_hms(2026, 3, d, h, m, 0)
                    .single()
                    .expect("valid"),
            )
        };
        let date = |m, d| EventTime::Date(NaiveDate::from_ymd_opt(2026, m, d).expect("valid"));
        let floating = |d, h| {
            EventTime::Floating(
                NaiveDate::from_ymd_opt(2026, 3, d)
                    .expect("valid")
                    .and_hms_opt(h, 0, 0)
                    .expect("valid"),
            )
        };
        check("PT1H30M", utc(2, 9, 0), Some(utc(2, 10, 30)));
        check("-PT15M", utc(2, 9, 0), Some(utc(2, 8, 45)));
        check("P1D", date(3, 2), Some(date(3, 3)));
        check("P1W", date(3, 2), Some(date(3, 9)));
        check("P2D", date(2, 28), Some(date(3, 2)));
        check("P1DT2H", floating(2, 9), Some(floating(3, 11)));
        check("PT0S", utc(2, 9, 0), Some(utc(2, 9, 0)));
        check("+PT1H", utc(2, 9, 0), Some(utc(2, 10, 0)));
        check("pt45m", utc(2, 9, 0), Some(utc(2, 9, 45)));
        // Across the Berlin DST change on 2026-03-29: a nominal day keeps the
        // wall-clock time (23 hours), 24 exact hours land an hour later.
        check(
            "P1D",
            berlin(2026, 3, 28, 9, 0),
            Some(berlin(2026, 3, 29, 9, 0)),
        );
        check(
            "PT24H",
            berlin(2026, 3, 28, 9, 0),
            Some(berlin(2026, 3, 29, 10, 0)),
        );
        check("P", utc(2, 9, 0), None);
        check("PT", utc(2, 9, 0), None);
        check("1H", utc(2, 9, 0), None);
        check("PT1H5", utc(2, 9, 0), None);
        check("P1H", utc(2, 9, 0), None);
    }

    #[test]
    fn time_kinds() {
        let e = one("DTSTART:20260302T090000Z\r\nDTEND;TZID=Europe/Berlin:20260302T110000\r\n");
        assert_eq!(
            e.start,
            EventTime::Utc(
                Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0)
                    .single()
                    .expect("valid")
            )
        );
        assert_eq!(e.end, berlin(2026, 3, 2, 11, 0));
        let e = one("DTSTART:20260302T090000\r\n");
        assert!(matches!(e.start, EventTime::Floating(_)));
        assert_eq!(e.end, e.start, "date-time default end is the start");
        let e = one("DTSTART;VALUE=DATE:20260302\r\n");
        assert_eq!(
            e.end,
            EventTime::Date(NaiveDate::from_ymd_opt(2026, 3, 3).expect("valid"))
        );
        let e = one("DTSTART:20260302\r\nDURATION:P3D\r\n");
        assert_eq!(
            e.end,
            EventTime::Date(NaiveDate::from_ymd_opt(2026, 3, 5).expect("valid"))
        );
    }

    #[test]
    fn lexer_tolerates_real_client_output() {
        // BOM, LF endings, lowercase names, folded lines (tab and space),
        // quoted parameter values with `:` `;` `,`, escapes, VALARM.
        let text = "\u{feff}begin:vcalendar\nversion:2.0\nbegin:vevent\nuid:u1\ndtstart;tzid=\"europe/berlin\":20260302T090000\nsummary:Lunch\\, then \\;talk\\; a\\\\b\\nnext\ndescrip\n tion:<p>Hi</p>\\N\n\tline two\nattendee;CN=\"Doe, Jane: PhD; MD\";partstat=accepted;rsvp=TRUE:MAILTO:Jane.Doe@Example.COM\norganizer;cn=Boss:mailto:BOSS@example.com\nx-custom;x-param=1:whatever\nbegin:valarm\naction:DISPLAY\ntrigger:-PT15M\nend:valarm\nend:vevent\nbegin:x-thing\nfoo:bar\nend:x-thing\nend:vcalendar\ntrailing text";
        let parsed = parse_ics(text).expect("parses");
        assert_eq!(parsed.problems, Vec::<String>::new());
        let e = &parsed.events[0];
        assert_eq!(e.start, berlin(2026, 3, 2, 9, 0));
        assert_eq!(e.summary, "Lunch, then ;talk; a\\b\nnext");
        assert_eq!(e.description, "<p>Hi</p>\nline two");
        assert_eq!(e.organizer.as_deref(), Some("boss@example.com"));
        let a = &e.attendees[0];
        assert_eq!(a.email, "jane.doe@example.com");
        assert_eq!(a.name.as_deref(), Some("Doe, Jane: PhD; MD"));
        assert_eq!(a.partstat, PartStat::Accepted);
        assert_eq!(a.role, Role::Required);
    }

    #[test]
    fn fold_inside_utf8_sequence_heals_in_bytes() {
        let mut bytes =
            b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:u\r\nDTSTART:20260302T090000Z\r\nSUMMARY:Caf"
                .to_vec();
        // "é" is C3 A9; fold between the two bytes.
        bytes.extend_from_slice(&[0xC3, b'\r', b'\n', b' ', 0xA9]);
        bytes.extend_from_slice(b" au lait\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n");
        let parsed = parse_ics_bytes(&bytes).expect("parses");
        assert_eq!(parsed.events[0].summary, "Café au lait");
    }

    #[test]
    fn attendee_fields() {
        let e = one(
            "DTSTART:20260302T090000Z\r\nATTENDEE;CUTYPE=ROOM;CN=Room 1:mailto:room1@example.com\r\nATTENDEE;ROLE=OPT-PARTICIPANT;PARTSTAT=TENTATIVE:mailto:b@example.com\r\nATTENDEE;ROLE=CHAIR:c@example.com\r\nATTENDEE;CUTYPE=RESOURCE;PARTSTAT=X-WEIRD:mailto:proj@example.com\r\n",
        );
        let got: Vec<_> = e
            .attendees
            .iter()
            .map(|a| (a.email.as_str(), a.role, a.partstat.clone(), a.is_resource))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "room1@example.com",
                    Role::Required,
                    PartStat::NeedsAction,
                    true
                ),
                ("b@example.com", Role::Optional, PartStat::Tentative, false),
                ("c@example.com", Role::Chair, PartStat::NeedsAction, false),
                (
                    "proj@example.com",
                    Role::Required,
                    PartStat::Other("X-WEIRD".into()),
                    true
                ),
            ]
        );
    }

    #[test]
    fn status_class_transp_sequence_stamps_marker() {
        let e = one(
            "DTSTART:20260302T090000Z\r\nSTATUS:CANCELLED\r\nCLASS:CONFIDENTIAL\r\nTRANSP:TRANSPARENT\r\nSEQUENCE:3\r\nCREATED:20260101T100000Z\r\nLAST-MODIFIED:20260102T100000Z\r\nDTSTAMP:20260103T100000Z\r\nX-GATEKEEPER-PARTSTAT:DECLINED\r\n",
        );
        assert_eq!(e.status, Status::Cancelled);
        assert!(e.private);
        assert!(e.transparent);
        assert_eq!(e.sequence, 3);
        assert_eq!(
            e.created,
            Some(
                Utc.with_ymd_and_hms(2026, 1, 1, 10, 0, 0)
                    .single()
                    .expect("valid")
            )
        );
        assert_eq!(
            e.last_modified,
            Some(
                Utc.with_ymd_and_hms(2026, 1, 2, 10, 0, 0)
                    .single()
                    .expect("valid")
            )
        );
        assert_eq!(
            e.dtstamp,
            Some(
                Utc.with_ymd_and_hms(2026, 1, 3, 10, 0, 0)
                    .single()
                    .expect("valid")
            )
        );
        assert_eq!(e.gatekeeper_partstat, Some(PartStat::Declined));
        let e = one("DTSTART:20260302T090000Z\r\nCLASS:PUBLIC\r\n");
        assert!(!e.private && !e.transparent);
        assert_eq!(e.status, Status::Confirmed);
        assert_eq!(e.gatekeeper_partstat, None);
    }

    #[test]
    fn rdate_exdate_lists() {
        let e = one(
            "DTSTART;TZID=Europe/Berlin:20260302T090000\r\nRRULE:FREQ=WEEKLY\r\nEXDATE;TZID=Europe/Berlin:20260309T090000,20260316T090000\r\nEXDATE:20260323T080000Z\r\nEXDATE;VALUE=DATE:20260330\r\nRDATE;VALUE=PERIOD:20260304T100000Z/PT1H\r\nRDATE;TZID=America/New_York:20260305T090000\r\n",
        );
        assert_eq!(e.recurrence.rrules, vec!["FREQ=WEEKLY".to_string()]);
        assert_eq!(e.recurrence.exdates.len(), 4);
        assert_eq!(e.recurrence.exdates[0], berlin(2026, 3, 9, 9, 0));
        assert_eq!(
            e.recurrence.exdates[3],
            EventTime::Date(NaiveDate::from_ymd_opt(2026, 3, 30).expect("valid"))
        );
        assert_eq!(
            e.recurrence.rdates[0],
            EventTime::Utc(
                Utc.with_ymd_and_hms(2026, 3, 4, 10, 0, 0)
                    .single()
                    .expect("valid")
            )
        );
        assert!(
            matches!(e.recurrence.rdates[1], EventTime::Zoned(t) if t.timezone() == chrono_tz::America::New_York)
        );
    }

    #[test]
    fn malformed_vevents_are_skipped_with_a_problem() {
        let text = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:no-start\r\nSUMMARY:Broken\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:bad-date\r\nDTSTART:20261399T250000Z\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:bad-zone\r\nDTSTART;TZID=Mars/Olympus:20260302T090000\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nSUMMARY:No uid\r\nDTSTART:20260302T090000Z\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:good\r\nDTSTART:20260302T090000Z\r\nthis line has no colon\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let parsed = parse_ics(text).expect("parses");
        assert_eq!(
            parsed
                .events
                .iter()
                .map(|e| e.uid.as_str())
                .collect::<Vec<_>>(),
            vec!["good"]
        );
        let expect = [
            "line 2: VEVENT UID \"no-start\" SUMMARY \"Broken\" skipped: no DTSTART",
            "line 6: VEVENT UID \"bad-date\" skipped: DTSTART: bad date-time \"20261399T250000Z\"",
            "line 10: VEVENT UID \"bad-zone\" skipped: DTSTART: unknown TZID \"Mars/Olympus\"",
            "line 14: VEVENT SUMMARY \"No uid\" skipped: no UID",
        ];
        assert_eq!(
            parsed.problems[0],
            "line 21: not a content line, ignored: \"this line has no colon\""
        );
        assert_eq!(&parsed.problems[1..], &expect);
    }

    #[test]
    fn whole_file_errors() {
        fn check(text: &str, expect: &str) {
            let err = parse_ics(text).expect_err("must fail");
            assert_eq!(err.to_string(), expect, "{text:?}");
        }
        check("", "not an iCalendar file: it contains no BEGIN:VCALENDAR");
        check(
            "<html><body>404</body></html>\n",
            "not an iCalendar file: line 1 is \"<html><body>404</body></html>\", expected BEGIN:VCALENDAR",
        );
        check(
            "BEGIN:VCARD\nFN:x\nEND:VCARD\n",
            "not an iCalendar file: line 1 is \"BEGIN:VCARD\", expected BEGIN:VCALENDAR",
        );
        check(
            "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:x\nEND:VCALENDAR\n",
            "line 4: END:VCALENDAR closes a component that is not open (expected END:VEVENT)",
        );
        check(
            "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:x\n",
            "line 2: BEGIN:VEVENT is never closed (file truncated?)",
        );
    }

    #[test]
    fn x_wr_timezone_is_reported_not_applied() {
        let text = "BEGIN:VCALENDAR\nX-WR-TIMEZONE:America/New_York\nBEGIN:VEVENT\nUID:u\nDTSTART:20260302T090000\nEND:VEVENT\nEND:VCALENDAR\n";
        let parsed = parse_ics(text).expect("parses");
        assert_eq!(parsed.default_tz, Some(chrono_tz::America::New_York));
        assert!(matches!(parsed.events[0].start, EventTime::Floating(_)));
    }

    #[test]
    fn lexer_ranges_cover_the_source() {
        let text = "BEGIN:VCALENDAR\r\nSUMMARY:a\r\n b\r\nEND:VCALENDAR";
        let lines = lex(text.as_bytes());
        let texts: Vec<_> = lines
            .iter()
            .map(|l| {
                (
                    l.text.as_str(),
                    &text[l.range.clone()],
                    l.has_eol,
                    l.line_no,
                )
            })
            .collect();
        assert_eq!(
            texts,
            vec![
                ("BEGIN:VCALENDAR", "BEGIN:VCALENDAR\r\n", true, 1),
                ("SUMMARY:ab", "SUMMARY:a\r\n b\r\n", true, 2),
                ("END:VCALENDAR", "END:VCALENDAR", false, 4),
            ]
        );
    }
}
