//! Which of the team's accepted purposes an invite serves, and the two rules
//! that read it: `purpose` (a meeting must serve one of the purposes the
//! team wrote down, else go async) and `decision_record` (a decision meeting
//! must link where the decision will be written).
//!
//! A purpose is recognised three ways: an explicit `Purpose: decision` line
//! in the description, the event's iCalendar `CATEGORIES`, or words the team
//! configures (`decide`, `sign-off`) in the title or description. Matching
//! is on words, so case and punctuation do not matter (`**PURPOSE** -
//! Decision.` states `decision`). What someone else wrote does not state
//! this meeting's purpose: quoted reply lines (`> ...`, `<blockquote>`) and
//! links (URLs, markdown `[text](url)`, HTML `<a>`) are not read.
//!
//! Pure and bounded: only the first `MAX_SCANNED_BYTES` of a description
//! are read (its first 16 `Purpose:` lines, 16 values each), and a policy
//! has at most `MAX_PURPOSES` purposes of at most
//! `MAX_WORDS` words each.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// Only this much of a description is read for purposes and record links:
/// a purpose line or a record link belongs near the top, and a hostile
/// description of megabytes must not cost more than this.
pub const MAX_SCANNED_BYTES: usize = 64 * 1024;
/// Bounds the policy parser enforces.
pub const MAX_PURPOSES: usize = 32;
pub const MAX_WORDS: usize = 64;
pub const MAX_HOSTS: usize = 64;

/// The purposes a policy accepts when it lists none: the three that async
/// teams agree are worth a meeting.
pub const DEFAULT_PURPOSES: [&str; 3] = ["decision", "feedback", "relationships"];

/// One purpose that justifies a meeting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purpose {
    /// Lowercase; what a `Purpose:` line names.
    pub name: String,
    /// Words or phrases that state this purpose anywhere in the title or
    /// description, lowercased (`decide`, `sign-off`, `team lunch`).
    pub words: Vec<String>,
    /// Other CATEGORIES values that state it (the name itself always does).
    pub categories: Vec<String>,
}

impl Purpose {
    pub fn named(name: &str) -> Purpose {
        Purpose {
            name: name.to_lowercase(),
            words: Vec::new(),
            categories: Vec::new(),
        }
    }
}

/// The default purposes, with no configured words.
pub fn default_purposes() -> Vec<Purpose> {
    DEFAULT_PURPOSES.iter().map(|n| Purpose::named(n)).collect()
}

/// An async alternative to a meeting that the comment offers, with the
/// team's own link when the policy gives one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alternative {
    /// "a document", "a recorded video".
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

/// The alternatives offered when the policy names none.
pub fn default_alternatives() -> Vec<Alternative> {
    ["a document", "an email", "a recorded video"]
        .iter()
        .map(|n| Alternative {
            name: (*n).to_string(),
            link: None,
        })
        .collect()
}

/// The `purpose` rule's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurposeRule {
    pub purposes: Vec<Purpose>,
    pub alternatives: Vec<Alternative>,
}

/// The `decision_record` rule's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionRecordRule {
    /// The purpose whose meetings need a record (lowercase; `decision`).
    pub purpose: String,
    /// Where records may live: a host (`wiki.example.com`, which also takes
    /// its subdomains) and optionally a path prefix (`github.com/acme`).
    pub hosts: Vec<HostPattern>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    /// Lowercase, without scheme or port.
    pub host: String,
    /// Without leading or trailing `/`; empty for the whole host.
    pub path: String,
}

impl HostPattern {
    /// `github.com/acme/`, `https://wiki.example.com`, `Wiki.Example.com`.
    /// `None` when there is no host to speak of.
    pub fn parse(s: &str) -> Option<HostPattern> {
        let s = s.trim();
        let s = s.split_once("://").map_or(
            s,
            |(scheme, rest)| if scheme.contains('/') { s } else { rest },
        );
        let (host, path) = s.split_once('/').unwrap_or((s, ""));
        let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
        let host = host.split(':').next().unwrap_or("").to_lowercase();
        let valid = host.contains('.')
            && !host.starts_with('.')
            && !host.ends_with('.')
            && host
                .chars()
                .all(|c| c.is_alphanumeric() || c == '-' || c == '.');
        valid.then(|| HostPattern {
            host,
            path: path.trim_matches('/').to_string(),
        })
    }

    pub fn describe(&self) -> String {
        if self.path.is_empty() {
            self.host.clone()
        } else {
            format!("{}/{}", self.host, self.path)
        }
    }

    /// Whether a link points here: the same host or a subdomain of it, and
    /// the path prefix on a segment boundary.
    pub fn accepts(&self, url: &str) -> bool {
        let Some((host, path)) = url_host_path(url) else {
            return false;
        };
        let host_ok = host == self.host
            || host
                .strip_suffix(self.host.as_str())
                .is_some_and(|prefix| prefix.ends_with('.'));
        if !host_ok {
            return false;
        }
        if self.path.is_empty() {
            return true;
        }
        let path = path.trim_start_matches('/');
        path.get(..self.path.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(&self.path))
            && matches!(
                path.as_bytes().get(self.path.len()),
                None | Some(b'/' | b'?' | b'#')
            )
    }
}

/// The host (lowercase, without user or port) and the rest of an
/// `http(s)://` link.
fn url_host_path(url: &str) -> Option<(String, &str)> {
    let rest = strip_prefix_ci(url, "https://").or_else(|| strip_prefix_ci(url, "http://"))?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = authority.split(':').next().unwrap_or("").to_lowercase();
    (!host.is_empty()).then_some((host, path))
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    (s.len() >= prefix.len()
        && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes()))
    .then(|| &s[prefix.len()..])
}

// ---- recognition ------------------------------------------------------------

/// How a purpose was stated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// A `Purpose: ...` line in the description.
    Line,
    /// The event's CATEGORIES.
    Category,
    /// A word the team configured, in the title or description.
    Words,
}

/// What an invite says about its purpose.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Recognition {
    /// Indexes into the purposes, in the policy's order, each with the first
    /// way it was stated (line, then categories, then words).
    pub stated: Vec<(usize, Via)>,
    /// What `Purpose:` lines name that is not one of the purposes, as
    /// written, with the nearest purpose name if one is close.
    pub unknown: Vec<(String, Option<String>)>,
}

impl Recognition {
    pub fn states(&self, index: usize) -> bool {
        self.stated.iter().any(|(i, _)| *i == index)
    }

    /// The first stated purpose's name.
    pub fn first<'p>(&self, purposes: &'p [Purpose]) -> Option<&'p str> {
        self.stated
            .first()
            .and_then(|(i, _)| purposes.get(*i))
            .map(|p| p.name.as_str())
    }
}

/// Which of `purposes` the invite states.
pub fn recognise(
    title: &str,
    description: &str,
    categories: &[String],
    purposes: &[Purpose],
) -> Recognition {
    let mut r = Recognition::default();
    let lines = plain_lines(description);
    let name_tokens: Vec<Vec<String>> = purposes.iter().map(|p| tokens(&p.name)).collect();
    let word_tokens: Vec<Vec<Vec<String>>> = purposes
        .iter()
        .map(|p| p.words.iter().map(|w| tokens(w)).collect())
        .collect();
    let add = |r: &mut Recognition, i: usize, via: Via| {
        if !r.states(i) {
            r.stated.push((i, via));
        }
    };

    // 1. `Purpose:` lines: an invite has one; a description of thousands
    // is read for its first few, each for its first few values.
    let purpose_lines = lines
        .iter()
        .filter(|l| !l.quoted)
        .filter_map(|l| purpose_line_value(&l.text))
        .take(MAX_PURPOSE_LINES);
    for value in purpose_lines {
        for part in split_value(value).take(MAX_PURPOSE_LINES) {
            let toks = tokens(part);
            if toks.is_empty() {
                continue;
            }
            let mut matched = false;
            for (i, name) in name_tokens.iter().enumerate() {
                if contains_phrase(&toks, name)
                    || word_tokens[i].iter().any(|w| contains_phrase(&toks, w))
                {
                    add(&mut r, i, Via::Line);
                    matched = true;
                }
            }
            if !matched {
                let near = toks.iter().find_map(|t| {
                    super::diagnostic::did_you_mean(t, purposes.iter().map(|p| p.name.as_str()))
                });
                let written = shorten(part.trim().trim_matches(is_markup).trim());
                if r.unknown.len() < MAX_UNKNOWN && !r.unknown.iter().any(|(w, _)| *w == written) {
                    r.unknown.push((written, near.map(str::to_string)));
                }
            }
        }
    }

    // 2. CATEGORIES: the purpose's name or one of its listed categories.
    for c in categories {
        let toks = tokens(c);
        if toks.is_empty() {
            continue;
        }
        for (i, p) in purposes.iter().enumerate() {
            if toks == name_tokens[i] || p.categories.iter().any(|pc| tokens(pc) == toks) {
                add(&mut r, i, Via::Category);
            }
        }
    }

    // 3. Configured words in the title or the (unquoted) description.
    if word_tokens.iter().any(|w| !w.is_empty()) {
        let texts = std::iter::once(tokens(&without_links(title)))
            .chain(lines.iter().filter(|l| !l.quoted).map(|l| tokens(&l.text)));
        // Phrases by their first word: each word of the text is looked up
        // once, not compared with every phrase of every purpose.
        let mut by_first: HashMap<&str, Vec<(usize, &[String])>> = HashMap::new();
        for (i, words) in word_tokens.iter().enumerate() {
            for w in words.iter().filter(|w| !w.is_empty()) {
                by_first.entry(w[0].as_str()).or_default().push((i, w));
            }
        }
        for toks in texts {
            for (j, t) in toks.iter().enumerate() {
                for (i, w) in by_first.get(t.as_str()).into_iter().flatten() {
                    if toks[j..].starts_with(w) {
                        add(&mut r, *i, Via::Words);
                    }
                }
            }
        }
    }
    r.stated.sort_by_key(|(i, _)| *i);
    r
}

/// At most this many `Purpose:` lines, and values on each, are read.
const MAX_PURPOSE_LINES: usize = 16;
/// At most this many unknown `Purpose:` values are kept: the comment names
/// the first, `check` lists them all.
const MAX_UNKNOWN: usize = 8;
/// An unknown value is quoted back in comments: at most this many chars.
const MAX_WRITTEN_CHARS: usize = 40;

fn shorten(s: &str) -> String {
    match s.char_indices().nth(MAX_WRITTEN_CHARS) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_string(),
    }
}

fn is_markup(c: char) -> bool {
    matches!(c, '*' | '_' | '`' | '"' | '\'' | '.' | '!' | '?' | '~')
}

/// The value of a `Purpose: ...` line (also `**Purpose** - ...`,
/// `purpose = ...`, `- Purpose: ...`), or `None` for any other line.
fn purpose_line_value(line: &str) -> Option<&str> {
    let s = line.trim_start_matches(|c: char| {
        c.is_whitespace() || matches!(c, '*' | '_' | '#' | '-' | '•' | '`')
    });
    let rest = strip_prefix_ci(s, "purposes").or_else(|| strip_prefix_ci(s, "purpose"))?;
    let rest = rest.trim_start_matches(|c: char| {
        c.is_whitespace() || matches!(c, '*' | '_' | '`' | ')' | ']')
    });
    let mut chars = rest.chars();
    match chars.next() {
        Some(':' | '=' | '-' | '–' | '—') => Some(chars.as_str()),
        _ => None,
    }
}

/// `decision, feedback` / `decision and feedback` / `decision / feedback`.
fn split_value(value: &str) -> impl Iterator<Item = &str> {
    value
        .split([',', ';', '/', '&', '+', '|'])
        .flat_map(|p| split_words(p, " and "))
        .flat_map(|p| split_words(p, " or "))
}

fn split_words<'a>(s: &'a str, sep: &'static str) -> impl Iterator<Item = &'a str> {
    let lower = s.to_ascii_lowercase();
    let mut cuts = Vec::new();
    let mut from = 0;
    while let Some(i) = lower[from..].find(sep) {
        cuts.push(from + i);
        from += i + sep.len();
    }
    let mut start = 0;
    let mut out = Vec::with_capacity(cuts.len() + 1);
    for c in cuts {
        out.push(&s[start..c]);
        start = c + sep.len();
    }
    out.push(&s[start..]);
    out.into_iter()
}

/// Lowercase words of letters and digits: `Sign-off!` is `sign`, `off`.
pub fn tokens(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_lowercase)
        .collect()
}

fn contains_phrase(hay: &[String], needle: &[String]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// A description line as a person wrote it: HTML tags, entities and links
/// taken out, and whether it is quoted from someone else.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PlainLine {
    text: String,
    quoted: bool,
}

/// Tags that end a line in an HTML description (Google sends HTML).
const BREAKING_TAGS: &[&str] = &[
    "br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol",
];

/// The first `MAX_SCANNED_BYTES` of a description as plain lines. One pass,
/// every search bounded by the line or the scanned text.
fn plain_lines(description: &str) -> Vec<PlainLine> {
    let text = truncate(description, MAX_SCANNED_BYTES);
    let mut out = Vec::new();
    let mut line = String::new();
    let mut blockquote = 0u32;
    let mut line_quoted = false;
    let push = |out: &mut Vec<PlainLine>, line: &mut String, quoted: bool| {
        let text = without_links(line);
        let is_quote = quoted || text.trim_start().starts_with('>');
        out.push(PlainLine {
            text,
            quoted: is_quote,
        });
        line.clear();
    };
    let mut i = 0;
    let bytes = text.as_bytes();
    // Whether the current text line (up to the next `\n`) is a `>` quote:
    // the pieces an HTML break cuts it into are quoted too.
    let mut raw_quoted = starts_quoted(text);
    let (mut next_gt, mut no_gt): (Option<usize>, bool) = (None, false);
    while i < bytes.len() {
        let b = bytes[i];
        if line.is_empty() {
            line_quoted = blockquote > 0 || raw_quoted;
        }
        match b {
            b'\n' => {
                push(&mut out, &mut line, line_quoted || blockquote > 0);
                i += 1;
                raw_quoted = starts_quoted(&text[i..]);
            }
            b'<' => {
                // The next `>` is looked for once per `>`, not once per
                // `<`: a text of many `<` stays linear.
                if !no_gt && next_gt.is_none_or(|g| g < i) {
                    next_gt = text[i..].find('>').map(|g| i + g);
                    no_gt = next_gt.is_none();
                }
                let Some(gt) = next_gt.filter(|_| !no_gt) else {
                    line.push('<');
                    i += 1;
                    continue;
                };
                let len = gt - i;
                let tag = &text[i + 1..i + len];
                let closing = tag.starts_with('/');
                let name: String = tag
                    .trim_start_matches('/')
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric())
                    .map(|c| c.to_ascii_lowercase())
                    .collect();
                i += len + 1;
                if name == "blockquote" {
                    if closing {
                        blockquote = blockquote.saturating_sub(1);
                    } else {
                        blockquote = blockquote.saturating_add(1);
                    }
                    push(&mut out, &mut line, line_quoted);
                } else if BREAKING_TAGS.contains(&name.as_str()) {
                    push(&mut out, &mut line, line_quoted);
                } else if name == "a" && !closing {
                    // A link's text is the link: skip to `</a>`.
                    let from = i;
                    match find_ci(&text[i..], "</a") {
                        Some(end) => {
                            i += end;
                            i += text[i..].find('>').map_or(text.len() - i, |e| e + 1);
                        }
                        None => i = text.len(),
                    }
                    // A link that spans lines leaves us on a later line.
                    if let Some(nl) = text[from..i].rfind('\n') {
                        raw_quoted = starts_quoted(&text[from + nl + 1..]);
                    }
                }
            }
            b'&' => {
                let entity_end = text[i..]
                    .char_indices()
                    .take(10)
                    .find(|(_, c)| *c == ';')
                    .map(|(j, _)| j);
                match entity_end {
                    Some(j) => {
                        let entity = &text[i + 1..i + j];
                        line.push(match entity {
                            "amp" => '&',
                            "gt" => '>',
                            "lt" => '<',
                            _ => ' ',
                        });
                        i += j + 1;
                    }
                    None => {
                        line.push('&');
                        i += 1;
                    }
                }
            }
            _ => {
                let c_len = utf8_len(b);
                line.push_str(&text[i..(i + c_len).min(text.len())]);
                i += c_len;
            }
        }
    }
    if !line.is_empty() {
        push(&mut out, &mut line, line_quoted || blockquote > 0);
    }
    out
}

fn starts_quoted(rest: &str) -> bool {
    let t = rest.trim_start_matches([' ', '\t']);
    t.starts_with('>') || strip_prefix_ci(t, "&gt;").is_some()
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

fn find_ci(hay: &str, needle: &str) -> Option<usize> {
    let n = needle.as_bytes();
    hay.as_bytes()
        .windows(n.len())
        .position(|w| w.eq_ignore_ascii_case(n))
}

/// The longest prefix of `s` of at most `max` bytes that ends on a char
/// boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A line without its links: markdown `[text](target)` and every token that
/// is a URL, a `www.` name or an email address.
fn without_links(line: &str) -> String {
    let mut kept = String::with_capacity(line.len());
    let mut rest = line;
    // Every search starts past the previous one, and a search that finds
    // nothing ends the loop: linear in the line, whatever it holds.
    while let Some(open) = rest.find('[') {
        let Some(close) = rest[open..].find(']').map(|c| open + c) else {
            break;
        };
        if !rest[close + 1..].starts_with('(') {
            kept.push_str(&rest[..=close]);
            rest = &rest[close + 1..];
            continue;
        }
        // No `)` after this target: none after any later one either.
        let Some(end) = rest[close + 2..].find(')').map(|e| close + 2 + e + 1) else {
            break;
        };
        kept.push_str(&rest[..open]);
        kept.push(' ');
        rest = &rest[end..];
    }
    kept.push_str(rest);
    kept.split(' ')
        .filter(|t| !is_link(t))
        .collect::<Vec<_>>()
        .join(" ")
}

fn is_link(token: &str) -> bool {
    let t = token.trim_start_matches(|c: char| !c.is_alphanumeric());
    t.contains("://")
        || strip_prefix_ci(t, "www.").is_some()
        || strip_prefix_ci(t, "mailto:").is_some()
        || (t.contains('@') && t.contains('.'))
}

/// The `http(s)://` links in the unquoted part of a description (HTML
/// `href`s included), in order, at most `limit`.
pub fn links(description: &str, limit: usize) -> Vec<&str> {
    let text = truncate(description, MAX_SCANNED_BYTES);
    let mut out = Vec::new();
    let mut blockquote = false;
    for line in text.lines() {
        if find_ci(line, "<blockquote").is_some() {
            blockquote = true;
        }
        let quoted = blockquote || line.trim_start().starts_with('>');
        if find_ci(line, "</blockquote").is_some() {
            blockquote = false;
        }
        if quoted {
            continue;
        }
        let mut from = 0;
        while out.len() < limit {
            let Some(at) = find_ci(&line[from..], "http") else {
                break;
            };
            let start = from + at;
            let candidate = &line[start..];
            let end = candidate
                .find(|c: char| {
                    c.is_whitespace() || matches!(c, '<' | '>' | '"' | '\'' | ')' | ']')
                })
                .unwrap_or(candidate.len());
            let url = candidate[..end].trim_end_matches(['.', ',', ';', ':', '!', '?']);
            if url_host_path(url).is_some() {
                out.push(url);
            }
            from = start + end.max(4);
        }
    }
    out
}

impl Via {
    pub fn describe(self) -> &'static str {
        match self {
            Via::Line => "stated on a `Purpose:` line",
            Via::Category => "from the event's categories",
            Via::Words => "from the team's words for it",
        }
    }
}

/// What `check` tells an organizer about an invite's purpose: the purposes
/// read and how, then each `Purpose:` value that names none, with the
/// nearest purpose's exact word.
pub fn describe(recognition: &Recognition, purposes: &[Purpose]) -> Vec<String> {
    let mut out: Vec<String> = recognition
        .stated
        .iter()
        .filter_map(|(i, via)| {
            purposes
                .get(*i)
                .map(|p| format!("`{}` ({})", p.name, via.describe()))
        })
        .collect();
    for (written, near) in &recognition.unknown {
        out.push(match near {
            Some(n) => format!(
                "`Purpose: {written}` names none of this team's purposes: did you mean `{n}`?"
            ),
            None => format!("`Purpose: {written}` names none of this team's purposes"),
        });
    }
    out
}

// ---- the rules' findings ----------------------------------------------------

/// The `purpose` rule fired: the invite states none of the team's purposes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoPurpose {
    /// The team's purposes, in the policy's order.
    pub purposes: Vec<String>,
    /// What a `Purpose:` line named instead, if anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub written: Option<String>,
    /// The purpose that is closest to what was written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub did_you_mean: Option<String>,
    pub alternatives: Vec<Alternative>,
}

impl NoPurpose {
    pub fn message(&self) -> String {
        let names = or_list(
            &self
                .purposes
                .iter()
                .map(|p| format!("`{p}`"))
                .collect::<Vec<_>>(),
        );
        let alternatives = or_list(
            &self
                .alternatives
                .iter()
                .map(|a| match &a.link {
                    Some(l) => format!("{} at {l}", a.name),
                    None => a.name.clone(),
                })
                .collect::<Vec<_>>(),
        );
        let opening = match (&self.written, &self.did_you_mean) {
            (Some(w), Some(d)) => format!(
                "its `Purpose:` line says `{w}`, which is not one of this team's purposes (did you mean `{d}`?)"
            ),
            (Some(w), None) => {
                format!("its `Purpose:` line says `{w}`, which is not one of this team's purposes")
            }
            _ => "it does not say which purpose it serves".to_string(),
        };
        if alternatives.is_empty() {
            format!("{opening}; this team meets only for {names}")
        } else {
            format!(
                "{opening}; this team meets only for {names}, and everything else goes to {alternatives}"
            )
        }
    }

    pub fn fix(&self) -> &'static str {
        "add a line such as `Purpose: decision` to the description, or cancel the meeting and use one of those"
    }
}

/// The `decision_record` rule fired: a decision meeting without a link to
/// where the decision will be written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoDecisionRecord {
    /// The purpose that needs a record (`decision`).
    pub purpose: String,
    /// Where the team keeps records.
    pub hosts: Vec<String>,
    /// A link the description has elsewhere, if any (the first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other_link: Option<String>,
}

impl NoDecisionRecord {
    pub fn message(&self) -> String {
        let hosts = or_list(&self.hosts);
        match &self.other_link {
            Some(l) => format!(
                "it is a `{}` meeting, and its link {l} is not where this team keeps its records ({hosts})",
                self.purpose
            ),
            None => format!(
                "it is a `{}` meeting, but it does not link where the decision will be written ({hosts})",
                self.purpose
            ),
        }
    }

    pub fn fix(&self) -> &'static str {
        "add a link to the page where the decision will be recorded: who decided what, why and when"
    }
}

/// "a", "a or b", "a, b or c".
fn or_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// The `purpose` rule: `None` when the invite states one of the purposes.
pub fn check_purpose(
    title: &str,
    description: &str,
    categories: &[String],
    rule: &PurposeRule,
) -> Option<NoPurpose> {
    let r = recognise(title, description, categories, &rule.purposes);
    if !r.stated.is_empty() {
        return None;
    }
    let (written, did_you_mean) = r
        .unknown
        .into_iter()
        .next()
        .map_or((None, None), |(w, d)| (Some(w), d));
    Some(NoPurpose {
        purposes: rule.purposes.iter().map(|p| p.name.clone()).collect(),
        written,
        did_you_mean,
        alternatives: rule.alternatives.clone(),
    })
}

/// The `decision_record` rule: `None` unless the invite states the rule's
/// purpose (as `purposes` recognise it) and links no accepted record.
pub fn check_decision_record(
    title: &str,
    description: &str,
    categories: &[String],
    purposes: &[Purpose],
    rule: &DecisionRecordRule,
) -> Option<NoDecisionRecord> {
    let index = purposes.iter().position(|p| p.name == rule.purpose)?;
    if !recognise(title, description, categories, purposes).states(index) {
        return None;
    }
    let found = links(description, 64);
    if found
        .iter()
        .any(|l| rule.hosts.iter().any(|h| h.accepts(l)))
    {
        return None;
    }
    Some(NoDecisionRecord {
        purpose: rule.purpose.clone(),
        hosts: rule.hosts.iter().map(HostPattern::describe).collect(),
        other_link: found.first().map(|l| (*l).to_string()),
    })
}

/// The record link a decision meeting carries, for the report: the first
/// link the rule accepts.
pub fn record_link<'d>(description: &'d str, rule: &DecisionRecordRule) -> Option<&'d str> {
    links(description, 64)
        .into_iter()
        .find(|l| rule.hosts.iter().any(|h| h.accepts(l)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn purposes() -> Vec<Purpose> {
        let mut p = default_purposes();
        p[0].words = vec!["decide".into(), "sign-off".into()];
        p[0].categories = vec!["Decisions".into()];
        p[2].words = vec!["team lunch".into()];
        p
    }

    /// `expect`: the stated purposes as `name:via`, then `?written>near`
    /// for each unknown `Purpose:` value.
    fn check(title: &str, description: &str, categories: &[&str], expect: &str) {
        let categories: Vec<String> = categories.iter().map(|c| c.to_string()).collect();
        let ps = purposes();
        let r = recognise(title, description, &categories, &ps);
        let mut got: Vec<String> = r
            .stated
            .iter()
            .map(|(i, via)| format!("{}:{via:?}", ps[*i].name).to_lowercase())
            .collect();
        got.extend(
            r.unknown
                .iter()
                .map(|(w, d)| format!("?{w}>{}", d.as_deref().unwrap_or("-"))),
        );
        assert_eq!(
            got.join(" "),
            expect,
            "title {title:?}, description {description:?}, categories {categories:?}"
        );
    }

    #[test]
    fn recognises_purposes() {
        // Explicit line, case and punctuation tolerant.
        check("Q3", "Purpose: decision", &[], "decision:line");
        check("Q3", "PURPOSE: Decision.", &[], "decision:line");
        check("Q3", "**Purpose**: `decision`", &[], "decision:line");
        check("Q3", "  - purpose - feedback!", &[], "feedback:line");
        check("Q3", "Purpose = relationships", &[], "relationships:line");
        check("Q3", "Agenda\nPurpose:decision\nmore", &[], "decision:line");
        check(
            "Q3",
            "Purpose: decision, feedback",
            &[],
            "decision:line feedback:line",
        );
        check(
            "Q3",
            "Purpose: feedback and relationships",
            &[],
            "feedback:line relationships:line",
        );
        check("Q3", "Purposes: decision", &[], "decision:line");
        check(
            "Q3",
            "Purpose: a decision on Q3 hiring",
            &[],
            "decision:line",
        );
        // A configured word on the line counts for its purpose.
        check("Q3", "Purpose: sign-off", &[], "decision:line");
        // Near misses and unknown values.
        check("Q3", "Purpose: decison", &[], "?decison>decision");
        check("Q3", "Purpose: Feedbak!", &[], "?Feedbak>feedback");
        check("Q3", "Purpose: status update", &[], "?status update>-");
        check("Q3", "Purpose:", &[], "");
        // Not a purpose line.
        check("Q3", "The purpose of this meeting is unclear", &[], "");
        check("Q3", "Purposeful: decision", &[], "");
        // HTML descriptions (Google).
        check(
            "Q3",
            "<p>Agenda</p><p><b>Purpose</b>: decision</p>",
            &[],
            "decision:line",
        );
        check(
            "Q3",
            "Hi<br>Purpose: feedback<br>thanks",
            &[],
            "feedback:line",
        );
        check(
            "Q3",
            "Purpose: decision &amp; feedback",
            &[],
            "decision:line feedback:line",
        );
    }

    #[test]
    fn categories_and_words() {
        check("Q3", "", &["Decision"], "decision:category");
        check("Q3", "", &["DECISIONS"], "decision:category");
        check(
            "Q3",
            "",
            &["relationships", "Work"],
            "relationships:category",
        );
        check("Q3", "", &["Work"], "");
        // Configured words, in the title or the description.
        check("Decide the Q3 plan", "", &[], "decision:words");
        check(
            "Q3",
            "We need a SIGN-OFF on the plan",
            &[],
            "decision:words",
        );
        check("Q3", "a sign off", &[], "decision:words");
        check("Team lunch!", "", &[], "relationships:words");
        check("Q3", "lunch with the team", &[], "");
        // Whole words only.
        check("Q3", "the decider", &[], "");
        // The explicit line wins the `via` when several ways state it.
        check(
            "Decide",
            "Purpose: decision",
            &["decision"],
            "decision:line",
        );
        check("Decide", "", &["decision"], "decision:category");
    }

    #[test]
    fn quoted_replies_and_links_do_not_count() {
        check("Q3", "> Purpose: decision", &[], "");
        check("Q3", "Hi\n  > Purpose: decision\nthanks", &[], "");
        check("Q3", ">> we should decide", &[], "");
        check("Q3", "> hi<br>Purpose: decision<br>decide", &[], "");
        check("Q3", "&gt; Purpose: decision", &[], "");
        check("Q3", "<a href=x>a\n> b</a> Purpose: decision", &[], "");
        check("Q3", "> old\nPurpose: feedback", &[], "feedback:line");
        check(
            "Q3",
            "<blockquote>Purpose: decision<br>decide</blockquote>",
            &[],
            "",
        );
        check(
            "Q3",
            "<blockquote>x</blockquote>Purpose: feedback",
            &[],
            "feedback:line",
        );
        check("Q3", "see https://wiki.example.com/decide-now", &[], "");
        check("Q3", "see www.decide.example.com", &[], "");
        check("Q3", "mail decide@example.com", &[], "");
        check("Q3", "[decide here](https://x.example.com)", &[], "");
        check(
            "Q3",
            "<a href=\"https://x.example.com/decide\">decide</a>",
            &[],
            "",
        );
        check("https://decide.example.com", "", &[], "");
        // A purpose line whose value is only a link states nothing.
        check("Q3", "Purpose: https://example.com/decision", &[], "");
        // Text around a link still counts.
        check(
            "Q3",
            "decide on [the doc](https://x.example.com)",
            &[],
            "decision:words",
        );
    }

    #[test]
    fn hostile_text_is_read_in_linear_time() {
        // Each of these took quadratic time in an earlier version: 64 KiB
        // of them would have cost billions of steps.
        let ps = purposes();
        for unit in [
            "<",
            "[",
            "[a]",
            "[a](",
            "&",
            "<a ",
            "http",
            "> ",
            "Purpose:",
            "Purpose: x,",
        ] {
            let text = unit.repeat(MAX_SCANNED_BYTES / unit.len());
            let r = recognise("Q3", &text, &[], &ps);
            assert!(r.stated.is_empty(), "{unit:?}");
            assert!(r.unknown.len() <= MAX_UNKNOWN, "{unit:?}");
            assert!(
                r.unknown
                    .iter()
                    .all(|(w, _)| w.chars().count() <= MAX_WRITTEN_CHARS + 1),
                "{unit:?}"
            );
            let _ = links(&text, 64);
        }
        let r = recognise(
            "Q3",
            "Purpose: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            &[],
            &ps,
        );
        assert_eq!(r.unknown[0].0, format!("{}…", "a".repeat(40)));
    }

    #[test]
    fn bounded_reading() {
        let long = format!("{}\nPurpose: decision", "x ".repeat(MAX_SCANNED_BYTES));
        check("Q3", &long, &[], "");
        // A multi-byte character on the cut does not panic.
        let cut = format!("{}é", "x".repeat(MAX_SCANNED_BYTES - 1));
        check("Q3", &cut, &[], "");
        check("Q3", "<unclosed tag Purpose: decision", &[], "");
        check("Q3", "&unterminated Purpose: decision", &[], "");
    }

    fn host_check(pattern: &str, url: &str, expect: bool) {
        let p = HostPattern::parse(pattern).expect(pattern);
        assert_eq!(p.accepts(url), expect, "{pattern} vs {url}");
    }

    #[test]
    fn hosts() {
        host_check("wiki.example.com", "https://wiki.example.com/d/1", true);
        host_check("wiki.example.com", "https://WIKI.example.com", true);
        host_check("example.com", "https://wiki.example.com/d/1", true);
        host_check(
            "wiki.example.com",
            "https://wiki.example.com.evil.io/",
            false,
        );
        host_check("wiki.example.com", "https://notwiki.example.com/", false);
        host_check(
            "wiki.example.com",
            "https://evil.io/?u=wiki.example.com",
            false,
        );
        host_check(
            "wiki.example.com",
            "https://user@wiki.example.com:8443/x",
            true,
        );
        host_check("wiki.example.com", "ftp://wiki.example.com/x", false);
        host_check(
            "github.com/acme",
            "https://github.com/acme/decisions/1",
            true,
        );
        host_check("github.com/acme/", "https://github.com/acme", true);
        host_check("github.com/acme", "https://github.com/acmecorp/x", false);
        host_check("https://github.com/acme", "https://github.com/acme/x", true);
        assert_eq!(HostPattern::parse("localhost"), None);
        assert_eq!(HostPattern::parse("wiki example.com"), None);
        assert_eq!(HostPattern::parse(""), None);
    }

    #[test]
    fn finds_links() {
        let d = "Record: https://wiki.example.com/d/7.\n> old: https://q.example.com\n<a href=\"http://b.example.com/x\">b</a> (https://c.example.com)";
        assert_eq!(
            links(d, 10),
            [
                "https://wiki.example.com/d/7",
                "http://b.example.com/x",
                "https://c.example.com"
            ]
        );
        assert_eq!(links(d, 1), ["https://wiki.example.com/d/7"]);
        assert!(links("http http: https:// httpx", 10).is_empty());
    }

    proptest::proptest! {
        /// Any description, title and categories: no panic, every stated
        /// index is a purpose, and what a quoted copy of the description
        /// says is never stated.
        #[test]
        fn recognition_never_panics_and_quotes_state_nothing(
            title in ".{0,40}",
            description in "(?s)(.{0,40}|<br>|<p>|</blockquote>|&gt;|\\n|Purpose: decision|decide){0,12}",
            category in ".{0,20}",
        ) {
            let ps = purposes();
            let r = recognise(&title, &description, std::slice::from_ref(&category), &ps);
            proptest::prop_assert!(r.stated.iter().all(|(i, _)| *i < ps.len()));
            let quoted: String = description
                .lines()
                .map(|l| format!("> {l}\n"))
                .collect();
            if !quoted.to_lowercase().contains("blockquote") {
                // (`</blockquote>` in the text may end a quote early.)
                let q = recognise("", &quoted, &[], &ps);
                proptest::prop_assert!(q.stated.is_empty(), "{quoted:?} states {:?}", q.stated);
            }
            let _ = links(&description, 8);
        }
    }

    #[test]
    fn decision_record() {
        let rule = DecisionRecordRule {
            purpose: "decision".into(),
            hosts: vec![HostPattern::parse("wiki.example.com").unwrap()],
        };
        let ps = purposes();
        let run = |d: &str| check_decision_record("Q3", d, &[], &ps, &rule);
        assert_eq!(run("Purpose: feedback"), None);
        assert_eq!(
            run("Purpose: decision"),
            Some(NoDecisionRecord {
                purpose: "decision".into(),
                hosts: vec!["wiki.example.com".into()],
                other_link: None,
            })
        );
        assert_eq!(
            run("Purpose: decision\nRecord: https://wiki.example.com/decisions/12"),
            None
        );
        assert_eq!(
            run("Purpose: decision\nhttps://docs.example.org/x").and_then(|p| p.other_link),
            Some("https://docs.example.org/x".into())
        );
        // A record link only in a quoted reply is not this meeting's.
        assert!(run("Purpose: decision\n> https://wiki.example.com/d/1").is_some());
    }
}
