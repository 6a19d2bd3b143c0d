//! Parsing of one iCalendar (.ics) item into domain [`Event`]s.
//!
//! This module owns the content-line grammar (unfolding, parameters with
//! quoted values, TEXT escapes), the component structure, and the mapping of
//! VEVENT properties to the domain model. It works on bytes: a file may be
//! Latin-1, broken UTF-8, or fold in the middle of a UTF-8 character, and
//! values are decoded lossily only for evaluation and display. The lexer
//! keeps the byte range of every logical line so that `edit` can rewrite
//! single lines and leave every other byte of a file as it was; that is why
//! it does not use the `icalendar` crate's parser, which discards positions.
//!
//! It salvages rather than drops: a bad value (a DTEND, one EXDATE, a
//! DURATION) is dropped with a problem naming its line and property and the
//! event stays; an unknown TZID is read as floating; a mismatched `END:`
//! closes the component it meets; components nested deeper than
//! [`Limits::max_depth`] are skipped. Only an item that is not an iCalendar
//! object at all, or that is over one of the [`Limits`], fails as a whole,
//! with a typed [`IcsError`] the caller reports once and does not retry.
//!
//! It must not read files, talk to a network or read the clock, and it must
//! not expand recurrences (that is `recurrence`). Nothing in it recurses on
//! input structure, so no input can overflow the stack.

use std::collections::HashMap;
use std::ops::Range;

use chrono::{DateTime, Days, NaiveDate, NaiveDateTime, TimeDelta, Utc};
use chrono_tz::Tz;

use super::tz::{self, VTimezoneInfo};
use super::{Attendee, Event, EventTime, PartStat, Recurrence, Role, Status, local_to_utc};

/// Bounds on what one item may cost. The defaults (one place:
/// [`Limits::DEFAULT`]) are far above anything a calendar client writes
/// and low enough that a hostile item costs milliseconds and a small
/// multiple of its size in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest item, in bytes; a larger one fails with [`IcsError::TooLarge`].
    pub max_item_bytes: usize,
    /// Most logical (unfolded) lines, i.e. properties plus BEGIN/END lines,
    /// in one item; more fail with [`IcsError::TooManyLines`].
    pub max_lines: usize,
    /// Longest logical line, in bytes; a longer one is ignored with a problem.
    pub max_line_bytes: usize,
    /// Deepest component nesting (VCALENDAR is 1, VEVENT 2, VALARM 3); a
    /// component deeper than this is skipped, with everything inside it, with
    /// a problem. Capped at [`HARD_MAX_DEPTH`] whatever is asked.
    pub max_depth: usize,
}

/// The nesting depth no configuration can raise: the component tree is
/// dropped and cloned recursively, and 256 levels are far from any stack
/// limit.
pub const HARD_MAX_DEPTH: usize = 256;

impl Limits {
    pub const DEFAULT: Limits = Limits {
        max_item_bytes: 32 * 1024 * 1024,
        max_lines: 1_000_000,
        max_line_bytes: 4 * 1024 * 1024,
        max_depth: 16,
    };

    fn depth(&self) -> usize {
        self.max_depth.clamp(1, HARD_MAX_DEPTH)
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits::DEFAULT
    }
}

/// The events of one iCalendar text and what could not be mapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedCalendar {
    /// Every VEVENT that could be mapped, in file order (masters and
    /// overrides alike). A VEVENT without UID has `uid` "".
    pub events: Vec<Event>,
    /// One human-readable line per skipped VEVENT, dropped value or ignored
    /// line, starting with the line number and naming the property and the
    /// UID/SUMMARY when known. The caller adds the file name.
    pub problems: Vec<String>,
    /// The calendar's `X-WR-TIMEZONE` (Google and Apple exports), when it
    /// names a known zone. Floating times of the calendar are read in this
    /// zone (they come out as [`EventTime::Zoned`]), as the calendar apps
    /// that write it read them.
    pub default_tz: Option<Tz>,
}

/// An item that is not a usable iCalendar object as a whole, or is over a
/// limit. Either way the caller skips the item with one warning and need
/// not read it again until it changes.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum IcsError {
    #[error("not an iCalendar file: line {line} is {found:?}, expected BEGIN:VCALENDAR")]
    NotICalendar { line: usize, found: String },
    #[error("not an iCalendar file: it contains no BEGIN:VCALENDAR")]
    Empty,
    #[error("item is {bytes} bytes, over the limit of {limit} bytes; skipped")]
    TooLarge { bytes: usize, limit: usize },
    #[error("item has more than {limit} lines; skipped")]
    TooManyLines { limit: usize },
}

impl IcsError {
    /// Whether the item was refused for its size rather than its content.
    pub fn is_over_limit(&self) -> bool {
        matches!(
            self,
            IcsError::TooLarge { .. } | IcsError::TooManyLines { .. }
        )
    }
}

/// Parse an iCalendar text with the default [`Limits`]. A thin wrapper of
/// [`parse_ics_bytes`], kept for callers that hold a `&str`.
pub fn parse_ics(text: &str) -> Result<ParsedCalendar, IcsError> {
    parse_ics_bytes_with(text.as_bytes(), &Limits::DEFAULT)
}

/// Parse iCalendar bytes with the default [`Limits`]. Any encoding is
/// accepted: folds are removed on bytes (a fold inside a UTF-8 character
/// heals) and what is not UTF-8 after unfolding is decoded lossily.
pub fn parse_ics_bytes(bytes: &[u8]) -> Result<ParsedCalendar, IcsError> {
    parse_ics_bytes_with(bytes, &Limits::DEFAULT)
}

/// Parse iCalendar bytes within `limits`.
pub fn parse_ics_bytes_with(bytes: &[u8], limits: &Limits) -> Result<ParsedCalendar, IcsError> {
    parse_lines(&document(bytes, limits)?)
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
    /// Where the content of the first physical line ends (before its line
    /// break). For a line that is not folded, `range.start..content_end` is
    /// the whole logical line, borrowed from the source without a copy.
    pub content_end: usize,
    /// Made of more than one physical line: its content must be unfolded.
    pub folded: bool,
    /// Longer than [`Limits::max_line_bytes`]: not parsed.
    pub oversized: bool,
}

impl RawLine {
    /// The unfolded bytes of the line: borrowed when it is not folded.
    pub fn content<'a>(&self, src: &'a [u8]) -> std::borrow::Cow<'a, [u8]> {
        if self.folded {
            std::borrow::Cow::Owned(unfold(&src[self.range.clone()]))
        } else {
            std::borrow::Cow::Borrowed(&src[self.range.start..self.content_end])
        }
    }
}

/// The unfolded bytes of a source range: every line break followed by a
/// space or tab is removed, and the final line break.
pub(crate) fn unfold(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        let after_break = match (b, raw.get(i + 1)) {
            (b'\r', Some(b'\n')) => Some(i + 2),
            (b'\n', _) => Some(i + 1),
            _ => None,
        };
        match after_break {
            Some(next) if matches!(raw.get(next), Some(b' ' | b'\t')) => i = next + 1,
            Some(_) => break,
            None => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// Split the source into logical lines. A physical line that starts with a
/// space or a tab continues the previous one (RFC 5545 §3.1); folds are
/// removed on bytes before decoding so a fold inside a UTF-8 sequence heals.
/// Nothing is copied: a line is its byte range, and its content is read
/// from the source when it is needed.
pub(crate) fn lex(src: &[u8], limits: &Limits) -> Result<Vec<RawLine>, IcsError> {
    if src.len() > limits.max_item_bytes {
        return Err(IcsError::TooLarge {
            bytes: src.len(),
            limit: limits.max_item_bytes,
        });
    }
    let start = if src.starts_with(&[0xEF, 0xBB, 0xBF]) {
        3
    } else {
        0
    };
    let mut out: Vec<RawLine> = Vec::new();
    // The logical line being built.
    let mut current: Option<RawLine> = None;
    // Its unfolded length so far.
    let mut length = 0usize;
    let mut pos = start;
    let mut line_no = 0;
    let flush = |current: &mut Option<RawLine>, out: &mut Vec<RawLine>| {
        if let Some(line) = current.take() {
            if out.len() >= limits.max_lines {
                return Err(IcsError::TooManyLines {
                    limit: limits.max_lines,
                });
            }
            out.push(line);
        }
        Ok(())
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
        match src[pos..content_end].first() {
            Some(b' ' | b'\t') if current.is_some() => {
                if let Some(line) = current.as_mut() {
                    length += content_end - pos - 1;
                    line.folded = true;
                    line.oversized |= length > limits.max_line_bytes;
                    line.range.end = next;
                    line.has_eol = has_eol;
                }
            }
            None => {
                // A blank line is not allowed by the RFC but some exporters
                // write one; it ends the current logical line.
                flush(&mut current, &mut out)?;
            }
            _ => {
                flush(&mut current, &mut out)?;
                length = content_end - pos;
                current = Some(RawLine {
                    range: pos..next,
                    has_eol,
                    line_no,
                    content_end,
                    folded: false,
                    oversized: length > limits.max_line_bytes,
                });
            }
        }
        pos = next;
    }
    flush(&mut current, &mut out)?;
    Ok(out)
}

/// One parameter of a content line.
#[derive(Debug, Clone)]
pub(crate) struct Param {
    /// Upper-cased name.
    pub key: String,
    /// Values with surrounding quotes removed, decoded lossily.
    pub values: Vec<String>,
    /// Byte range of `KEY=value,...` in the unfolded line, quotes kept.
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
    /// The value, decoded lossily.
    pub value: String,
    /// 1-based line number of the line (0 when parsed outside a document).
    pub line_no: usize,
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

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Split one unfolded line. `None` when it has no `:` outside quotes or no
/// name, i.e. it is not a content line. The ranges index `line`: `edit`
/// parses the raw unfolded bytes of a line to copy its parameters byte for
/// byte, the document parses the lossy text. Every delimiter is ASCII, and
/// lossy decoding never produces ASCII, so both see the same structure.
pub(crate) fn parse_prop(line: &[u8]) -> Option<Prop> {
    let bytes = line;
    let name_end = bytes.iter().position(|b| *b == b';' || *b == b':')?;
    if name_end == 0 {
        return None;
    }
    let name = lossy(&line[..name_end]).trim().to_ascii_uppercase();
    let mut params = Vec::new();
    let mut i = name_end;
    while bytes.get(i) == Some(&b';') {
        let key_start = i + 1;
        i = key_start;
        while i < bytes.len() && !matches!(bytes[i], b'=' | b';' | b':') {
            i += 1;
        }
        let key = lossy(&line[key_start..i]).trim().to_ascii_uppercase();
        let mut values = Vec::new();
        if bytes.get(i) == Some(&b'=') {
            i += 1;
            loop {
                if bytes.get(i) == Some(&b'"') {
                    let close = bytes[i + 1..].iter().position(|b| *b == b'"')? + i + 1;
                    values.push(lossy(&line[i + 1..close]));
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
                    values.push(lossy(&line[v_start..i]));
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
        value: lossy(&line[i + 1..]),
        line_no: 0,
    })
}

// ---------------------------------------------------------------------------
// Component tree.

/// A component: its own properties (indices into the line list) and its
/// sub-components. Its depth is at most [`HARD_MAX_DEPTH`].
#[derive(Debug, Clone)]
pub(crate) struct Comp {
    pub name: String,
    /// Index of the BEGIN line.
    pub begin: usize,
    /// Index of the line that closed it: its END line, or the line that
    /// closed it implicitly; `lines.len()` when the file ended first.
    pub end: usize,
    /// Closed by an END line of its own (possibly misspelt). A component
    /// closed because an outer one ended, or by the end of the file, is
    /// not intact: its content may be cut short.
    pub intact: bool,
    pub props: Vec<usize>,
    pub children: Vec<Comp>,
}

/// The lexed file: the source, its lines, and the VCALENDAR components.
/// A property is parsed the first time it is asked for, so finding one
/// VEVENT to edit in a large item costs a scan of its bytes, not a parse
/// of every line.
pub(crate) struct Document<'a> {
    pub src: &'a [u8],
    pub lines: Vec<RawLine>,
    /// The parsed property of each line, filled in on first use.
    props: Vec<std::cell::OnceCell<Option<Box<Prop>>>>,
    pub calendars: Vec<Comp>,
    /// Structural problems (bad lines, mismatched or missing END, nesting
    /// too deep), in line order.
    pub problems: Vec<String>,
}

impl Document<'_> {
    /// The property on line `index`; `None` when it is not a content line.
    pub fn prop(&self, index: usize) -> Option<&Prop> {
        let line = self.lines.get(index)?;
        self.props
            .get(index)?
            .get_or_init(|| {
                if line.oversized {
                    return None;
                }
                parse_prop(&line.content(self.src)).map(|mut p| {
                    p.line_no = line.line_no;
                    Box::new(p)
                })
            })
            .as_deref()
    }

    /// Every property named `name` among a component's own properties,
    /// parsed afresh and not kept: for ATTENDEE lines, which can be most of
    /// a large invite, so their parse is not held beside their mapping.
    pub fn each_uncached<'s>(
        &'s self,
        comp: &'s Comp,
        name: &'s str,
    ) -> impl Iterator<Item = (usize, Prop)> + 's {
        comp.props
            .iter()
            .filter(move |i| self.is_named(**i, name))
            .filter_map(move |&i| {
                let line = &self.lines[i];
                if line.oversized {
                    return None;
                }
                let mut p = parse_prop(&line.content(self.src))?;
                p.line_no = line.line_no;
                (p.name == name).then_some((i, p))
            })
    }

    /// Whether line `index` is a property named `name` (upper case), read
    /// from the bytes without parsing the line.
    pub fn is_named(&self, index: usize, name: &str) -> bool {
        let Some(line) = self.lines.get(index) else {
            return false;
        };
        let content = line.content(self.src);
        let end = content
            .iter()
            .position(|b| *b == b';' || *b == b':')
            .unwrap_or(content.len());
        content[..end]
            .trim_ascii()
            .eq_ignore_ascii_case(name.as_bytes())
    }

    /// The first property named `name` among a component's own properties.
    pub fn first<'s>(&'s self, comp: &'s Comp, name: &'s str) -> Option<&'s Prop> {
        self.all(comp, name).next()
    }

    pub fn all<'s>(&'s self, comp: &'s Comp, name: &'s str) -> impl Iterator<Item = &'s Prop> + 's {
        comp.props
            .iter()
            .filter(move |i| self.is_named(**i, name))
            .filter_map(|i| self.prop(*i))
            .filter(move |p| p.name == name)
    }

    /// Every VEVENT of every calendar, intact or not.
    pub fn vevents(&self) -> impl Iterator<Item = &Comp> {
        self.calendars
            .iter()
            .flat_map(|c| c.children.iter())
            .filter(|c| c.name == "VEVENT")
    }

    /// The byte offset where a component's END line starts (or would be).
    pub fn end_offset(&self, comp: &Comp) -> usize {
        self.lines
            .get(comp.end)
            .map_or(self.src.len(), |l| l.range.start)
    }

    /// The time zones of the calendars: their VTIMEZONE definitions keyed
    /// by TZID as written, and the `X-WR-TIMEZONE` for floating times.
    pub fn zones(&self) -> Zones {
        let mut vtimezones = HashMap::new();
        for vtz in self
            .calendars
            .iter()
            .flat_map(|c| c.children.iter())
            .filter(|c| c.name == "VTIMEZONE")
        {
            let Some(tzid) = self.first(vtz, "TZID") else {
                continue;
            };
            let observances = vtz
                .children
                .iter()
                .filter(|c| c.name == "STANDARD" || c.name == "DAYLIGHT")
                .filter_map(|c| {
                    let offset = |name| {
                        self.first(c, name)
                            .and_then(|p| tz::parse_utc_offset(&p.value))
                    };
                    let start = self.first(c, "DTSTART").and_then(|p| {
                        NaiveDateTime::parse_from_str(p.value.trim(), "%Y%m%dT%H%M%S").ok()
                    })?;
                    Some(tz::Observance {
                        start,
                        offset_from: offset("TZOFFSETFROM")?,
                        offset_to: offset("TZOFFSETTO")?,
                        rrule: self.first(c, "RRULE").map(|p| p.value.trim().to_string()),
                        rdates: self
                            .all(c, "RDATE")
                            .flat_map(|p| {
                                p.value.split(',').map(str::to_string).collect::<Vec<_>>()
                            })
                            .filter_map(|v| {
                                NaiveDateTime::parse_from_str(v.trim(), "%Y%m%dT%H%M%S").ok()
                            })
                            .collect(),
                    })
                })
                .collect();
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
                observances,
            };
            vtimezones.insert(tzid.value.trim().to_string(), info);
        }
        let floating = self
            .calendars
            .iter()
            .find_map(|c| self.first(c, "X-WR-TIMEZONE"))
            .and_then(|p| tz::resolve_name(&p.value));
        Zones {
            vtimezones,
            floating,
            resolved: std::cell::RefCell::new(HashMap::new()),
        }
    }
}

/// What time values of one file are read with.
pub(crate) struct Zones {
    pub vtimezones: HashMap<String, VTimezoneInfo>,
    /// `X-WR-TIMEZONE`: the zone of floating times (and of unknown TZIDs).
    pub floating: Option<Tz>,
    /// TZID → zone, memoized: a file names the same few zones thousands of
    /// times, and resolving a custom VTIMEZONE compares it with every zone.
    resolved: std::cell::RefCell<HashMap<String, Option<Tz>>>,
}

/// At most this many distinct TZIDs are resolved per item; a hostile item
/// with thousands of custom VTIMEZONEs cannot make each comparison with
/// every IANA zone. Later ones are unknown (read as floating, with a
/// warning).
const MAX_TZIDS_PER_ITEM: usize = 64;

impl Zones {
    /// The zone a TZID parameter names; `None` when it is unknown.
    pub fn resolve(&self, tzid: &str) -> Option<Tz> {
        let key = tzid.trim();
        if let Some(hit) = self.resolved.borrow().get(key) {
            return *hit;
        }
        if self.resolved.borrow().len() >= MAX_TZIDS_PER_ITEM {
            return None;
        }
        let tz = tz::resolve_tzid(key, self.vtimezones.get(key));
        self.resolved.borrow_mut().insert(key.to_string(), tz);
        tz
    }
}

/// Lex and build the component tree.
pub(crate) fn document<'a>(src: &'a [u8], limits: &Limits) -> Result<Document<'a>, IcsError> {
    build(src, lex(src, limits)?, limits)
}

/// Where a content line's name ends and its value starts, following the
/// grammar of [`parse_prop`] without building anything; `None` when it is
/// not a content line.
fn shape(line: &[u8]) -> Option<(usize, usize)> {
    let name_end = line.iter().position(|b| *b == b';' || *b == b':')?;
    if name_end == 0 {
        return None;
    }
    let mut i = name_end;
    while line.get(i) == Some(&b';') {
        i += 1;
        while i < line.len() && !matches!(line[i], b'=' | b';' | b':') {
            i += 1;
        }
        if line.get(i) == Some(&b'=') {
            i += 1;
            loop {
                if line.get(i) == Some(&b'"') {
                    i = line[i + 1..].iter().position(|b| *b == b'"')? + i + 2;
                    while i < line.len() && !matches!(line[i], b',' | b';' | b':') {
                        i += 1;
                    }
                } else {
                    while i < line.len() && !matches!(line[i], b',' | b';' | b':') {
                        i += 1;
                    }
                }
                if line.get(i) == Some(&b',') {
                    i += 1;
                } else {
                    break;
                }
            }
        }
    }
    (line.get(i) == Some(&b':')).then_some((name_end, i + 1))
}

fn build<'a>(
    src: &'a [u8],
    lines: Vec<RawLine>,
    limits: &Limits,
) -> Result<Document<'a>, IcsError> {
    let mut calendars = Vec::new();
    let mut problems = Vec::new();
    let mut stack: Vec<Comp> = Vec::new();
    // While > 0, lines belong to a component nested too deep: BEGIN and END
    // are only counted.
    let mut skipping = 0usize;
    let max_depth = limits.depth();
    for (index, line) in lines.iter().enumerate() {
        let line_no = line.line_no;
        let content = line.content(src);
        // For messages only: at most 60 characters are shown.
        let text = || String::from_utf8_lossy(&content[..content.len().min(240)]).into_owned();
        let shaped = if line.oversized {
            None
        } else {
            shape(&content)
        };
        let Some((name_end, value_start)) = shaped else {
            if stack.is_empty() && calendars.is_empty() {
                return Err(IcsError::NotICalendar {
                    line: line_no,
                    found: truncate(&text()),
                });
            }
            if !stack.is_empty() && skipping == 0 {
                problems.push(if line.oversized {
                    format!(
                        "line {line_no}: line longer than {} bytes, ignored: {:?}",
                        limits.max_line_bytes,
                        truncate(&text())
                    )
                } else {
                    format!(
                        "line {line_no}: not a content line, ignored: {:?}",
                        truncate(&text())
                    )
                });
            }
            continue;
        };
        let name = content[..name_end].trim_ascii();
        let kind = if name.eq_ignore_ascii_case(b"BEGIN") {
            "BEGIN"
        } else if name.eq_ignore_ascii_case(b"END") {
            "END"
        } else {
            ""
        };
        let value = if kind.is_empty() {
            String::new()
        } else {
            String::from_utf8_lossy(content[value_start..].trim_ascii()).to_ascii_uppercase()
        };
        match kind {
            "BEGIN" => {
                if stack.is_empty() && value != "VCALENDAR" {
                    if calendars.is_empty() {
                        return Err(IcsError::NotICalendar {
                            line: line_no,
                            found: truncate(&text()),
                        });
                    }
                    // Text after the calendar is left alone.
                    continue;
                }
                if skipping > 0 || stack.len() >= max_depth {
                    if skipping == 0 {
                        problems.push(format!(
                            "line {line_no}: BEGIN:{value} is nested deeper than {max_depth} components; it is ignored with everything inside it"
                        ));
                    }
                    skipping += 1;
                    continue;
                }
                stack.push(Comp {
                    name: value,
                    begin: index,
                    end: index,
                    intact: false,
                    props: Vec::new(),
                    children: Vec::new(),
                });
            }
            "END" => {
                if skipping > 0 {
                    skipping -= 1;
                    continue;
                }
                if stack.is_empty() {
                    if calendars.is_empty() {
                        return Err(IcsError::NotICalendar {
                            line: line_no,
                            found: truncate(&text()),
                        });
                    }
                    continue;
                }
                // An END for a component further out closes the ones inside
                // it first (they were never closed); an END that names no
                // open component closes the innermost one.
                let target = stack
                    .iter()
                    .rposition(|c| c.name == value)
                    .unwrap_or(stack.len() - 1);
                while stack.len() > target + 1 {
                    if let Some(mut open) = stack.pop() {
                        problems.push(format!(
                            "line {line_no}: BEGIN:{} at line {} is not closed before END:{value}; it is closed here and skipped",
                            open.name, lines[open.begin].line_no
                        ));
                        open.end = index;
                        attach(&mut stack, &mut calendars, open);
                    }
                }
                if let Some(mut comp) = stack.pop() {
                    if comp.name != value {
                        problems.push(format!(
                            "line {line_no}: END:{value} does not match BEGIN:{} at line {}; read as END:{}",
                            comp.name, lines[comp.begin].line_no, comp.name
                        ));
                    }
                    comp.end = index;
                    comp.intact = true;
                    attach(&mut stack, &mut calendars, comp);
                }
            }
            _ => {
                if skipping > 0 {
                    continue;
                }
                match stack.last_mut() {
                    Some(comp) => comp.props.push(index),
                    None if calendars.is_empty() => {
                        return Err(IcsError::NotICalendar {
                            line: line_no,
                            found: truncate(&text()),
                        });
                    }
                    None => {}
                }
            }
        }
    }
    // One problem for a truncated file, however many components it cuts:
    // the innermost names what is lost.
    if let Some(innermost) = stack.last() {
        problems.push(if stack.len() == 1 {
            format!(
                "line {}: BEGIN:{} is never closed (file truncated?); every component closed before the end is read",
                lines[innermost.begin].line_no, innermost.name
            )
        } else {
            format!(
                "line {}: BEGIN:{} is never closed (file truncated?); it is skipped",
                lines[innermost.begin].line_no, innermost.name
            )
        });
    }
    while let Some(mut open) = stack.pop() {
        open.end = lines.len();
        // The outermost VCALENDAR of a truncated file still holds every
        // event that was closed before the cut.
        open.intact = stack.is_empty() && open.name == "VCALENDAR";
        attach(&mut stack, &mut calendars, open);
    }
    if calendars.is_empty() {
        return Err(IcsError::Empty);
    }
    let props = std::iter::repeat_with(std::cell::OnceCell::new)
        .take(lines.len())
        .collect();
    Ok(Document {
        src,
        lines,
        props,
        calendars,
        problems,
    })
}

fn attach(stack: &mut [Comp], calendars: &mut Vec<Comp>, comp: Comp) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(comp),
        None => calendars.push(comp),
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(60).collect()
}

// ---------------------------------------------------------------------------
// Mapping to domain events.

fn parse_lines(doc: &Document) -> Result<ParsedCalendar, IcsError> {
    let zones = doc.zones();
    let mut problems = doc.problems.clone();
    if zones.floating.is_none()
        && let Some(p) = doc
            .calendars
            .iter()
            .find_map(|c| doc.first(c, "X-WR-TIMEZONE"))
    {
        problems.push(format!(
            "line {}: X-WR-TIMEZONE {:?} is not a known time zone, ignored",
            p.line_no, p.value
        ));
    }
    let mut events = Vec::new();
    for vevent in doc.vevents() {
        let who = describe_vevent(doc, vevent);
        let line_no = doc.lines[vevent.begin].line_no;
        if !vevent.intact {
            // Already reported where the structure broke.
            continue;
        }
        let mut warnings = Vec::new();
        match map_event(doc, vevent, &zones, &mut warnings) {
            Ok(event) => events.push(event),
            Err(why) => problems.push(format!("line {line_no}: VEVENT{who} skipped: {why}")),
        }
        problems.extend(
            warnings
                .into_iter()
                .map(|(line, what)| format!("line {line}: VEVENT{who}: {what}")),
        );
    }
    Ok(ParsedCalendar {
        events,
        problems,
        default_tz: zones.floating,
    })
}

/// ` UID "x" SUMMARY "y"` for a problem message, as far as known.
fn describe_vevent(doc: &Document, vevent: &Comp) -> String {
    let mut who = String::new();
    if let Some(uid) = doc.first(vevent, "UID") {
        who.push_str(&format!(" UID {:?}", truncate(uid.value.trim())));
    }
    if let Some(summary) = doc.first(vevent, "SUMMARY") {
        who.push_str(&format!(
            " SUMMARY {:?}",
            truncate(&unescape_text(&summary.value))
        ));
    }
    who
}

/// A warning about one property: its line and what was done.
type Warning = (usize, String);

fn map_event(
    doc: &Document,
    ev: &Comp,
    zones: &Zones,
    warnings: &mut Vec<Warning>,
) -> Result<Event, String> {
    // RFC 5545 requires a UID, but exports from scripts and some old
    // clients have none; such an event is still an event (it is never
    // grouped with another one, see `recurrence::group_by_uid`).
    let uid = doc
        .first(ev, "UID")
        .map(|p| p.value.trim().to_string())
        .unwrap_or_default();
    let dtstart = doc.first(ev, "DTSTART").ok_or("no DTSTART")?;
    let start = time_prop(dtstart, zones, warnings).map_err(|e| format!("DTSTART: {e}"))?;

    let default = default_end(start).ok_or("DTSTART is out of range")?;
    let mut end = None;
    if let Some(dtend) = doc.first(ev, "DTEND") {
        match time_prop(dtend, zones, warnings) {
            Ok(t) => end = Some((t, "DTEND")),
            Err(e) => warnings.push((dtend.line_no, format!("DTEND dropped: {e}"))),
        }
    }
    if end.is_none()
        && let Some(duration) = doc.first(ev, "DURATION")
    {
        match parse_duration(&duration.value).map(|d| add_duration(start, &d)) {
            Some(Some(t)) => end = Some((t, "DURATION")),
            Some(None) => warnings.push((
                duration.line_no,
                format!("DURATION {:?} dropped: out of range", duration.value),
            )),
            None => warnings.push((
                duration.line_no,
                format!("DURATION {:?} dropped: not a duration", duration.value),
            )),
        }
    }
    // An end before the start is read as the default length (one day for
    // a date, none for a date-time), as if the end were not there.
    let end = match end {
        Some((t, name)) if t.to_utc(chrono_tz::UTC) < start.to_utc(chrono_tz::UTC) => {
            let line = doc.first(ev, name).map_or(0, |p| p.line_no);
            warnings.push((
                line,
                format!(
                    "{name} ends before DTSTART; read as DTSTART plus the default length ({})",
                    if start.is_date() { "one day" } else { "none" }
                ),
            ));
            default
        }
        Some((t, _)) => t,
        None => default,
    };
    let recurrence_id = doc
        .first(ev, "RECURRENCE-ID")
        .map(|p| time_prop(p, zones, warnings).map_err(|e| format!("RECURRENCE-ID: {e}")))
        .transpose()?;

    let mut recurrence = Recurrence {
        rrules: doc
            .all(ev, "RRULE")
            .map(|p| p.value.trim().to_string())
            .collect(),
        this_and_future: doc.first(ev, "RECURRENCE-ID").is_some_and(|p| {
            p.param("RANGE")
                .is_some_and(|r| r.eq_ignore_ascii_case("THISANDFUTURE"))
        }),
        ..Recurrence::default()
    };
    for prop in doc.all(ev, "RDATE") {
        for (raw, parsed) in time_values(prop, zones, warnings) {
            match parsed {
                Ok((t, period_end)) => {
                    recurrence.rdates.push(t);
                    if let Some(e) = period_end {
                        recurrence.periods.push((t, e));
                    }
                }
                Err(e) => warnings.push((prop.line_no, format!("RDATE {raw:?} dropped: {e}"))),
            }
        }
    }
    for prop in doc.all(ev, "EXDATE") {
        for (raw, parsed) in time_values(prop, zones, warnings) {
            match parsed {
                Ok((t, _)) => recurrence.exdates.push(t),
                Err(e) => warnings.push((prop.line_no, format!("EXDATE {raw:?} dropped: {e}"))),
            }
        }
    }

    let attendees = doc
        .each_uncached(ev, "ATTENDEE")
        .map(|(_, p)| map_attendee(&p))
        .collect();
    let text = |name: &str| doc.first(ev, name).map(|p| unescape_text(&p.value));
    let upper = |name: &str| {
        doc.first(ev, name)
            .map(|p| p.value.trim().to_ascii_uppercase())
    };
    let stamp = |name: &str| {
        doc.first(ev, name)
            .and_then(|p| time_prop(p, zones, &mut Vec::new()).ok())
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
        categories: categories(doc, ev),
    })
}

/// Every CATEGORIES property's values: a property may list several,
/// separated by unescaped commas, and an event may have several properties.
fn categories(doc: &Document, ev: &Comp) -> Vec<String> {
    let mut out = Vec::new();
    for prop in doc.all(ev, "CATEGORIES") {
        for raw in split_unescaped_commas(&prop.value) {
            if out.len() == super::MAX_CATEGORIES {
                return out;
            }
            let value = unescape_text(raw);
            let value = value.trim();
            if !value.is_empty() {
                out.push(value.to_string());
            }
        }
    }
    out
}

fn split_unescaped_commas(value: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(value);
    std::iter::from_fn(move || {
        let s = rest?;
        let bytes = s.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' => i += 2,
                b',' => {
                    rest = Some(&s[i + 1..]);
                    return Some(&s[..i]);
                }
                _ => i += 1,
            }
        }
        rest = None;
        Some(s)
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

/// The zone of a property's TZID parameter. An unknown TZID is read as
/// floating (then in the calendar's X-WR-TIMEZONE, when it has one), with a
/// warning.
fn zone_for(prop: &Prop, zones: &Zones, warnings: &mut Vec<Warning>) -> Option<Tz> {
    match prop.param("TZID") {
        Some(tzid) => match zones.resolve(tzid) {
            Some(tz) => Some(tz),
            None => {
                warnings.push((
                    prop.line_no,
                    format!(
                        "{}: unknown TZID {tzid:?} without a usable VTIMEZONE; read as floating",
                        prop.name
                    ),
                ));
                zones.floating
            }
        },
        None => zones.floating,
    }
}

/// Parse a DTSTART-like property with exactly one value.
fn time_prop(prop: &Prop, zones: &Zones, warnings: &mut Vec<Warning>) -> Result<EventTime, String> {
    let mut values = time_values(prop, zones, warnings);
    if values.len() != 1 {
        return Err(format!(
            "expected one value, found {:?}",
            truncate(&prop.value)
        ));
    }
    match values.pop() {
        Some((_, Ok((t, _)))) => Ok(t),
        Some((_, Err(e))) => Err(e),
        None => Err("empty value".to_string()),
    }
}

/// Parse a DTSTART-like property (used by `edit` to match RECURRENCE-ID the
/// way the parser reads it).
pub(crate) fn parse_time_prop(prop: &Prop, zones: &Zones) -> Result<EventTime, String> {
    time_prop(prop, zones, &mut Vec::new())
}

/// Parse a comma-separated list of date, date-time or period values sharing
/// the property's TZID and VALUE parameters, each on its own: one bad value
/// does not lose the others. A period gives its start and its end.
#[allow(clippy::type_complexity)]
fn time_values(
    prop: &Prop,
    zones: &Zones,
    warnings: &mut Vec<Warning>,
) -> Vec<(String, Result<(EventTime, Option<EventTime>), String>)> {
    let is_date = prop
        .param("VALUE")
        .is_some_and(|v| v.eq_ignore_ascii_case("DATE"));
    let zone = zone_for(prop, zones, warnings);
    prop.value
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| {
            // VALUE=PERIOD (RDATE only): `start/end` or `start/duration`.
            let parsed = match v.split_once('/') {
                None => parse_time_value(v, is_date, zone).map(|t| (t, None)),
                Some((s, e)) => parse_time_value(s, is_date, zone).and_then(|start| {
                    let end = match parse_duration(e) {
                        Some(d) => add_duration(start, &d)
                            .ok_or_else(|| format!("period {v:?} is out of range"))?,
                        None => parse_time_value(e, is_date, zone)?,
                    };
                    if end.to_utc(chrono_tz::UTC) < start.to_utc(chrono_tz::UTC) {
                        return Err(format!("period {v:?} ends before it starts"));
                    }
                    Ok((start, Some(end)))
                }),
            };
            (truncate(v), parsed)
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
    fn malformed_vevents_are_skipped_or_salvaged_with_a_problem() {
        let text = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:no-start\r\nSUMMARY:Broken\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:bad-date\r\nDTSTART:20261399T250000Z\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:bad-zone\r\nDTSTART;TZID=Mars/Olympus:20260302T090000\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nSUMMARY:No uid\r\nDTSTART:20260302T090000Z\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:good\r\nDTSTART:20260302T090000Z\r\nthis line has no colon\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let parsed = parse_ics(text).expect("parses");
        assert_eq!(
            parsed
                .events
                .iter()
                .map(|e| (e.uid.as_str(), e.start.to_display_string()))
                .collect::<Vec<_>>(),
            vec![
                ("bad-zone", "2026-03-02T09:00:00".to_string()),
                ("", "2026-03-02T09:00:00Z".to_string()),
                ("good", "2026-03-02T09:00:00Z".to_string()),
            ]
        );
        let expect = [
            "line 21: not a content line, ignored: \"this line has no colon\"",
            "line 2: VEVENT UID \"no-start\" SUMMARY \"Broken\" skipped: no DTSTART",
            "line 6: VEVENT UID \"bad-date\" skipped: DTSTART: bad date-time \"20261399T250000Z\"",
            "line 12: VEVENT UID \"bad-zone\": DTSTART: unknown TZID \"Mars/Olympus\" without a usable VTIMEZONE; read as floating",
        ];
        assert_eq!(parsed.problems, expect);
    }

    #[test]
    fn bad_values_are_dropped_and_the_event_stays() {
        fn check(body: &str, end: &str, exdates: usize, problems: &[&str]) {
            let parsed = parse_ics(&wrap(body)).expect("parses");
            assert_eq!(parsed.problems, problems, "{body}");
            let e = &parsed.events[0];
            assert_eq!(e.end.to_display_string(), end, "{body}");
            assert_eq!(e.recurrence.exdates.len(), exdates, "{body}");
        }
        // Lines: 1 VCALENDAR, 2 VERSION, 3 PRODID, 4 BEGIN:VEVENT, 5 UID, 6...
        check(
            "DTSTART:20260302T090000Z\r\nDTEND:2026030\r\n",
            "2026-03-02T09:00:00Z",
            0,
            &["line 7: VEVENT UID \"u1\": DTEND dropped: bad date-time \"2026030\""],
        );
        check(
            "DTSTART:20260302T090000Z\r\nDTEND:nonsense\r\nDURATION:PT1H\r\n",
            "2026-03-02T10:00:00Z",
            0,
            &["line 7: VEVENT UID \"u1\": DTEND dropped: bad date-time \"nonsense\""],
        );
        check(
            "DTSTART:20260302T090000Z\r\nDURATION:1 hour\r\n",
            "2026-03-02T09:00:00Z",
            0,
            &["line 7: VEVENT UID \"u1\": DURATION \"1 hour\" dropped: not a duration"],
        );
        check(
            "DTSTART:20260302T090000Z\r\nDTEND:20260301T090000Z\r\n",
            "2026-03-02T09:00:00Z",
            0,
            &[
                "line 7: VEVENT UID \"u1\": DTEND ends before DTSTART; read as DTSTART plus the default length (none)",
            ],
        );
        check(
            "DTSTART;VALUE=DATE:20260302\r\nDURATION:-P2D\r\n",
            "2026-03-03",
            0,
            &[
                "line 7: VEVENT UID \"u1\": DURATION ends before DTSTART; read as DTSTART plus the default length (one day)",
            ],
        );
        check(
            "DTSTART:20260302T090000Z\r\nRRULE:FREQ=DAILY\r\nEXDATE:20260303T090000Z,garbage,20260304T090000Z\r\nEXDATE;TZID=Nowhere/Land:20260305T090000\r\n",
            "2026-03-02T09:00:00Z",
            3,
            &[
                "line 8: VEVENT UID \"u1\": EXDATE \"garbage\" dropped: bad date-time \"garbage\"",
                "line 9: VEVENT UID \"u1\": EXDATE: unknown TZID \"Nowhere/Land\" without a usable VTIMEZONE; read as floating",
            ],
        );
    }

    #[test]
    fn custom_vtimezone_rules_are_used_when_the_name_is_unknown() {
        // An RRULE-based and an RDATE-based definition of central European
        // time under names no table knows.
        let rrule_based = "BEGIN:VTIMEZONE\r\nTZID:My Office Time\r\nBEGIN:STANDARD\r\nDTSTART:16011028T030000\r\nRRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\nBEGIN:DAYLIGHT\r\nDTSTART:16010325T020000\r\nRRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n";
        let mut rdates = String::from("BEGIN:VTIMEZONE\r\nTZID:Listed\r\n");
        for year in 2016..=2036 {
            // Last Sundays of March and October.
            let last_sunday = |month: u32| {
                let mut d = NaiveDate::from_ymd_opt(year, month, 31).expect("valid");
                while chrono::Datelike::weekday(&d) != chrono::Weekday::Sun {
                    d = d.pred_opt().expect("valid");
                }
                d.format("%Y%m%d").to_string()
            };
            rdates.push_str(&format!(
                "BEGIN:DAYLIGHT\r\nDTSTART:{0}T020000\r\nRDATE:{0}T020000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nEND:DAYLIGHT\r\nBEGIN:STANDARD\r\nDTSTART:{1}T030000\r\nRDATE:{1}T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\n",
                last_sunday(3),
                last_sunday(10)
            ));
        }
        rdates.push_str("END:VTIMEZONE\r\n");
        for (vtz, name) in [(rrule_based, "My Office Time"), (rdates.as_str(), "Listed")] {
            let text = format!(
                "BEGIN:VCALENDAR\r\n{vtz}BEGIN:VEVENT\r\nUID:u\r\nDTSTART;TZID=\"{name}\":20260710T090000\r\nDTEND;TZID=\"{name}\":20260110T090000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
            );
            let parsed = parse_ics(&text).expect("parses");
            let e = &parsed.events[0];
            // Summer: UTC+2; the (bad) DTEND in winter would be UTC+1.
            assert_eq!(
                e.start.to_utc(chrono_tz::UTC),
                Utc.with_ymd_and_hms(2026, 7, 10, 7, 0, 0)
                    .single()
                    .expect("valid"),
                "{name}"
            );
            assert!(matches!(e.start, EventTime::Zoned(_)), "{name}");
        }
    }

    #[test]
    fn structure_is_salvaged() {
        fn check(text: &str, uids: &[&str], problems: &[&str]) {
            let parsed = parse_ics(text).expect("parses");
            let got: Vec<&str> = parsed.events.iter().map(|e| e.uid.as_str()).collect();
            assert_eq!(got, uids, "{text:?}");
            assert_eq!(parsed.problems, problems, "{text:?}");
        }
        check(
            "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:x\nDTSTART:20260302T090000Z\nEND:VCALENDAR\n",
            &[],
            &[
                "line 5: BEGIN:VEVENT at line 2 is not closed before END:VCALENDAR; it is closed here and skipped",
            ],
        );
        check(
            "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:a\nDTSTART:20260302T090000Z\nEND:VEVENT\nBEGIN:VEVENT\nUID:x\n",
            &["a"],
            &["line 6: BEGIN:VEVENT is never closed (file truncated?); it is skipped"],
        );
        check(
            "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:a\nDTSTART:20260302T090000Z\nBEGIN:VALARM\nEND:VALRM\nEND:VEVENT\nEND:VCALENDAR\n",
            &["a"],
            &["line 6: END:VALRM does not match BEGIN:VALARM at line 5; read as END:VALARM"],
        );
    }

    #[test]
    fn a_calendar_cut_after_its_last_event_keeps_every_event() {
        let parsed = parse_ics(
            "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:a\nDTSTART:20260302T090000Z\nEND:VEVENT\n",
        )
        .expect("parses");
        assert_eq!(parsed.events.len(), 1);
        assert_eq!(
            parsed.problems,
            [
                "line 1: BEGIN:VCALENDAR is never closed (file truncated?); every component closed before the end is read"
            ]
        );
    }

    #[test]
    fn limits_are_typed_errors_and_depth_is_a_warning() {
        let limits = Limits {
            max_item_bytes: 100,
            ..Limits::DEFAULT
        };
        let big = wrap(&"X-PAD:0123456789\r\n".repeat(10));
        assert_eq!(
            parse_ics_bytes_with(big.as_bytes(), &limits),
            Err(IcsError::TooLarge {
                bytes: big.len(),
                limit: 100
            })
        );
        let limits = Limits {
            max_lines: 8,
            ..Limits::DEFAULT
        };
        assert_eq!(
            parse_ics_bytes_with(big.as_bytes(), &limits),
            Err(IcsError::TooManyLines { limit: 8 })
        );
        assert!(IcsError::TooManyLines { limit: 8 }.is_over_limit());
        let limits = Limits {
            max_line_bytes: 40,
            ..Limits::DEFAULT
        };
        let long = wrap(&format!(
            "DTSTART:20260302T090000Z\r\nDESCRIPTION:{}\r\n",
            "x".repeat(50)
        ));
        let parsed = parse_ics_bytes_with(long.as_bytes(), &limits).expect("parses");
        assert_eq!(parsed.events.len(), 1);
        assert_eq!(parsed.events[0].description, "");
        assert!(parsed.problems[0].starts_with("line 7: line longer than 40 bytes, ignored"));

        // Deep nesting: the inner components are skipped, the event after
        // them is read, and nothing recurses.
        let depth = 300_000;
        let text = format!(
            "BEGIN:VCALENDAR\n{}{}BEGIN:VEVENT\nUID:after\nDTSTART:20260302T090000Z\nEND:VEVENT\nEND:VCALENDAR\n",
            "BEGIN:X-NEST\n".repeat(depth),
            "END:X-NEST\n".repeat(depth)
        );
        let parsed = parse_ics(&text).expect("parses");
        assert_eq!(parsed.events.len(), 1);
        assert_eq!(
            parsed.problems,
            [
                "line 17: BEGIN:X-NEST is nested deeper than 16 components; it is ignored with everything inside it"
            ]
        );
    }

    #[test]
    fn whole_file_errors() {
        fn check(text: &str, expect: &str) {
            let err = parse_ics(text).expect_err("must fail");
            assert_eq!(err.to_string(), expect, "{text:?}");
        }
        check(
            "BEGIN:VCARD\nFN:x\nEND:VCARD\n",
            "not an iCalendar file: line 1 is \"BEGIN:VCARD\", expected BEGIN:VCALENDAR",
        );
        check("", "not an iCalendar file: it contains no BEGIN:VCALENDAR");
        check(
            "<html><body>404</body></html>\n",
            "not an iCalendar file: line 1 is \"<html><body>404</body></html>\", expected BEGIN:VCALENDAR",
        );
    }

    #[test]
    fn x_wr_timezone_is_the_zone_of_floating_times() {
        let text = "BEGIN:VCALENDAR\nX-WR-TIMEZONE:America/New_York\nBEGIN:VEVENT\nUID:u\nDTSTART:20260302T090000\nDTEND;TZID=Europe/Berlin:20260302T160000\nRDATE;VALUE=DATE:20260310\nEND:VEVENT\nBEGIN:VEVENT\nUID:v\nDTSTART;TZID=Unknown:20260302T090000\nEND:VEVENT\nEND:VCALENDAR\n";
        let parsed = parse_ics(text).expect("parses");
        assert_eq!(parsed.default_tz, Some(chrono_tz::America::New_York));
        let ny = |h| {
            EventTime::Zoned(
                chrono_tz::America::New_York
                    .with_ymd_and_hms(2026, 3, 2, h, 0, 0)
                    .single()
                    .expect("valid"),
            )
        };
        assert_eq!(parsed.events[0].start, ny(9));
        assert_eq!(parsed.events[0].end, berlin(2026, 3, 2, 16, 0));
        assert!(
            parsed.events[0].recurrence.rdates[0].is_date(),
            "dates stay dates"
        );
        // An unknown TZID is floating, so it is read in X-WR-TIMEZONE too.
        assert_eq!(parsed.events[1].start, ny(9));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 512, ..Default::default() })]
        /// The document finds content lines with `shape` and parses them
        /// later with `parse_prop`: both must read the same grammar.
        #[test]
        fn shape_agrees_with_parse_prop(line in "[A-Za-z;:=,\"\\- \u{e9}]{0,30}") {
            let got = shape(line.as_bytes());
            let full = parse_prop(line.as_bytes()).map(|p| (p.name_raw.end, p.value_start));
            proptest::prop_assert_eq!(got, full);
        }
    }

    #[test]
    fn lexer_ranges_cover_the_source() {
        let text = "BEGIN:VCALENDAR\r\nSUMMARY:a\r\n b\r\nEND:VCALENDAR";
        let lines = lex(text.as_bytes(), &Limits::DEFAULT).expect("lexes");
        let texts: Vec<_> = lines
            .iter()
            .map(|l| {
                (
                    String::from_utf8_lossy(&l.content(text.as_bytes())).into_owned(),
                    &text[l.range.clone()],
                    l.has_eol,
                    l.line_no,
                )
            })
            .collect();
        assert_eq!(
            texts,
            vec![
                (
                    "BEGIN:VCALENDAR".to_string(),
                    "BEGIN:VCALENDAR\r\n",
                    true,
                    1
                ),
                ("SUMMARY:ab".to_string(), "SUMMARY:a\r\n b\r\n", true, 2),
                ("END:VCALENDAR".to_string(), "END:VCALENDAR", false, 4),
            ]
        );
    }
}
