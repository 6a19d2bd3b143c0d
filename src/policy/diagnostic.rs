//! Compiler-style diagnostics for policy and config files: file, line,
//! column, the offending snippet underlined, and a help line. Rendering is
//! pure (a string out); the caller decides where it goes.

use std::ops::Range;

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// A secondary location, e.g. the first definition of a duplicated member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Related {
    pub file: String,
    pub source: Option<String>,
    pub span: Range<usize>,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Stable short name for tools, e.g. `unknown-key`.
    pub code: &'static str,
    /// Lowercase, no trailing period, user input in backticks.
    pub message: String,
    pub file: String,
    /// Byte range in the file; `None` for a problem with the file as a whole.
    pub span: Option<Range<usize>>,
    pub label: String,
    pub help: Option<String>,
    pub related: Vec<Related>,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            file: String::new(),
            span: None,
            label: String::new(),
            help: None,
            related: Vec::new(),
        }
    }

    pub fn warning(code: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message)
        }
    }

    pub fn at(mut self, span: Range<usize>, label: impl Into<String>) -> Diagnostic {
        self.span = Some(span);
        self.label = label.into();
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    pub fn help_opt(mut self, help: Option<String>) -> Diagnostic {
        self.help = help;
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// 1-based line and column (in characters) of a byte offset. For many
/// offsets into one text use `LineIndex`, which does not rescan the text.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    LineIndex::new(source).line_col(offset)
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Where each line of a text starts, built once, so that rendering `n`
/// diagnostics costs the text once plus `n` lookups, not `n` times the text.
pub struct LineIndex<'s> {
    source: &'s str,
    /// Byte offset of the start of every line.
    starts: Vec<usize>,
    /// The last column worked out, `(offset, column)`: diagnostics come
    /// sorted by place, so the next one on a long line counts on from here
    /// instead of from the line's start.
    cursor: std::cell::Cell<(usize, usize)>,
}

impl<'s> LineIndex<'s> {
    pub fn new(source: &'s str) -> LineIndex<'s> {
        let starts = std::iter::once(0)
            .chain(source.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineIndex {
            source,
            starts,
            cursor: std::cell::Cell::new((0, 1)),
        }
    }

    /// 0-based line number holding `offset`.
    fn line_of(&self, offset: usize) -> usize {
        self.starts.partition_point(|&s| s <= offset) - 1
    }

    /// Byte range of line `line` (0-based), without its newline.
    fn line_range(&self, line: usize) -> Range<usize> {
        let start = self.starts[line];
        let end = self
            .starts
            .get(line + 1)
            .map_or(self.source.len(), |next| next - 1);
        start..end.max(start)
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = floor_char_boundary(self.source, offset.min(self.source.len()));
        let line = self.line_of(offset);
        let line_start = self.starts[line];
        let (at, col) = self.cursor.get();
        let (from, col) = if at >= line_start && at <= offset {
            (at, col)
        } else {
            (line_start, 1)
        };
        let col = col + self.source[from..offset].chars().count();
        self.cursor.set((offset, col));
        (line + 1, col)
    }
}

/// Lines longer than this are not shown whole under a diagnostic: a window
/// of the line around the place is, so that a file with one huge line and
/// thousands of problems on it renders in time linear in the problems.
const LONG_LINE: usize = 512;
/// Bytes of a long line shown on either side of the place.
const WINDOW: usize = 80;

/// The part of a file a snippet shows: whole lines around `spans`, or for a
/// long single line a window of it.
struct Excerpt<'s> {
    text: &'s str,
    /// Byte offset of `text` in the file.
    offset: usize,
    /// 1-based number of the first line shown.
    line: usize,
    /// Set when `text` is a window of one long line: the snippet then
    /// carries no path, and the place is given by an explicit origin.
    windowed: bool,
}

impl<'s> LineIndex<'s> {
    /// The lines that hold `span`, or a window of a long line around it.
    fn excerpt(&self, span: &Range<usize>) -> Excerpt<'s> {
        let first = self.line_of(span.start);
        let last = self.line_of(span.end.max(span.start));
        let start = self.line_range(first).start;
        let end = self.line_range(last).end;
        if first == last && end - start > LONG_LINE {
            let from =
                floor_char_boundary(self.source, span.start.saturating_sub(WINDOW).max(start));
            let to = floor_char_boundary(self.source, (span.end + WINDOW).min(end))
                .max(span.end.min(end));
            return Excerpt {
                text: &self.source[from..to],
                offset: from,
                line: first + 1,
                windowed: true,
            };
        }
        Excerpt {
            text: &self.source[start..end],
            offset: start,
            line: first + 1,
            windowed: false,
        }
    }
}

/// Render diagnostics the way rustc does. `styled` adds ANSI colours.
/// `source_of` is asked once per file, and each diagnostic shows only the
/// lines it points at: the cost is linear in the files and the diagnostics.
pub fn render_human(
    diags: &[Diagnostic],
    source_of: &dyn Fn(&str) -> Option<String>,
    styled: bool,
) -> String {
    let renderer = if styled {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    let sources = Sources::new(diags, source_of);
    let indexes = sources.indexes();
    let mut out = String::new();
    for d in diags {
        let level = match d.severity {
            Severity::Error => Level::ERROR,
            Severity::Warning => Level::WARNING,
        };
        let title = level.primary_title(d.message.as_str()).id(d.code);
        let mut group = match (&d.span, indexes.get(d.file.as_str())) {
            (Some(span), Some(index)) => {
                let span = clamp(span.clone(), index.source);
                // Same-file related places share the snippet when they are
                // near; a far one gets its own, so that the lines between
                // are never walked.
                let near = |r: &Related| {
                    r.file == d.file && {
                        let r = clamp(r.span.clone(), index.source);
                        index.line_of(r.start).abs_diff(index.line_of(span.start)) <= 8
                    }
                };
                let whole = d
                    .related
                    .iter()
                    .filter(|r| near(r))
                    .map(|r| clamp(r.span.clone(), index.source))
                    .fold(span.clone(), |a, r| a.start.min(r.start)..a.end.max(r.end));
                let ex = index.excerpt(&whole);
                let ex = if ex.windowed {
                    index.excerpt(&span)
                } else {
                    ex
                };
                let local = |r: Range<usize>| {
                    let lo = ex.offset;
                    let hi = ex.offset + ex.text.len();
                    r.start.clamp(lo, hi) - lo..r.end.clamp(lo, hi) - lo
                };
                let mut snippet = Snippet::source(ex.text).line_start(ex.line).annotation(
                    AnnotationKind::Primary
                        .span(local(span.clone()))
                        .label(d.label.as_str()),
                );
                let mut g = Group::with_title(title);
                if ex.windowed {
                    // A window of the line would show the wrong column:
                    // give the place and the label without the text.
                    let (line, col) = index.line_col(span.start);
                    g = g
                        .element(
                            annotate_snippets::Origin::path(d.file.as_str())
                                .line(line)
                                .char_column(col),
                        )
                        .element(
                            Level::NOTE
                                .message(format!("{} (the line is too long to show)", d.label)),
                        );
                } else {
                    snippet = snippet.path(d.file.as_str());
                    for r in d.related.iter().filter(|r| near(r)) {
                        snippet = snippet.annotation(
                            AnnotationKind::Context
                                .span(local(clamp(r.span.clone(), index.source)))
                                .label(r.label.as_str()),
                        );
                    }
                    g = g.element(snippet);
                }
                for r in d
                    .related
                    .iter()
                    .filter(|r| r.file == d.file && (ex.windowed || !near(r)))
                {
                    g = g.elements(related_elements(index, r));
                }
                g
            }
            _ => title.element(annotate_snippets::Origin::path(d.file.as_str())),
        };
        let mut groups: Vec<Group<'_>> = Vec::new();
        for r in d.related.iter().filter(|r| r.file != d.file) {
            if let Some(index) = indexes.get(r.file.as_str()) {
                group = group.elements(related_elements(index, r));
            }
        }
        if let Some(help) = &d.help {
            group = group.element(Level::HELP.message(help.as_str()));
        }
        groups.insert(0, group);
        out.push_str(&renderer.render(&groups));
        out.push_str("\n\n");
    }
    out
}

/// A secondary place in a snippet of its own (or, on a line too long to
/// show, its place and label).
fn related_elements<'a>(
    index: &LineIndex<'a>,
    r: &'a Related,
) -> Vec<annotate_snippets::Element<'a>> {
    let span = clamp(r.span.clone(), index.source);
    let ex = index.excerpt(&span);
    if ex.windowed {
        let (line, col) = index.line_col(span.start);
        return vec![
            annotate_snippets::Origin::path(r.file.as_str())
                .line(line)
                .char_column(col)
                .into(),
            Level::NOTE
                .message(format!("{} (the line is too long to show)", r.label))
                .into(),
        ];
    }
    let lo = ex.offset;
    let hi = ex.offset + ex.text.len();
    vec![
        Snippet::source(ex.text)
            .line_start(ex.line)
            .path(r.file.as_str())
            .annotation(
                AnnotationKind::Context
                    .span(span.start.clamp(lo, hi) - lo..span.end.clamp(lo, hi) - lo)
                    .label(r.label.as_str()),
            )
            .into(),
    ]
}

/// Every file's text, asked for once, with its line index. A related place
/// in another file brings that file's text with it (`Related::source`).
struct Sources {
    texts: Vec<(String, String)>,
}

impl Sources {
    fn new(diags: &[Diagnostic], source_of: &dyn Fn(&str) -> Option<String>) -> Sources {
        let mut texts: Vec<(String, String)> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for d in diags {
            if seen.insert(d.file.as_str())
                && let Some(src) = source_of(&d.file)
            {
                texts.push((d.file.clone(), src));
            }
            for r in &d.related {
                if seen.insert(r.file.as_str())
                    && let Some(src) = r.source.clone().or_else(|| source_of(&r.file))
                {
                    texts.push((r.file.clone(), src));
                }
            }
        }
        Sources { texts }
    }

    fn indexes(&self) -> std::collections::HashMap<&str, LineIndex<'_>> {
        self.texts
            .iter()
            .map(|(f, s)| (f.as_str(), LineIndex::new(s)))
            .collect()
    }
}
fn clamp(span: Range<usize>, src: &str) -> Range<usize> {
    let start = floor_char_boundary(src, span.start.min(src.len()));
    let end = floor_char_boundary(src, span.end.min(src.len())).max(start);
    start..end
}

#[derive(serde::Serialize)]
struct JsonDiagnostic<'a> {
    severity: Severity,
    code: &'a str,
    message: &'a str,
    file: &'a str,
    line: Option<usize>,
    column: Option<usize>,
    end_line: Option<usize>,
    end_column: Option<usize>,
    label: &'a str,
    help: Option<&'a str>,
}

/// One JSON array of diagnostics with 1-based positions, for editors and CI.
/// Linear in the files and the diagnostics, as `render_human` is.
pub fn render_json(diags: &[Diagnostic], source_of: &dyn Fn(&str) -> Option<String>) -> String {
    let sources = Sources::new(diags, source_of);
    let indexes = sources.indexes();
    let items: Vec<JsonDiagnostic<'_>> = diags
        .iter()
        .map(|d| {
            let (start, end) = match (&d.span, indexes.get(d.file.as_str())) {
                (Some(span), Some(index)) => (
                    Some(index.line_col(span.start)),
                    Some(index.line_col(span.end)),
                ),
                _ => (None, None),
            };
            JsonDiagnostic {
                severity: d.severity,
                code: d.code,
                message: &d.message,
                file: &d.file,
                line: start.map(|p| p.0),
                column: start.map(|p| p.1),
                end_line: end.map(|p| p.0),
                end_column: end.map(|p| p.1),
                label: &d.label,
                help: d.help.as_deref(),
            }
        })
        .collect();
    serde_json::to_string_pretty(&items).unwrap_or_else(|_| "[]".into())
}

/// The closest candidate to `input`, if it is close enough to be a likely
/// typo ("wedensday" → "wednesday").
pub fn did_you_mean<'a>(
    input: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let input_lower = input.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(&input_lower, &c.to_lowercase()), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

pub fn did_you_mean_help<'a>(
    input: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    did_you_mean(input, candidates).map(|c| format!("did you mean `{c}`?"))
}

/// The help line for an unknown key in a policy or config table: the
/// nearest known key, or every key the table takes.
pub fn unknown_key_help(key: &str, known: &[&str]) -> String {
    did_you_mean_help(key, known.iter().copied()).unwrap_or_else(|| {
        let list: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
        format!("the keys here are {}", list.join(", "))
    })
}

/// The help line for an unknown time zone name: the nearest IANA name (a
/// bare city such as `Lisbon` finds `Europe/Lisbon`), or two examples when
/// nothing is close.
pub fn time_zone_help(input: &str) -> String {
    let names = || chrono_tz::TZ_VARIANTS.iter().map(|t| t.name());
    let city = |name: &'static str| name.rsplit('/').next().unwrap_or(name);
    let wanted = input.trim().replace(' ', "_");
    let by_city = || {
        names()
            .find(|n| n.contains('/') && city(n).eq_ignore_ascii_case(&wanted))
            .or_else(|| {
                did_you_mean(&wanted, names().filter(|n| n.contains('/')).map(city))
                    .and_then(|c| names().find(|n| n.contains('/') && city(n) == c))
            })
    };
    // `Europe/Lisboa` is a near miss of a whole name; `Lisbon` of a city.
    let found = if wanted.contains('/') {
        did_you_mean(&wanted, names()).or_else(by_city)
    } else {
        by_city().or_else(|| did_you_mean(&wanted, names()))
    };
    found
        .map(|c| format!("did you mean `{c}`?"))
        .unwrap_or_else(|| "use an IANA name such as `Europe/Lisbon` or `America/New_York`".into())
}
