//! The comment template sent with an annotation or a decline. Parsed once
//! when the policy loads, so an unknown placeholder is a lint error rather
//! than a surprise in somebody's inbox.

/// The placeholders a template may use.
pub const PLACEHOLDERS: [&str; 8] = [
    "member",
    "organizer",
    "title",
    "response",
    "reasons",
    "team",
    "urgent_keyword",
    "suggestions",
];

pub const DEFAULT_TEMPLATE: &str = "\
gatekeeper {response} this invite for {member} under the {team} team's meeting policy.

{reasons}

Update the invite and gatekeeper will look at it again; this response will be withdrawn once it passes.";

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Field(&'static str),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pieces: Vec<Piece>,
}

/// A placeholder the template names but gatekeeper does not know, with its
/// byte range inside the template text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownPlaceholder {
    pub name: String,
    pub range: std::ops::Range<usize>,
}

/// What a rendered comment says.
pub struct CommentValues<'a> {
    pub member: &'a str,
    pub organizer: &'a str,
    pub title: &'a str,
    /// "declined" or "tentatively accepted".
    pub response: &'a str,
    pub reasons: &'a str,
    /// Fairer times, when fairness suggested any. A template without
    /// `{suggestions}` gets them after the reasons instead.
    pub suggestions: &'a str,
    pub team: &'a str,
    pub urgent_keyword: &'a str,
}

impl Template {
    /// `{name}` is a placeholder, `{{` and `}}` are literal braces.
    pub fn parse(text: &str) -> Result<Template, Vec<UnknownPlaceholder>> {
        let mut pieces = Vec::new();
        let mut unknown = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        let mut offset = 0;
        while let Some(i) = rest.find(['{', '}']) {
            literal.push_str(&rest[..i]);
            let tail = &rest[i..];
            if tail.starts_with("{{") || tail.starts_with("}}") {
                literal.push_str(&tail[..1]);
                rest = &tail[2..];
                offset += i + 2;
                continue;
            }
            if let Some(after) = tail.strip_prefix('}') {
                literal.push('}');
                rest = after;
                offset += i + 1;
                continue;
            }
            match tail.find('}') {
                Some(close) => {
                    let name = &tail[1..close];
                    match PLACEHOLDERS.iter().find(|p| **p == name.trim()) {
                        Some(p) => {
                            if !literal.is_empty() {
                                pieces.push(Piece::Text(std::mem::take(&mut literal)));
                            }
                            pieces.push(Piece::Field(p));
                        }
                        None => unknown.push(UnknownPlaceholder {
                            name: name.to_string(),
                            range: offset + i..offset + i + close + 1,
                        }),
                    }
                    rest = &tail[close + 1..];
                    offset += i + close + 1;
                }
                None => {
                    literal.push_str(tail);
                    rest = "";
                }
            }
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            pieces.push(Piece::Text(literal));
        }
        if unknown.is_empty() {
            Ok(Template { pieces })
        } else {
            Err(unknown)
        }
    }

    pub fn default_template() -> Template {
        // The default is a constant that the tests parse; it has no unknown
        // placeholders, so the fallback is never taken.
        Template::parse(DEFAULT_TEMPLATE).unwrap_or(Template { pieces: Vec::new() })
    }

    /// Whether the template uses a placeholder.
    pub fn uses(&self, name: &str) -> bool {
        self.pieces
            .iter()
            .any(|p| *p == Piece::Field(name_of(name)))
    }

    pub fn render(&self, v: &CommentValues<'_>) -> String {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Field(name) => out.push_str(match *name {
                    "member" => v.member,
                    "organizer" => v.organizer,
                    "title" => v.title,
                    "response" => v.response,
                    "reasons" => v.reasons,
                    "team" => v.team,
                    "suggestions" => v.suggestions,
                    _ => v.urgent_keyword,
                }),
            }
        }
        out
    }
}

fn name_of(name: &str) -> &'static str {
    PLACEHOLDERS
        .iter()
        .find(|p| **p == name)
        .copied()
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_template_parses() {
        assert!(Template::parse(DEFAULT_TEMPLATE).is_ok());
    }

    #[test]
    fn unknown_placeholders_are_reported_with_ranges() {
        let text = "hi {membr}, see {reasons} {{literal}} {nope}";
        let err = Template::parse(text).unwrap_err();
        let names: Vec<_> = err
            .iter()
            .map(|u| (u.name.as_str(), &text[u.range.clone()]))
            .collect();
        assert_eq!(names, vec![("membr", "{membr}"), ("nope", "{nope}")]);
    }

    #[test]
    fn renders_fields_and_literal_braces() {
        let t = Template::parse("{response} for {member} {{x}} by {organizer}").unwrap();
        let s = t.render(&CommentValues {
            member: "a@x",
            organizer: "b@x",
            title: "",
            response: "declined",
            reasons: "",
            suggestions: "",
            team: "",
            urgent_keyword: "",
        });
        assert_eq!(s, "declined for a@x {x} by b@x");
    }
}
