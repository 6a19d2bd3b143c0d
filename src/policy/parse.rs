//! Policy files: TOML text in, a validated `Policy` or every problem with its
//! place in the file out.
//!
//! The walker below reads toml's spanned document tree by hand instead of
//! deriving serde structs: serde stops at the first error, and a person
//! fixing a policy wants all of them at once, each with a "did you mean".
//! Reading the file is the caller's job; nothing here does I/O.

use std::collections::HashMap;
use std::ops::Range;

use chrono::{NaiveTime, Weekday};
use chrono_tz::Tz;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::comment::Template;
use super::diagnostic::{Diagnostic, Related, did_you_mean_help, unknown_key_help};
use super::model::{
    Action, Exceptions, ExternalGuests, Fairness, Member, OneToOne, Policy, Rule, RuleKind,
    RuleSpec, Urgent, WeekdaySet, WorkingHours, content_hash,
};
use super::purpose::{
    Alternative, DEFAULT_PURPOSES, DecisionRecordRule, HostPattern, MAX_HOSTS, MAX_PURPOSES,
    MAX_WORDS, Purpose, PurposeRule, default_alternatives, default_purposes, tokens,
};

type Value<'i> = Spanned<DeValue<'i>>;

/// A "did you mean" for an unknown member compares the address with every
/// member's: past this many per file, unknown members get no suggestion,
/// so that a file naming thousands of unknown people among thousands of
/// members lints in time linear in its size.
const MAX_SIMILAR_LOOKUPS: usize = 100;

const TOP_KEYS: &[&str] = &[
    "team",
    "member",
    "rule",
    "exceptions",
    "comment",
    "fairness",
];
const FAIRNESS_KEYS: &[&str] = &[
    "window_weeks",
    "count_optional",
    "count_external",
    "suggest_days",
    "shoulder_hours",
    "shoulder_weight",
    "non_working_day_weight",
    "night_weight",
];
const TEAM_KEYS: &[&str] = &["name", "domains"];
const MEMBER_KEYS: &[&str] = &["email", "time_zone", "working_hours", "working_days"];
const RULE_COMMON_KEYS: &[&str] = &["kind", "action", "members"];
const EXCEPTION_KEYS: &[&str] = &["organizers", "urgent", "one_to_one", "external_guests"];
const URGENT_KEYS: &[&str] = &["keyword", "per_organizer_per_month"];
const COMMENT_KEYS: &[&str] = &["template"];
/// The weekday names policies and the config accept, Monday first.
pub(crate) const DAY_NAMES: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

fn rule_keys(kind: RuleKind) -> &'static [&'static str] {
    match kind {
        RuleKind::Agenda => &["min_words"],
        RuleKind::MinNotice => &["hours"],
        RuleKind::MeetingFreeDays => &["days"],
        RuleKind::MaxDuration => &["minutes"],
        RuleKind::MaxAttendees => &["count"],
        RuleKind::WorkingHours | RuleKind::ProtectedTime => &[],
        RuleKind::OutsideHoursBudget => &["minutes_per_week"],
        RuleKind::BurdenCap => &["ratio"],
        RuleKind::SeriesRotation => &["max_share"],
        RuleKind::Purpose => &["purposes", "alternatives"],
        RuleKind::DecisionRecord => &["hosts", "purpose"],
    }
}

/// One policy file after linting.
#[derive(Debug)]
pub struct LintedFile {
    pub path: String,
    pub source: String,
    pub policy: Option<Policy>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Parse and validate one policy file. The policy is returned only when
/// there is no error; warnings come with it.
pub fn parse_policy(source: &str, file: &str) -> (Option<Policy>, Vec<Diagnostic>) {
    let mut w = Walker {
        file,
        source,
        diags: Vec::new(),
        member_spans: HashMap::new(),
        member_emails: Vec::new(),
        member_set: std::collections::HashSet::new(),
        similar_left: MAX_SIMILAR_LOOKUPS,
    };
    let policy = w.policy();
    let mut diags = w.diags;
    for d in &mut diags {
        d.file = file.to_string();
    }
    diags.sort_by_key(|d| d.span.as_ref().map_or(0, |s| s.start));
    let has_error = diags.iter().any(Diagnostic::is_error);
    (if has_error { None } else { policy }, diags)
}

/// A policy file's bytes as text, the one way every reader (`policy lint`,
/// `check`, `suggest`, `run`) takes them. Bytes that are not UTF-8 give an
/// error at the first such byte (file, line, column, the byte itself) and
/// the text read lossily, so that the place can be shown and the rest of
/// the file still linted.
pub fn decode_policy(bytes: Vec<u8>, file: &str) -> (String, Option<Diagnostic>) {
    decode_utf8(bytes, file, "policy")
}

/// `decode_policy` for any file gatekeeper reads as TOML (`what` names it
/// in the help line): the config file is decoded the same way.
pub fn decode_utf8(bytes: Vec<u8>, file: &str, what: &str) -> (String, Option<Diagnostic>) {
    match String::from_utf8(bytes) {
        Ok(text) => (text, None),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let bad: Vec<String> = e.as_bytes()[at..]
                .iter()
                .take(e.utf8_error().error_len().unwrap_or(1))
                .map(|b| format!("0x{b:02X}"))
                .collect();
            let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
            // The valid prefix reads the same lossily; the bad bytes became
            // one U+FFFD (3 bytes) right after it.
            let mut d = Diagnostic::error(
                "not-utf8",
                format!("the file is not UTF-8: byte `{}` cannot be read", bad.join(" ")),
            )
            .at(at..at + '\u{FFFD}'.len_utf8(), "not UTF-8")
            .help(format!(
                "save the {what} as UTF-8 (a Latin-1 `é` is the byte 0xE9; in UTF-8 it is 0xC3 0xA9)"
            ));
            d.file = file.to_string();
            (text, Some(d))
        }
    }
}

/// Parse one policy file from its bytes: `decode_policy`, then
/// `parse_policy`. Returns the text the diagnostics point into.
pub fn parse_policy_bytes(bytes: Vec<u8>, file: &str) -> (String, Option<Policy>, Vec<Diagnostic>) {
    let (text, not_utf8) = decode_policy(bytes, file);
    let (policy, mut diags) = parse_policy(&text, file);
    match not_utf8 {
        Some(d) => {
            diags.push(d);
            diags.sort_by_key(|d| d.span.as_ref().map_or(0, |s| s.start));
            (text, None, diags)
        }
        None => (text, policy, diags),
    }
}

/// `lint_sources` for files as read from disk: each is decoded with
/// `decode_policy`, so a file that is not UTF-8 is an error with its place,
/// never silently read with replacement characters.
pub fn lint_bytes(files: Vec<(String, Vec<u8>)>) -> Vec<LintedFile> {
    lint_parsed(
        files
            .into_iter()
            .map(|(path, bytes)| {
                let (source, policy, diagnostics) = parse_policy_bytes(bytes, &path);
                LintedFile {
                    path,
                    source,
                    policy,
                    diagnostics,
                }
            })
            .collect(),
    )
}

/// Lint several policy files together: each on its own, then the rules that
/// span files (a member may belong to one team only).
pub fn lint_sources(files: Vec<(String, String)>) -> Vec<LintedFile> {
    lint_parsed(
        files
            .into_iter()
            .map(|(path, source)| {
                let (policy, diagnostics) = parse_policy(&source, &path);
                LintedFile {
                    path,
                    source,
                    policy,
                    diagnostics,
                }
            })
            .collect(),
    )
}

fn lint_parsed(mut linted: Vec<LintedFile>) -> Vec<LintedFile> {
    // email -> (file index, span of the email in that file)
    let mut first_seen: HashMap<String, (usize, Range<usize>)> = HashMap::new();
    let mut extra: Vec<(usize, Diagnostic)> = Vec::new();
    for (i, f) in linted.iter().enumerate() {
        for (email, span) in member_emails(&f.source) {
            match first_seen.get(&email) {
                Some((j, first_span)) if *j != i => {
                    let other = &linted[*j];
                    let mut d = Diagnostic::error(
                        "member-in-two-teams",
                        format!("`{email}` is a member of two teams"),
                    )
                    .at(span.clone(), "also listed here")
                    .help("a person follows one team's policy; remove them from one of the files");
                    d.file = f.path.clone();
                    d.related.push(Related {
                        file: other.path.clone(),
                        source: Some(other.source.clone()),
                        span: first_span.clone(),
                        label: "first listed here".into(),
                    });
                    extra.push((i, d));
                }
                Some(_) => {}
                None => {
                    first_seen.insert(email, (i, span));
                }
            }
        }
    }
    for (i, d) in extra {
        linted[i].policy = None;
        linted[i].diagnostics.push(d);
    }
    linted
}

/// Member emails and their spans, for the cross-file check. Reads the file
/// again leniently so that a file with other errors still takes part.
fn member_emails(source: &str) -> Vec<(String, Range<usize>)> {
    let (root, _) = DeTable::parse_recoverable(source);
    let Some(members) = lookup(root.get_ref(), "member").and_then(|v| v.get_ref().as_array())
    else {
        return Vec::new();
    };
    members
        .iter()
        .filter_map(|m| m.get_ref().as_table())
        .filter_map(|t| lookup(t, "email"))
        .filter_map(|e| {
            e.get_ref()
                .as_str()
                .map(|s| (s.trim().to_lowercase(), e.span()))
        })
        .collect()
}

fn lookup<'a, 'i>(table: &'a DeTable<'i>, key: &str) -> Option<&'a Value<'i>> {
    table
        .iter()
        .find(|(k, _)| k.get_ref() == key)
        .map(|(_, v)| v)
}

struct Walker<'s> {
    file: &'s str,
    source: &'s str,
    diags: Vec<Diagnostic>,
    member_spans: HashMap<String, Range<usize>>,
    /// Every member address that parsed, even when another field of that
    /// member did not: rule scopes are checked against these, so one typo
    /// in a member does not make every rule that names them an error too.
    member_emails: Vec<String>,
    /// The same addresses, for lookups: a rule may name thousands.
    member_set: std::collections::HashSet<String>,
    /// How many more "did you mean" searches over the members' addresses
    /// this file may have (`MAX_SIMILAR_LOOKUPS`).
    similar_left: usize,
}

impl Walker<'_> {
    fn policy(&mut self) -> Option<Policy> {
        let (root, errors) = DeTable::parse_recoverable(self.source);
        if !errors.is_empty() {
            for e in errors {
                let span = e.span().unwrap_or(0..0);
                self.diags.push(
                    Diagnostic::error("toml-syntax", e.message().trim().to_lowercase())
                        .at(span, "the file stops being valid TOML here"),
                );
            }
            return None;
        }
        let root = root.into_inner();
        self.check_keys(&root, TOP_KEYS, "the top level");

        let (team, domains) = match self.required(&root, "team", 0..0, "the top level") {
            Some(v) => self.team(v),
            None => (String::new(), Vec::new()),
        };
        let members = match lookup(&root, "member") {
            Some(v) => self.members(v),
            None => {
                self.diags.push(
                    Diagnostic::error("missing-key", "the policy has no members")
                        .at(0..0, "expected `[[member]]` tables")
                        .help("add one `[[member]]` table per person, with `email`, `time_zone` and `working_hours`"),
                );
                Vec::new()
            }
        };
        let rules = lookup(&root, "rule")
            .map(|v| self.rules(v))
            .unwrap_or_default();
        let exceptions = lookup(&root, "exceptions")
            .map(|v| self.exceptions(v))
            .unwrap_or_default();
        let comment = lookup(&root, "comment")
            .map(|v| self.comment(v))
            .unwrap_or_else(Template::default_template);
        let mut fairness = lookup(&root, "fairness")
            .map(|v| self.fairness(v))
            .unwrap_or_default();
        fairness.enabled |= rules.iter().any(|r| {
            matches!(
                r.spec.kind(),
                RuleKind::OutsideHoursBudget | RuleKind::BurdenCap | RuleKind::SeriesRotation
            )
        });

        if comment.uses("urgent_keyword")
            && exceptions.urgent.is_none()
            && let Some(template) = lookup(&root, "comment")
                .and_then(|c| c.get_ref().as_table())
                .and_then(|t| lookup(t, "template"))
        {
            self.diags.push(
                Diagnostic::warning(
                    "unused-placeholder",
                    "the template uses `{urgent_keyword}` but there is no urgent exception",
                )
                .at(template.span(), "`{urgent_keyword}` will be empty")
                .help("add `[exceptions.urgent]` with a `keyword`, or drop the placeholder"),
            );
        }
        if self.diags.iter().any(Diagnostic::is_error) {
            return None;
        }
        let mut policy = Policy::new(
            team,
            domains,
            members,
            rules,
            exceptions,
            comment,
            content_hash(self.source),
        );
        policy.fairness = fairness;
        Some(policy)
    }

    // ---- sections -------------------------------------------------------

    fn team(&mut self, v: &Value<'_>) -> (String, Vec<String>) {
        let Some(t) = self.table(v, "`team`") else {
            return (String::new(), Vec::new());
        };
        self.check_keys(t, TEAM_KEYS, "`[team]`");
        let name = self
            .required(t, "name", v.span(), "`[team]`")
            .and_then(|n| self.string(n, "`team.name`"))
            .map(|(s, _)| s)
            .unwrap_or_default();
        let domains = match lookup(t, "domains") {
            Some(d) => self
                .strings(d, "`team.domains`")
                .into_iter()
                .filter_map(|(s, span)| {
                    let s = s.trim().trim_start_matches('@').to_lowercase();
                    if s.is_empty() || s.contains(['@', ' ']) || !s.contains('.') {
                        self.diags.push(
                            Diagnostic::error(
                                "invalid-domain",
                                format!("`{s}` is not a mail domain"),
                            )
                            .at(span, "expected a domain such as `example.com`"),
                        );
                        None
                    } else {
                        Some(s)
                    }
                })
                .collect(),
            None => Vec::new(),
        };
        (name, domains)
    }

    fn members(&mut self, v: &Value<'_>) -> Vec<Member> {
        let Some(items) = v.get_ref().as_array() else {
            self.type_error(v, "`member`", "an array of tables, written `[[member]]`");
            return Vec::new();
        };
        let mut out: Vec<Member> = Vec::new();
        for item in items.iter() {
            let Some(t) = self.table(item, "`[[member]]`") else {
                continue;
            };
            self.check_keys(t, MEMBER_KEYS, "`[[member]]`");
            let email = self
                .required(t, "email", item.span(), "`[[member]]`")
                .and_then(|e| self.email(e, "`member.email`"));
            if let Some((e, _)) = &email {
                self.member_emails.push(e.clone());
                self.member_set.insert(e.clone());
            }
            // Without `time_zone`, a Google member's zone comes from their
            // calendar's setting; until it is known, UTC.
            let tz_from_calendar = lookup(t, "time_zone").is_none();
            let tz = match lookup(t, "time_zone") {
                Some(z) => self.time_zone(z),
                None => Some(Tz::UTC),
            };
            let hours = self
                .required(t, "working_hours", item.span(), "`[[member]]`")
                .and_then(|h| self.hours(h));
            let days = match lookup(t, "working_days") {
                Some(d) => self.days(d, "`working_days`"),
                None => Some(WeekdaySet::WORKWEEK),
            };
            if let Some(d) = days
                && d.is_empty()
                && let Some(dv) = lookup(t, "working_days")
            {
                self.diags.push(
                    Diagnostic::error("impossible-value", "a member must work on at least one day")
                        .at(dv.span(), "no working days")
                        .help("list the days this person works, e.g. `[\"monday\", \"tuesday\"]`"),
                );
            }
            let (Some((email, email_span)), Some(tz), Some((start, end)), Some(days)) =
                (email, tz, hours, days)
            else {
                continue;
            };
            if let Some(first) = self.member_spans.get(&email) {
                let mut d =
                    Diagnostic::error("duplicate-member", format!("`{email}` is listed twice"))
                        .at(email_span, "listed again here")
                        .help("keep one `[[member]]` table per person");
                d.related.push(Related {
                    file: self.file.to_string(),
                    source: None,
                    span: first.clone(),
                    label: "first listed here".into(),
                });
                self.diags.push(d);
                continue;
            }
            self.member_spans.insert(email.clone(), email_span);
            out.push(Member {
                email,
                tz,
                hours: WorkingHours { start, end, days },
                tz_from_calendar,
            });
        }
        out
    }

    fn rules(&mut self, v: &Value<'_>) -> Vec<Rule> {
        let Some(items) = v.get_ref().as_array() else {
            self.type_error(v, "`rule`", "an array of tables, written `[[rule]]`");
            return Vec::new();
        };
        let mut out: Vec<(Rule, Range<usize>)> = Vec::new();
        // The purposes `decision_record` rules name, checked once every
        // `purpose` rule is known.
        let mut record_purposes: Vec<(String, Range<usize>)> = Vec::new();
        for item in items.iter() {
            let Some(t) = self.table(item, "`[[rule]]`") else {
                continue;
            };
            let Some(kind_v) = self.required(t, "kind", item.span(), "`[[rule]]`") else {
                continue;
            };
            let Some((kind_s, kind_span)) = self.string(kind_v, "`rule.kind`") else {
                continue;
            };
            let Some(kind) = RuleKind::parse(&kind_s) else {
                self.diags.push(
                    Diagnostic::error("unknown-rule", format!("unknown rule kind `{kind_s}`"))
                        .at(kind_span, "not a rule gatekeeper knows")
                        .help_opt(
                            did_you_mean_help(&kind_s, RuleKind::ALL.iter().map(|k| k.as_str()))
                                .or_else(|| {
                                    Some(format!(
                                        "the kinds are {}",
                                        RuleKind::ALL
                                            .iter()
                                            .map(|k| format!("`{}`", k.as_str()))
                                            .collect::<Vec<_>>()
                                            .join(", ")
                                    ))
                                }),
                        ),
                );
                continue;
            };
            let allowed: Vec<&str> = RULE_COMMON_KEYS
                .iter()
                .chain(rule_keys(kind))
                .copied()
                .collect();
            self.check_keys(t, &allowed, &format!("a `{}` rule", kind.as_str()));
            let action = self
                .required(
                    t,
                    "action",
                    item.span(),
                    &format!("the `{}` rule", kind.as_str()),
                )
                .and_then(|a| self.action(a));
            let scope = lookup(t, "members").map(|m| self.rule_members(m));
            let spec = match kind {
                RuleKind::Agenda => {
                    let min_words = match lookup(t, "min_words") {
                        Some(n) => self.int_in(n, "`min_words`", 1, 200, "a description needs at least one word, and 200 is an essay"),
                        None => Some(6),
                    };
                    min_words.map(|min_words| RuleSpec::Agenda { min_words })
                }
                RuleKind::MinNotice => self
                    .required(t, "hours", item.span(), "the `min_notice` rule")
                    .and_then(|n| self.int_in(n, "`hours`", 1, 24 * 90, "notice is counted in hours, from 1 to 2160 (90 days)"))
                    .map(|hours| RuleSpec::MinNotice { hours }),
                RuleKind::MeetingFreeDays => self
                    .required(t, "days", item.span(), "the `meeting_free_days` rule")
                    .and_then(|d| {
                        let set = self.days(d, "`days`")?;
                        if set.is_empty() {
                            self.diags.push(
                                Diagnostic::error("impossible-value", "`meeting_free_days` lists no days")
                                    .at(d.span(), "empty")
                                    .help("list at least one day, e.g. `[\"wednesday\"]`, or remove the rule"),
                            );
                            None
                        } else if set.len() == 7 {
                            self.diags.push(
                                Diagnostic::error("impossible-value", "every day is meeting-free")
                                    .at(d.span(), "no day is left for meetings")
                                    .help("keep at least one day open for meetings"),
                            );
                            None
                        } else {
                            Some(RuleSpec::MeetingFreeDays { days: set })
                        }
                    }),
                RuleKind::MaxDuration => self
                    .required(t, "minutes", item.span(), "the `max_duration` rule")
                    .and_then(|n| self.int_in(n, "`minutes`", 1, 24 * 60, "a meeting lasts between 1 minute and 24 hours"))
                    .map(|minutes| RuleSpec::MaxDuration { minutes }),
                RuleKind::MaxAttendees => self
                    .required(t, "count", item.span(), "the `max_attendees` rule")
                    .and_then(|n| self.int_in(n, "`count`", 2, 10_000, "a meeting has at least 2 people"))
                    .map(|count| RuleSpec::MaxAttendees { count }),
                RuleKind::WorkingHours => Some(RuleSpec::WorkingHours),
                RuleKind::ProtectedTime => Some(RuleSpec::ProtectedTime),
                RuleKind::OutsideHoursBudget => self
                    .required(t, "minutes_per_week", item.span(), "the `outside_hours_budget` rule")
                    .and_then(|n| self.int_in(n, "`minutes_per_week`", 1, 7 * 24 * 60, "a budget of minutes outside working hours per week, from 1 to 10080 (the whole week); to allow none, use the `working_hours` rule"))
                    .map(|minutes_per_week| RuleSpec::OutsideHoursBudget { minutes_per_week }),
                RuleKind::BurdenCap => self
                    .required(t, "ratio", item.span(), "the `burden_cap` rule")
                    .and_then(|n| self.number_in(n, "`ratio`", 1.0, 10.0, "the cap is a multiple of the team's mean burden, e.g. `1.3`; below 1 most of the team would always be over it"))
                    .map(|ratio| RuleSpec::BurdenCap { ratio }),
                RuleKind::SeriesRotation => self
                    .required(t, "max_share", item.span(), "the `series_rotation` rule")
                    .and_then(|n| self.number_in(n, "`max_share`", 0.1, 0.9, "the largest share of a series' occurrences one member may spend outside their hours, e.g. `0.5`; 1 would never fire, 0 is the `working_hours` rule"))
                    .map(|max_share| RuleSpec::SeriesRotation { max_share }),
                RuleKind::Purpose => self.purpose_rule(t).map(RuleSpec::Purpose),
                RuleKind::DecisionRecord => self
                    .decision_record_rule(t, item.span(), &mut record_purposes)
                    .map(RuleSpec::DecisionRecord),
            };
            let (Some(spec), Some(action)) = (spec, action) else {
                continue;
            };
            let scope = match scope {
                Some(Some(s)) => Some(s),
                Some(None) => continue,
                None => None,
            };
            let rule = Rule {
                spec,
                action,
                members: scope,
            };
            // Two rules of one kind that can apply to the same member would
            // make the outcome depend on their order: that is an error.
            if let Some((_, first_span)) = out
                .iter()
                .find(|(r, _)| r.spec.kind() == kind && scopes_overlap(r, &rule))
            {
                let mut d = Diagnostic::error(
                    "overlapping-rules",
                    format!("two `{}` rules apply to the same members", kind.as_str()),
                )
                .at(kind_span, "this rule overlaps an earlier one")
                .help("merge them, or give each a `members` list that does not overlap");
                d.related.push(Related {
                    file: self.file.to_string(),
                    source: None,
                    span: first_span.clone(),
                    label: "the earlier rule".into(),
                });
                self.diags.push(d);
                continue;
            }
            out.push((rule, kind_span));
        }
        self.check_record_purposes(items, &out, record_purposes);
        out.into_iter().map(|(r, _)| r).collect()
    }

    fn rule_members(&mut self, v: &Value<'_>) -> Option<Vec<String>> {
        let mut ok = true;
        let mut out = Vec::new();
        for (s, span) in self.strings(v, "`members`") {
            let email = s.trim().to_lowercase();
            if self.member_set.contains(&email) {
                out.push(email);
            } else {
                ok = false;
                let help = (self.similar_left > 0)
                    .then(|| {
                        self.similar_left -= 1;
                        similar_email(&email, &self.member_emails)
                    })
                    .flatten()
                    .map(|e| format!("did you mean `{e}`?"));
                self.diags.push(
                    Diagnostic::error(
                        "unknown-member",
                        format!("`{email}` is not a member of this team"),
                    )
                    .at(span, "not listed in any `[[member]]`")
                    .help_opt(help),
                );
            }
        }
        if out.is_empty() && ok {
            self.diags.push(
                Diagnostic::error("impossible-value", "the rule applies to nobody")
                    .at(v.span(), "empty list")
                    .help("remove `members` to apply the rule to everyone"),
            );
            return None;
        }
        ok.then_some(out)
    }

    fn exceptions(&mut self, v: &Value<'_>) -> Exceptions {
        let mut ex = Exceptions::default();
        let Some(t) = self.table(v, "`exceptions`") else {
            return ex;
        };
        self.check_keys(t, EXCEPTION_KEYS, "`[exceptions]`");
        if let Some(o) = lookup(t, "organizers") {
            for (s, span) in self.strings(o, "`exceptions.organizers`") {
                if let Some((e, _)) = self.email_str(&s, span, "`exceptions.organizers`") {
                    ex.organizers.push(e);
                }
            }
        }
        if let Some(o) = lookup(t, "one_to_one")
            && let Some(choice) = self.choice(o, "`one_to_one`", &["exempt", "screen"])
        {
            ex.one_to_one = if choice == "exempt" {
                OneToOne::Exempt
            } else {
                OneToOne::Screen
            };
        }
        if let Some(o) = lookup(t, "external_guests")
            && let Some(choice) = self.choice(
                o,
                "`external_guests`",
                &["screen", "exempt", "never_decline"],
            )
        {
            ex.external_guests = match choice.as_str() {
                "screen" => ExternalGuests::Screen,
                "exempt" => ExternalGuests::Exempt,
                _ => ExternalGuests::NeverDecline,
            };
        }
        if let Some(u) = lookup(t, "urgent")
            && let Some(ut) = self.table(u, "`exceptions.urgent`")
        {
            self.check_keys(ut, URGENT_KEYS, "`[exceptions.urgent]`");
            let keyword = self
                .required(ut, "keyword", u.span(), "`[exceptions.urgent]`")
                .and_then(|k| self.string(k, "`keyword`"))
                .and_then(|(k, span)| {
                    let k = k.trim().to_lowercase();
                    if k.is_empty() || k.contains(char::is_whitespace) {
                        self.diags.push(
                            Diagnostic::error(
                                "impossible-value",
                                "the urgent keyword must be one word",
                            )
                            .at(span, "empty or several words")
                            .help("use a single word such as `urgent`"),
                        );
                        None
                    } else {
                        Some(k)
                    }
                });
            let per = self
                .required(
                    ut,
                    "per_organizer_per_month",
                    u.span(),
                    "`[exceptions.urgent]`",
                )
                .and_then(|n| {
                    self.int_in(
                        n,
                        "`per_organizer_per_month`",
                        1,
                        100,
                        "use 1 or more, or remove `[exceptions.urgent]`",
                    )
                });
            if let (Some(keyword), Some(per_organizer_per_month)) = (keyword, per) {
                ex.urgent = Some(Urgent {
                    keyword,
                    per_organizer_per_month,
                });
            }
        }
        ex
    }

    fn fairness(&mut self, v: &Value<'_>) -> Fairness {
        let mut f = Fairness {
            enabled: true,
            ..Fairness::default()
        };
        let Some(t) = self.table(v, "`fairness`") else {
            return f;
        };
        self.check_keys(t, FAIRNESS_KEYS, "`[fairness]`");
        if let Some(n) = lookup(t, "window_weeks").and_then(|n| {
            self.int_in(
                n,
                "`window_weeks`",
                1,
                52,
                "the rolling window is counted in weeks, from 1 to 52",
            )
        }) {
            f.window_weeks = n;
        }
        if let Some(n) = lookup(t, "suggest_days").and_then(|n| {
            self.int_in(
                n,
                "`suggest_days`",
                1,
                28,
                "other times are looked for from 1 to 28 days ahead",
            )
        }) {
            f.suggest_days = n;
        }
        if let Some(b) =
            lookup(t, "count_optional").and_then(|b| self.boolean(b, "`count_optional`"))
        {
            f.count_optional = b;
        }
        if let Some(b) =
            lookup(t, "count_external").and_then(|b| self.boolean(b, "`count_external`"))
        {
            f.count_external = b;
        }
        if let Some(n) = lookup(t, "shoulder_hours").and_then(|n| {
            self.int_in(
                n,
                "`shoulder_hours`",
                0,
                6,
                "the shoulder is the hours just before and after the working day, from 0 to 6",
            )
        }) {
            f.curve.shoulder_minutes = n * 60;
        }
        let why = "a weight per minute, from 0 to 100";
        if let Some(n) = lookup(t, "shoulder_weight")
            .and_then(|n| self.int_in(n, "`shoulder_weight`", 0, 100, why))
        {
            f.curve.shoulder = n;
        }
        if let Some(n) = lookup(t, "non_working_day_weight")
            .and_then(|n| self.int_in(n, "`non_working_day_weight`", 0, 100, why))
        {
            f.curve.non_working_day = n;
        }
        let night = lookup(t, "night_weight");
        if let Some(n) = night.and_then(|n| self.int_in(n, "`night_weight`", 0, 100, why)) {
            f.curve.night = n;
        }
        let c = f.curve;
        if c.shoulder == 0 && c.non_working_day == 0 && c.night == 0 {
            self.diags.push(
                Diagnostic::error(
                    "impossible-value",
                    "every weight of the inconvenience curve is 0",
                )
                .at(
                    v.span().start..v.span().start,
                    "no meeting would ever cost anything",
                )
                .help("give `night_weight` at least a weight of 1 (the default curve is 1, 2, 3)"),
            );
        } else if c.night < c.shoulder
            && let Some(n) = night
        {
            self.diags.push(
                Diagnostic::warning("inverted-curve", "the night weighs less than the shoulder hours")
                    .at(n.span(), "lighter than `shoulder_weight`")
                    .help("the night is usually the heaviest: e.g. `shoulder_weight = 1`, `night_weight = 3`"),
            );
        }
        f
    }

    fn comment(&mut self, v: &Value<'_>) -> Template {
        let Some(t) = self.table(v, "`comment`") else {
            return Template::default_template();
        };
        self.check_keys(t, COMMENT_KEYS, "`[comment]`");
        let Some(tv) = lookup(t, "template") else {
            return Template::default_template();
        };
        let Some((text, span)) = self.string(tv, "`comment.template`") else {
            return Template::default_template();
        };
        match Template::parse(&text) {
            Ok(t) => t,
            Err(unknown) => {
                let raw = &self.source[span.clone()];
                for u in unknown {
                    // Point at the placeholder itself when the raw text holds
                    // it verbatim (it does unless escapes sit inside it).
                    let needle = format!("{{{}}}", u.name);
                    let at = raw.find(&needle).map_or(span.clone(), |i| {
                        span.start + i..span.start + i + needle.len()
                    });
                    self.diags.push(
                        Diagnostic::error(
                            "unknown-placeholder",
                            format!("unknown placeholder `{{{}}}`", u.name),
                        )
                        .at(at, "gatekeeper cannot fill this in")
                        .help_opt(
                            super::diagnostic::did_you_mean(&u.name, super::comment::PLACEHOLDERS)
                                .map(|p| format!("did you mean `{{{p}}}`?"))
                                .or_else(|| {
                                    Some(format!(
                                        "the placeholders are {}",
                                        super::comment::PLACEHOLDERS
                                            .iter()
                                            .map(|p| format!("`{{{p}}}`"))
                                            .collect::<Vec<_>>()
                                            .join(", ")
                                    ))
                                }),
                        ),
                    );
                }
                Template::default_template()
            }
        }
    }

    // ---- values ---------------------------------------------------------

    fn check_keys(&mut self, t: &DeTable<'_>, allowed: &[&str], place: &str) {
        for (k, _) in t.iter() {
            let key = k.get_ref().as_ref();
            if !allowed.contains(&key) {
                self.diags.push(
                    Diagnostic::error("unknown-key", format!("unknown key `{key}` in {place}"))
                        .at(k.span(), "gatekeeper does not know this key")
                        .help(unknown_key_help(key, allowed)),
                );
            }
        }
    }

    fn required<'a, 'i>(
        &mut self,
        t: &'a DeTable<'i>,
        key: &str,
        at: Range<usize>,
        place: &str,
    ) -> Option<&'a Value<'i>> {
        let v = lookup(t, key);
        if v.is_none() {
            self.diags.push(
                Diagnostic::error("missing-key", format!("{place} needs `{key}`"))
                    .at(at.start..at.start, format!("`{key}` is missing"))
                    .help(format!("add `{key} = ...`")),
            );
        }
        v
    }

    fn type_error(&mut self, v: &Value<'_>, what: &str, expected: &str) {
        self.diags.push(
            Diagnostic::error("wrong-type", format!("{what} must be {expected}")).at(
                v.span(),
                format!("this is {}", article(v.get_ref().type_str())),
            ),
        );
    }

    fn table<'a, 'i>(&mut self, v: &'a Value<'i>, what: &str) -> Option<&'a DeTable<'i>> {
        let t = v.get_ref().as_table();
        if t.is_none() {
            self.type_error(v, what, "a table");
        }
        t
    }

    fn string(&mut self, v: &Value<'_>, what: &str) -> Option<(String, Range<usize>)> {
        match v.get_ref().as_str() {
            Some(s) => Some((s.to_string(), v.span())),
            None => {
                self.type_error(v, what, "a string");
                None
            }
        }
    }

    fn strings(&mut self, v: &Value<'_>, what: &str) -> Vec<(String, Range<usize>)> {
        let Some(items) = v.get_ref().as_array() else {
            self.type_error(v, what, "an array of strings");
            return Vec::new();
        };
        items.iter().filter_map(|i| self.string(i, what)).collect()
    }

    fn int_in(&mut self, v: &Value<'_>, what: &str, min: i64, max: i64, why: &str) -> Option<u32> {
        let Some(i) = v.get_ref().as_integer() else {
            self.type_error(v, what, "a whole number");
            return None;
        };
        let digits: String = i.as_str().chars().filter(|c| *c != '_').collect();
        let n = i64::from_str_radix(digits.trim_start_matches('+'), i.radix()).ok();
        match n {
            Some(n) if (min..=max).contains(&n) => u32::try_from(n).ok(),
            _ => {
                self.diags.push(
                    Diagnostic::error(
                        "impossible-value",
                        format!("{what} must be between {min} and {max}"),
                    )
                    .at(v.span(), "out of range")
                    .help(why.to_string()),
                );
                None
            }
        }
    }

    /// A whole or decimal number in `[min, max]`.
    fn number_in(
        &mut self,
        v: &Value<'_>,
        what: &str,
        min: f64,
        max: f64,
        why: &str,
    ) -> Option<f64> {
        let n = match v.get_ref() {
            DeValue::Float(f) => f.as_str().replace('_', "").parse::<f64>().ok(),
            DeValue::Integer(i) => {
                let digits: String = i.as_str().chars().filter(|c| *c != '_').collect();
                i64::from_str_radix(digits.trim_start_matches('+'), i.radix())
                    .ok()
                    .map(|n| n as f64)
            }
            _ => {
                self.type_error(v, what, "a number");
                return None;
            }
        };
        match n {
            Some(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                self.diags.push(
                    Diagnostic::error(
                        "impossible-value",
                        format!("{what} must be between {min} and {max}"),
                    )
                    .at(v.span(), "out of range")
                    .help(why.to_string()),
                );
                None
            }
        }
    }

    fn boolean(&mut self, v: &Value<'_>, what: &str) -> Option<bool> {
        let b = v.get_ref().as_bool();
        if b.is_none() {
            self.type_error(v, what, "`true` or `false`");
        }
        b
    }

    fn choice(&mut self, v: &Value<'_>, what: &str, choices: &[&str]) -> Option<String> {
        let (s, span) = self.string(v, what)?;
        if choices.contains(&s.as_str()) {
            return Some(s);
        }
        self.diags.push(
            Diagnostic::error("unknown-value", format!("{what} cannot be `{s}`"))
                .at(span, "not one of the choices")
                .help_opt(did_you_mean_help(&s, choices.iter().copied()).or_else(|| {
                    Some(format!(
                        "choose one of {}",
                        choices
                            .iter()
                            .map(|c| format!("`{c}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })),
        );
        None
    }

    fn action(&mut self, v: &Value<'_>) -> Option<Action> {
        self.choice(v, "`action`", &Action::NAMES)
            .and_then(|s| Action::parse(&s))
    }

    fn email(&mut self, v: &Value<'_>, what: &str) -> Option<(String, Range<usize>)> {
        let (s, span) = self.string(v, what)?;
        self.email_str(&s, span, what)
    }

    fn email_str(
        &mut self,
        s: &str,
        span: Range<usize>,
        what: &str,
    ) -> Option<(String, Range<usize>)> {
        let e = s.trim().trim_start_matches("mailto:").to_lowercase();
        let valid = e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.contains('@')
        }) && !e.contains(char::is_whitespace);
        if valid {
            Some((e, span))
        } else {
            self.diags.push(
                Diagnostic::error(
                    "invalid-email",
                    format!("{what} `{s}` is not an email address"),
                )
                .at(span, "expected an address such as `ana@example.com`"),
            );
            None
        }
    }

    fn time_zone(&mut self, v: &Value<'_>) -> Option<Tz> {
        let (s, span) = self.string(v, "`time_zone`")?;
        if let Ok(tz) = s.parse::<Tz>() {
            return Some(tz);
        }
        self.diags.push(
            Diagnostic::error("unknown-time-zone", format!("unknown time zone `{s}`"))
                .at(span, "not an IANA time zone name")
                .help(super::diagnostic::time_zone_help(&s)),
        );
        None
    }

    fn hours(&mut self, v: &Value<'_>) -> Option<(NaiveTime, NaiveTime)> {
        let (s, span) = self.string(v, "`working_hours`")?;
        let mut round_the_clock = false;
        let parsed = s.split_once('-').and_then(|(a, b)| {
            let a = NaiveTime::parse_from_str(a.trim(), "%H:%M").ok()?;
            let b = b.trim();
            // "24:00" is how people write the end of the day; "00:00-24:00"
            // is a whole day (start == end then means 24 hours).
            let b = if b == "24:00" {
                round_the_clock = true;
                NaiveTime::MIN
            } else {
                NaiveTime::parse_from_str(b, "%H:%M").ok()?
            };
            Some((a, b))
        });
        match parsed {
            Some((a, b)) if a == b && !(round_the_clock && a == NaiveTime::MIN) => {
                self.diags.push(
                    Diagnostic::error("impossible-value", "working hours start and end at the same time")
                        .at(span, "zero-length working day")
                        .help("write the span, e.g. `09:00-17:00`; hours that cross midnight, like `22:00-06:00`, are fine"),
                );
                None
            }
            Some(p) => Some(p),
            None => {
                self.diags.push(
                    Diagnostic::error("invalid-hours", format!("`{s}` is not a span of hours"))
                        .at(span, "expected `HH:MM-HH:MM`")
                        .help("write 24-hour times, e.g. `09:00-17:30` or `22:00-06:00`"),
                );
                None
            }
        }
    }

    fn days(&mut self, v: &Value<'_>, what: &str) -> Option<WeekdaySet> {
        let mut set = WeekdaySet::default();
        let mut ok = true;
        for (s, span) in self.strings(v, what) {
            match parse_day(&s) {
                Some(d) => set.insert(d),
                None => {
                    ok = false;
                    self.diags.push(
                        Diagnostic::error("unknown-day", format!("`{s}` is not a day of the week"))
                            .at(span, "unknown day")
                            .help_opt(did_you_mean_help(&s, DAY_NAMES).or_else(|| {
                                Some("write days in English, e.g. `monday` or `mon`".into())
                            })),
                    );
                }
            }
        }
        (ok && v.get_ref().is_array()).then_some(set)
    }
}

// ---- the `purpose` and `decision_record` rules -------------------------------

const PURPOSE_KEYS: &[&str] = &["name", "words", "categories"];
const ALTERNATIVE_KEYS: &[&str] = &["name", "link"];

impl Walker<'_> {
    /// `purposes` (names, or tables with `name`, `words`, `categories`;
    /// the three defaults when left out) and `alternatives` (names, or
    /// tables with `name` and `link`).
    fn purpose_rule(&mut self, t: &DeTable<'_>) -> Option<PurposeRule> {
        let errors_before = self.error_count();
        let purposes = match lookup(t, "purposes") {
            Some(v) => self.purposes(v),
            None => default_purposes(),
        };
        let alternatives = match lookup(t, "alternatives") {
            Some(v) => self.alternatives(v),
            None => default_alternatives(),
        };
        (self.error_count() == errors_before).then_some(PurposeRule {
            purposes,
            alternatives,
        })
    }

    fn error_count(&self) -> usize {
        self.diags.iter().filter(|d| d.is_error()).count()
    }

    fn purposes(&mut self, v: &Value<'_>) -> Vec<Purpose> {
        let Some(items) = v.get_ref().as_array() else {
            self.type_error(v, "`purposes`", "an array of names or tables");
            return Vec::new();
        };
        if items.is_empty() {
            self.diags.push(
                Diagnostic::error("impossible-value", "the rule accepts no purpose")
                    .at(v.span(), "empty list")
                    .help("list the purposes that justify a meeting, e.g. `[\"decision\", \"feedback\", \"relationships\"]`"),
            );
            return Vec::new();
        }
        if items.len() > MAX_PURPOSES {
            self.diags.push(
                Diagnostic::error(
                    "impossible-value",
                    format!("more than {MAX_PURPOSES} purposes"),
                )
                .at(v.span(), "too many")
                .help("a team that meets for everything needs no `purpose` rule"),
            );
            return Vec::new();
        }
        let mut out: Vec<(Purpose, Range<usize>)> = Vec::new();
        for item in items.iter() {
            let (name_v, table) = match item.get_ref() {
                DeValue::String(_) => (Some(item), None),
                DeValue::Table(pt) => {
                    self.check_keys(pt, PURPOSE_KEYS, "a purpose");
                    (
                        self.required(pt, "name", item.span(), "a purpose"),
                        Some(pt),
                    )
                }
                _ => {
                    self.type_error(item, "a purpose", "a name or a table with `name`");
                    continue;
                }
            };
            let Some((name, span)) = name_v.and_then(|n| self.string(n, "a purpose's `name`"))
            else {
                continue;
            };
            let name = name.trim().to_lowercase();
            if tokens(&name).is_empty() {
                self.diags.push(
                    Diagnostic::error("impossible-value", "a purpose needs a name")
                        .at(span, "no letters or digits")
                        .help("name it as organizers will write it: `Purpose: decision`"),
                );
                continue;
            }
            if let Some((_, first)) = out.iter().find(|(p, _)| tokens(&p.name) == tokens(&name)) {
                let mut d = Diagnostic::error(
                    "duplicate-purpose",
                    format!("the purpose `{name}` is listed twice"),
                )
                .at(span, "listed again here")
                .help("keep one entry per purpose, with all its words");
                d.related.push(Related {
                    file: self.file.to_string(),
                    source: None,
                    span: first.clone(),
                    label: "first listed here".into(),
                });
                self.diags.push(d);
                continue;
            }
            let mut purpose = Purpose::named(&name);
            if let Some(pt) = table {
                if let Some(w) = lookup(pt, "words") {
                    purpose.words = self.phrases(w, "`words`");
                }
                if let Some(c) = lookup(pt, "categories") {
                    purpose.categories = self.phrases(c, "`categories`");
                }
            }
            out.push((purpose, span));
        }
        self.similar_purposes(&out);
        out.into_iter().map(|(p, _)| p).collect()
    }

    /// A near miss between two purposes of the list, or of a default name
    /// (`decison`), is likely a typo: organizers would have to misspell it
    /// too. A plural (`decisions`) is a choice, not a typo.
    fn similar_purposes(&mut self, purposes: &[(Purpose, Range<usize>)]) {
        let names: Vec<&str> = purposes.iter().map(|(p, _)| p.name.as_str()).collect();
        for (i, (p, span)) in purposes.iter().enumerate() {
            let others = names
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, n)| *n)
                .chain(
                    DEFAULT_PURPOSES
                        .iter()
                        .copied()
                        .filter(|d| !names.contains(d)),
                )
                .filter(|n| !n.starts_with(p.name.as_str()) && !p.name.starts_with(n));
            if let Some(near) = super::diagnostic::did_you_mean(&p.name, others) {
                self.diags.push(
                    Diagnostic::warning(
                        "similar-purpose",
                        format!("the purpose `{}` is a near miss of `{near}`", p.name),
                    )
                    .at(span.clone(), "organizers must write this exact word")
                    .help(format!("did you mean `{near}`?")),
                );
            }
        }
    }

    /// Words or category names: non-empty strings with a letter or digit.
    fn phrases(&mut self, v: &Value<'_>, what: &str) -> Vec<String> {
        let items = self.strings(v, what);
        if items.len() > MAX_WORDS {
            self.diags.push(
                Diagnostic::error(
                    "impossible-value",
                    format!("{what} lists more than {MAX_WORDS}"),
                )
                .at(v.span(), "too many")
                .help("keep the words that really say it"),
            );
            return Vec::new();
        }
        items
            .into_iter()
            .filter_map(|(w, span)| {
                if tokens(&w).is_empty() {
                    self.diags.push(
                        Diagnostic::error("impossible-value", format!("an empty entry in {what}"))
                            .at(span, "no letters or digits")
                            .help("remove it, or write a word such as `decide`"),
                    );
                    None
                } else {
                    Some(w.trim().to_lowercase())
                }
            })
            .collect()
    }

    fn alternatives(&mut self, v: &Value<'_>) -> Vec<Alternative> {
        let Some(items) = v.get_ref().as_array() else {
            self.type_error(v, "`alternatives`", "an array of names or tables");
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items.iter().take(MAX_WORDS) {
            let (name_v, table) = match item.get_ref() {
                DeValue::String(_) => (Some(item), None),
                DeValue::Table(at) => {
                    self.check_keys(at, ALTERNATIVE_KEYS, "an alternative");
                    (
                        self.required(at, "name", item.span(), "an alternative"),
                        Some(at),
                    )
                }
                _ => {
                    self.type_error(
                        item,
                        "an alternative",
                        "a name or a table with `name` and `link`",
                    );
                    continue;
                }
            };
            let Some((name, _)) = name_v.and_then(|n| self.string(n, "an alternative's `name`"))
            else {
                continue;
            };
            let link = table
                .and_then(|at| lookup(at, "link"))
                .and_then(|l| self.string(l, "`link`"))
                .and_then(|(l, span)| {
                    let l = l.trim().to_string();
                    let ok = (l.starts_with("https://") || l.starts_with("http://"))
                        && HostPattern::parse(&l).is_some();
                    if !ok {
                        self.diags.push(
                            Diagnostic::error("invalid-link", format!("`{l}` is not a web link"))
                                .at(span, "expected `https://...`")
                                .help("give the full address, e.g. `https://wiki.example.com/new-page`"),
                        );
                    }
                    ok.then_some(l)
                });
            out.push(Alternative {
                name: name.trim().to_string(),
                link,
            });
        }
        out
    }

    fn decision_record_rule(
        &mut self,
        t: &DeTable<'_>,
        at: Range<usize>,
        record_purposes: &mut Vec<(String, Range<usize>)>,
    ) -> Option<DecisionRecordRule> {
        let hosts_v = self.required(t, "hosts", at, "the `decision_record` rule")?;
        let errors_before = self.error_count();
        let items = self.strings(hosts_v, "`hosts`");
        if items.len() > MAX_HOSTS {
            self.diags.push(
                Diagnostic::error("impossible-value", format!("more than {MAX_HOSTS} hosts"))
                    .at(hosts_v.span(), "too many")
                    .help("a record belongs in one place or two: the team's wiki, its repository"),
            );
            return None;
        }
        if items.is_empty() && hosts_v.get_ref().is_array() {
            self.diags.push(
                Diagnostic::error("impossible-value", "the rule accepts no host")
                    .at(hosts_v.span(), "empty list")
                    .help("list where decisions are written, e.g. `[\"wiki.example.com\"]`"),
            );
        }
        let mut hosts = Vec::new();
        for (h, span) in items {
            match HostPattern::parse(&h) {
                Some(p) => hosts.push(p),
                None => self.diags.push(
                    Diagnostic::error("invalid-host", format!("`{h}` is not a host"))
                        .at(span, "expected a host name")
                        .help("write a host such as `wiki.example.com`, optionally with a path: `github.com/acme`"),
                ),
            }
        }
        let purpose = match lookup(t, "purpose") {
            Some(p) => {
                let (p, span) = self.string(p, "`purpose`")?;
                let p = p.trim().to_lowercase();
                record_purposes.push((p.clone(), span));
                p
            }
            None => "decision".to_string(),
        };
        (self.error_count() == errors_before).then_some(DecisionRecordRule { purpose, hosts })
    }

    /// A `decision_record` rule's purpose must be one the `purpose` rules
    /// (or, without any, the defaults) accept. Skipped when a `purpose`
    /// rule did not parse: its errors say what to fix first.
    fn check_record_purposes(
        &mut self,
        items: &[Value<'_>],
        rules: &[(Rule, Range<usize>)],
        record_purposes: Vec<(String, Range<usize>)>,
    ) {
        let written = items
            .iter()
            .filter_map(|i| i.get_ref().as_table())
            .filter_map(|t| lookup(t, "kind"))
            .filter(|k| k.get_ref().as_str() == Some("purpose"))
            .count();
        let parsed: Vec<&PurposeRule> = rules
            .iter()
            .filter_map(|(r, _)| match &r.spec {
                RuleSpec::Purpose(p) => Some(p),
                _ => None,
            })
            .collect();
        if written != parsed.len() {
            return;
        }
        let mut known: Vec<String> = parsed
            .iter()
            .flat_map(|p| p.purposes.iter().map(|p| p.name.clone()))
            .collect();
        if parsed.is_empty() {
            known = DEFAULT_PURPOSES.iter().map(|s| s.to_string()).collect();
        }
        for (p, span) in record_purposes {
            if known.contains(&p) {
                continue;
            }
            self.diags.push(
                Diagnostic::error(
                    "unknown-purpose",
                    format!("`{p}` is not one of the team's purposes"),
                )
                .at(span, "no `purpose` rule accepts it")
                .help_opt(
                    did_you_mean_help(&p, known.iter().map(String::as_str)).or_else(|| {
                        Some(format!(
                            "the purposes are {}",
                            known
                                .iter()
                                .map(|k| format!("`{k}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                    }),
                ),
            );
        }
    }
}

fn article(type_str: &str) -> String {
    let a = if type_str.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{a} {type_str}")
}

fn parse_day(s: &str) -> Option<Weekday> {
    let s = s.trim().to_lowercase();
    DAY_NAMES
        .iter()
        .position(|d| *d == s || (s.len() == 3 && d.starts_with(&s)))
        .and_then(|i| Weekday::try_from(i as u8).ok())
}

/// A member address that looks like a typo of `email`: the same domain and a
/// close local part. Comparing whole addresses would let a shared
/// `@example.com` make strangers look alike.
fn similar_email<'a>(email: &str, known: &'a [String]) -> Option<&'a str> {
    let (local, domain) = email.rsplit_once('@')?;
    let same_domain: Vec<(&str, &'a str)> = known
        .iter()
        .filter_map(|k| {
            let (l, d) = k.rsplit_once('@')?;
            (d == domain).then_some((l, k.as_str()))
        })
        .collect();
    let best = super::diagnostic::did_you_mean(local, same_domain.iter().map(|(l, _)| *l))?;
    same_domain
        .iter()
        .find(|(l, _)| *l == best)
        .map(|(_, k)| *k)
}

fn scopes_overlap(a: &Rule, b: &Rule) -> bool {
    match (&a.members, &b.members) {
        (Some(x), Some(y)) => x.iter().any(|e| y.contains(e)),
        _ => true,
    }
}
