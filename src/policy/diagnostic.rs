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

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = &source[..floor_char_boundary(source, offset)];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Render diagnostics the way rustc does. `styled` adds ANSI colours.
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
    let mut out = String::new();
    for d in diags {
        let level = match d.severity {
            Severity::Error => Level::ERROR,
            Severity::Warning => Level::WARNING,
        };
        let source = source_of(&d.file);
        let title = level.primary_title(d.message.as_str()).id(d.code);
        let mut group = match (&d.span, &source) {
            (Some(span), Some(src)) => {
                let span = clamp(span.clone(), src);
                let mut snippet = Snippet::source(src.as_str())
                    .path(d.file.as_str())
                    .annotation(AnnotationKind::Primary.span(span).label(d.label.as_str()));
                for r in d.related.iter().filter(|r| r.file == d.file) {
                    snippet = snippet.annotation(
                        AnnotationKind::Context
                            .span(clamp(r.span.clone(), src))
                            .label(r.label.as_str()),
                    );
                }
                title.element(snippet)
            }
            _ => title.element(annotate_snippets::Origin::path(d.file.as_str())),
        };
        let mut groups: Vec<Group<'_>> = Vec::new();
        for r in d.related.iter().filter(|r| r.file != d.file) {
            if let Some(src) = &r.source {
                group = group.element(
                    Snippet::source(src.as_str())
                        .path(r.file.as_str())
                        .annotation(
                            AnnotationKind::Context
                                .span(clamp(r.span.clone(), src))
                                .label(r.label.as_str()),
                        ),
                );
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
pub fn render_json(diags: &[Diagnostic], source_of: &dyn Fn(&str) -> Option<String>) -> String {
    let items: Vec<JsonDiagnostic<'_>> = diags
        .iter()
        .map(|d| {
            let src = source_of(&d.file);
            let (start, end) = match (&d.span, &src) {
                (Some(span), Some(src)) => (
                    Some(line_col(src, span.start)),
                    Some(line_col(src, span.end)),
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

/// The help line for an unknown time zone name: the nearest IANA name (a
/// bare city such as `Lisbon` finds `Europe/Lisbon`), or two examples when
/// nothing is close.
pub fn time_zone_help(input: &str) -> String {
    let names = || chrono_tz::TZ_VARIANTS.iter().map(|t| t.name());
    let city = |name: &'static str| name.rsplit('/').next().unwrap_or(name);
    let wanted = input.trim().replace(' ', "_");
    let by_city = names()
        .find(|n| n.contains('/') && city(n).eq_ignore_ascii_case(&wanted))
        .or_else(|| {
            did_you_mean(&wanted, names().filter(|n| n.contains('/')).map(city))
                .and_then(|c| names().find(|n| n.contains('/') && city(n) == c))
        });
    by_city
        .or_else(|| did_you_mean(&wanted, names()))
        .map(|c| format!("did you mean `{c}`?"))
        .unwrap_or_else(|| "use an IANA name such as `Europe/Lisbon` or `America/New_York`".into())
}
