//! WebDAV XML: the request bodies gatekeeper sends (PROPFIND, REPORT) and a
//! namespace-aware reader for what servers answer (`multistatus`, `error`).
//!
//! Pure: bytes in, values out. Bounded: the tree is built with an explicit
//! stack (never recursion on input), at most `MAX_DEPTH` deep and
//! `MAX_ELEMENTS` elements; entities other than XML's five and character
//! references are not expanded (no DTD is ever read). Names are matched by
//! namespace and local name, never by prefix: servers choose prefixes
//! freely (Radicale `C:`, Xandikos `ns1:`, others none).

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;

pub const DAV: &str = "DAV:";
pub const CALDAV: &str = "urn:ietf:params:xml:ns:caldav";
/// Apple's namespace, for `getctag`.
pub const CALSERVER: &str = "http://calendarserver.org/ns/";

/// Deeper documents are refused: a multistatus needs about eight levels.
const MAX_DEPTH: usize = 64;
/// More elements than this in one answer are refused (about 40 per item
/// listed: a calendar of 20,000 items fits).
const MAX_ELEMENTS: usize = 1_000_000;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum XmlError {
    #[error("the server's XML is malformed: {0}")]
    Malformed(String),
    #[error("the server's XML is nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("the server's XML has more than {MAX_ELEMENTS} elements")]
    TooLarge,
    #[error("the server's answer is not a DAV `multistatus`")]
    NotMultistatus,
}

/// One element: its namespace and local name, its attributes (local names;
/// DAV attributes carry no namespaces gatekeeper needs), its text (decoded,
/// line endings kept as sent) and its children.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    pub ns: String,
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub text: String,
    pub children: Vec<Element>,
}

impl Element {
    pub fn is(&self, ns: &str, name: &str) -> bool {
        self.ns == ns && self.name == name
    }

    pub fn child(&self, ns: &str, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is(ns, name))
    }

    pub fn children_named<'a>(
        &'a self,
        ns: &'a str,
        name: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.is(ns, name))
    }

    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The text with surrounding whitespace removed (hrefs, etags, tokens).
    pub fn trimmed(&self) -> &str {
        self.text.trim()
    }
}

/// Parse a whole document into its root element.
pub fn parse(bytes: &[u8]) -> Result<Element, XmlError> {
    let text =
        std::str::from_utf8(bytes).map_err(|e| XmlError::Malformed(format!("not UTF-8: {e}")))?;
    let mut reader = quick_xml::NsReader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;
    let malformed = |e: &dyn std::fmt::Display| XmlError::Malformed(e.to_string());
    loop {
        let (ns, event) = reader.read_resolved_event().map_err(|e| malformed(&e))?;
        let ns = match ns {
            ResolveResult::Bound(n) => String::from_utf8_lossy(n.0).into_owned(),
            _ => String::new(),
        };
        match event {
            Event::Start(ref start) | Event::Empty(ref start) => {
                count += 1;
                if count > MAX_ELEMENTS {
                    return Err(XmlError::TooLarge);
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(XmlError::TooDeep);
                }
                let mut element = Element {
                    ns,
                    name: String::from_utf8_lossy(start.local_name().as_ref()).into_owned(),
                    ..Element::default()
                };
                for a in start.attributes() {
                    let a = a.map_err(|e| malformed(&e))?;
                    let value = a.unescape_value().map_err(|e| malformed(&e))?;
                    element.attrs.push((
                        String::from_utf8_lossy(a.key.local_name().as_ref()).into_owned(),
                        value.into_owned(),
                    ));
                }
                stack.push(element);
                // An empty element (`<getetag/>`) has no `End` to follow.
                if matches!(event, Event::Empty(_)) {
                    close(&mut stack, &mut root)?;
                }
            }
            Event::End(_) => close(&mut stack, &mut root)?,
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.decode().map_err(|e| malformed(&e))?);
                }
            }
            Event::CData(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.decode().map_err(|e| malformed(&e))?);
                }
            }
            Event::GeneralRef(r) => {
                if let Some(top) = stack.last_mut() {
                    if let Some(c) = r.resolve_char_ref().map_err(|e| malformed(&e))? {
                        top.text.push(c);
                    } else {
                        let name = r.decode().map_err(|e| malformed(&e))?;
                        match quick_xml::escape::resolve_predefined_entity(&name) {
                            Some(s) => top.text.push_str(s),
                            None => {
                                return Err(XmlError::Malformed(format!(
                                    "unknown entity `&{name};`"
                                )));
                            }
                        }
                    }
                }
            }
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err(XmlError::Malformed(
            "the document ends inside an element".into(),
        ));
    }
    root.ok_or_else(|| XmlError::Malformed("no root element".into()))
}

/// The element on top of the stack is complete: hand it to its parent, or
/// make it the root.
fn close(stack: &mut Vec<Element>, root: &mut Option<Element>) -> Result<(), XmlError> {
    let done = stack
        .pop()
        .ok_or_else(|| XmlError::Malformed("an end tag without a start".into()))?;
    match stack.last_mut() {
        Some(parent) => parent.children.push(done),
        None if root.is_none() => *root = Some(done),
        None => return Err(XmlError::Malformed("more than one root element".into())),
    }
    Ok(())
}

/// Escape text for an XML element or attribute value.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// One `<response>` of a multistatus: its href (as sent, not yet
/// decoded), the response-level status (a deleted item in a sync report),
/// and the properties found with status 200.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    pub href: String,
    pub status: Option<u16>,
    /// Properties the server returned (status 2xx).
    pub props: Vec<Element>,
    /// Properties the server said it does not have (404 and others), by
    /// (namespace, local name).
    pub missing: Vec<(String, String)>,
}

impl Response {
    pub fn prop(&self, ns: &str, name: &str) -> Option<&Element> {
        self.props.iter().find(|p| p.is(ns, name))
    }

    /// A property's trimmed text, if returned and not empty.
    pub fn text(&self, ns: &str, name: &str) -> Option<String> {
        self.prop(ns, name)
            .map(|p| p.trimmed().to_string())
            .filter(|t| !t.is_empty())
    }

    /// The hrefs inside a property (`current-user-principal`,
    /// `calendar-home-set`).
    pub fn hrefs(&self, ns: &str, name: &str) -> Vec<String> {
        self.prop(ns, name)
            .map(|p| {
                p.children_named(DAV, "href")
                    .map(|h| h.trimmed().to_string())
                    .filter(|h| !h.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A parsed multistatus: its responses and, for a sync report, the new
/// sync token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Multistatus {
    pub responses: Vec<Response>,
    pub sync_token: Option<String>,
}

/// The status code in `HTTP/1.1 404 Not Found`.
pub fn status_code(line: &str) -> Option<u16> {
    line.split_whitespace().nth(1)?.parse().ok()
}

pub fn multistatus(bytes: &[u8]) -> Result<Multistatus, XmlError> {
    let root = parse(bytes)?;
    if !root.is(DAV, "multistatus") {
        return Err(XmlError::NotMultistatus);
    }
    let mut out = Multistatus {
        sync_token: root
            .child(DAV, "sync-token")
            .map(|t| t.trimmed().to_string())
            .filter(|t| !t.is_empty()),
        ..Multistatus::default()
    };
    for r in root.children_named(DAV, "response") {
        let mut response = Response {
            // RFC 4918 allows several hrefs in a response that shares one
            // status; the first is the one gatekeeper reads.
            href: r
                .child(DAV, "href")
                .map(|h| h.trimmed().to_string())
                .unwrap_or_default(),
            status: r
                .child(DAV, "status")
                .and_then(|s| status_code(s.trimmed())),
            ..Response::default()
        };
        for ps in r.children_named(DAV, "propstat") {
            let status = ps
                .child(DAV, "status")
                .and_then(|s| status_code(s.trimmed()))
                .unwrap_or(200);
            for prop in ps.children_named(DAV, "prop") {
                for p in &prop.children {
                    if (200..300).contains(&status) {
                        response.props.push(p.clone());
                    } else {
                        response.missing.push((p.ns.clone(), p.name.clone()));
                    }
                }
            }
        }
        out.responses.push(response);
    }
    Ok(out)
}

/// The preconditions a DAV `<error>` body names (`valid-sync-token`,
/// `no-uid-conflict`, `attendee-allowed`, ...), as local names. Empty when
/// the body is not such a document: many servers send plain text.
pub fn error_conditions(bytes: &[u8]) -> Vec<String> {
    match parse(bytes) {
        Ok(root) if root.is(DAV, "error") => root.children.iter().map(|c| c.name.clone()).collect(),
        _ => Vec::new(),
    }
}

/// PROPFIND for the given properties, each `(namespace, local name)`.
pub fn propfind(props: &[(&str, &str)]) -> String {
    let mut body = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<d:propfind xmlns:d=\"DAV:\" xmlns:c=\"urn:ietf:params:xml:ns:caldav\" xmlns:cs=\"http://calendarserver.org/ns/\"><d:prop>",
    );
    for (ns, name) in props {
        body.push_str(&format!("<{}:{name}/>", prefix(ns)));
    }
    body.push_str("</d:prop></d:propfind>");
    body
}

fn prefix(ns: &str) -> &'static str {
    match ns {
        CALDAV => "c",
        CALSERVER => "cs",
        _ => "d",
    }
}

/// RFC 6578 sync-collection: changes since `token` (everything when it is
/// empty), with each item's etag.
pub fn sync_collection(token: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<d:sync-collection xmlns:d=\"DAV:\"><d:sync-token>{}</d:sync-token><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>",
        escape(token)
    )
}

/// RFC 4791 calendar-multiget for these hrefs (as the server sent them).
pub fn calendar_multiget(hrefs: &[String]) -> String {
    let mut body = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<c:calendar-multiget xmlns:d=\"DAV:\" xmlns:c=\"urn:ietf:params:xml:ns:caldav\"><d:prop><d:getetag/><c:calendar-data/></d:prop>",
    );
    for h in hrefs {
        body.push_str(&format!("<d:href>{}</d:href>", escape(h)));
    }
    body.push_str("</c:calendar-multiget>");
    body
}

/// RFC 4791 calendar-query: the events that overlap `[start, end)`
/// (`YYYYMMDDTHHMMSSZ`), with their data.
pub fn calendar_query(start: &str, end: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<c:calendar-query xmlns:d=\"DAV:\" xmlns:c=\"urn:ietf:params:xml:ns:caldav\"><d:prop><d:getetag/><c:calendar-data/></d:prop><c:filter><c:comp-filter name=\"VCALENDAR\"><c:comp-filter name=\"VEVENT\"><c:time-range start=\"{}\" end=\"{}\"/></c:comp-filter></c:comp-filter></c:filter></c:calendar-query>",
        escape(start),
        escape(end)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_not_prefixes_decide() {
        // Radicale's style (default namespace DAV:, C: for CalDAV) and
        // Xandikos's (ns0:, ns1:) read the same.
        let radicale = br#"<?xml version='1.0' encoding='utf-8'?>
<multistatus xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><response><href>/ana/</href><propstat><prop><current-user-principal><href>/ana/</href></current-user-principal><C:calendar-home-set><href>/ana/</href></C:calendar-home-set></prop><status>HTTP/1.1 200 OK</status></propstat></response></multistatus>"#;
        let xandikos = br#"<ns0:multistatus xmlns:ns0="DAV:" xmlns:ns1="urn:ietf:params:xml:ns:caldav"><ns0:response><ns0:href>/ana/</ns0:href><ns0:propstat><ns0:status>HTTP/1.1 200 OK</ns0:status><ns0:prop><ns0:current-user-principal><ns0:href>/ana/</ns0:href></ns0:current-user-principal><ns1:calendar-home-set><ns0:href>/ana/calendars/</ns0:href></ns1:calendar-home-set></ns0:prop></ns0:propstat></ns0:response></ns0:multistatus>"#;
        let r = multistatus(radicale).unwrap();
        assert_eq!(
            r.responses[0].hrefs(DAV, "current-user-principal"),
            ["/ana/"]
        );
        assert_eq!(r.responses[0].hrefs(CALDAV, "calendar-home-set"), ["/ana/"]);
        let x = multistatus(xandikos).unwrap();
        assert_eq!(
            x.responses[0].hrefs(CALDAV, "calendar-home-set"),
            ["/ana/calendars/"]
        );
        // A prefix bound to another namespace is not DAV's.
        let other = br#"<m:multistatus xmlns:m="urn:other"/>"#;
        assert_eq!(multistatus(other), Err(XmlError::NotMultistatus));
    }

    #[test]
    fn sync_report_with_changes_deletions_and_missing_props() {
        let body = br#"<multistatus xmlns="DAV:"><sync-token>http://radicale.org/ns/sync/abc&amp;1</sync-token>
<response><href>/ana/work/a%40b.ics</href><propstat><prop><getetag>"e1"</getetag></prop><status>HTTP/1.1 200 OK</status></propstat></response>
<response><href>/ana/work/gone.ics</href><status>HTTP/1.1 404 Not Found</status></response>
<response><href>/ana/work/c.ics</href><propstat><prop><getetag>"e3"</getetag></prop><status>HTTP/1.1 200 OK</status></propstat><propstat><prop><calendar-data xmlns="urn:ietf:params:xml:ns:caldav"/></prop><status>HTTP/1.1 404 Not Found</status></propstat></response>
</multistatus>"#;
        let m = multistatus(body).unwrap();
        assert_eq!(
            m.sync_token.as_deref(),
            Some("http://radicale.org/ns/sync/abc&1")
        );
        assert_eq!(m.responses.len(), 3);
        assert_eq!(
            m.responses[0].text(DAV, "getetag").as_deref(),
            Some("\"e1\"")
        );
        assert_eq!(m.responses[1].status, Some(404));
        assert_eq!(
            m.responses[2].missing,
            [(CALDAV.to_string(), "calendar-data".to_string())]
        );
    }

    #[test]
    fn calendar_data_keeps_its_line_endings_and_references() {
        let body = b"<d:multistatus xmlns:d=\"DAV:\" xmlns:c=\"urn:ietf:params:xml:ns:caldav\"><d:response><d:href>/x.ics</d:href><d:propstat><d:prop><c:calendar-data>BEGIN:VCALENDAR\r\nSUMMARY:a &lt;b&gt; &#13;&#x41;\r\nEND:VCALENDAR\r\n</c:calendar-data></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response></d:multistatus>";
        let m = multistatus(body).unwrap();
        assert_eq!(
            m.responses[0].prop(CALDAV, "calendar-data").unwrap().text,
            "BEGIN:VCALENDAR\r\nSUMMARY:a <b> \rA\r\nEND:VCALENDAR\r\n"
        );
    }

    #[test]
    fn error_bodies_name_their_preconditions() {
        let radicale = br#"<?xml version='1.0' encoding='utf-8'?>
<error xmlns="DAV:"><valid-sync-token /></error>"#;
        assert_eq!(error_conditions(radicale), ["valid-sync-token"]);
        let uid = br#"<ns0:error xmlns:ns0="DAV:" xmlns:ns1="urn:ietf:params:xml:ns:caldav"><ns1:no-uid-conflict><ns0:href>/a/b.ics</ns0:href></ns1:no-uid-conflict></ns0:error>"#;
        assert_eq!(error_conditions(uid), ["no-uid-conflict"]);
        assert!(error_conditions(b"Precondition failed").is_empty());
    }

    #[test]
    fn hostile_documents_are_refused_not_followed() {
        let deep = "<a>".repeat(MAX_DEPTH + 1);
        assert_eq!(parse(deep.as_bytes()), Err(XmlError::TooDeep));
        // No DTD entity is ever expanded.
        let lol = br#"<!DOCTYPE x [<!ENTITY a "aaaaaaaa">]><multistatus xmlns="DAV:"><response><href>&a;</href></response></multistatus>"#;
        assert!(matches!(multistatus(lol), Err(XmlError::Malformed(_))));
        assert!(matches!(parse(b"<a><b></a>"), Err(XmlError::Malformed(_))));
        assert!(matches!(parse(b"<a/><b/>"), Err(XmlError::Malformed(_))));
        assert!(matches!(parse(b"\xff"), Err(XmlError::Malformed(_))));
    }

    #[test]
    fn tokens_are_escaped_in_requests() {
        let body = sync_collection("http://x/sync?a=1&b=<2>");
        assert!(body.contains("<d:sync-token>http://x/sync?a=1&amp;b=&lt;2&gt;</d:sync-token>"));
        let parsed = parse(body.as_bytes()).unwrap();
        assert_eq!(
            parsed.child(DAV, "sync-token").unwrap().text,
            "http://x/sync?a=1&b=<2>"
        );
    }
}
