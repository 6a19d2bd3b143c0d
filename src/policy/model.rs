//! The validated, in-memory form of a policy file. Everything here has been
//! checked by `parse`: time zones exist, hours are possible, rules do not
//! overlap. The decision core relies on that and never re-validates.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use chrono::{NaiveTime, Weekday};
use chrono_tz::Tz;

use super::comment::Template;
use super::purpose::{DecisionRecordRule, Purpose, PurposeRule};

/// What a rule does when it fires. Ordered by severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Log only: lets a team trial a rule before it touches calendars.
    Observe,
    /// Reply tentatively with a comment that says what to fix.
    Annotate,
    /// Decline with the reasons.
    Decline,
}

impl Action {
    pub const NAMES: [&'static str; 3] = ["observe", "annotate", "decline"];

    pub fn parse(s: &str) -> Option<Action> {
        match s {
            "observe" => Some(Action::Observe),
            "annotate" => Some(Action::Annotate),
            "decline" => Some(Action::Decline),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Observe => "observe",
            Action::Annotate => "annotate",
            Action::Decline => "decline",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    Agenda,
    MinNotice,
    MeetingFreeDays,
    MaxDuration,
    MaxAttendees,
    WorkingHours,
    OutsideHoursBudget,
    BurdenCap,
    SeriesRotation,
    ProtectedTime,
    Purpose,
    DecisionRecord,
}

impl RuleKind {
    pub const ALL: [RuleKind; 12] = [
        RuleKind::Agenda,
        RuleKind::MinNotice,
        RuleKind::MeetingFreeDays,
        RuleKind::MaxDuration,
        RuleKind::MaxAttendees,
        RuleKind::WorkingHours,
        RuleKind::OutsideHoursBudget,
        RuleKind::BurdenCap,
        RuleKind::SeriesRotation,
        RuleKind::ProtectedTime,
        RuleKind::Purpose,
        RuleKind::DecisionRecord,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RuleKind::Agenda => "agenda",
            RuleKind::MinNotice => "min_notice",
            RuleKind::MeetingFreeDays => "meeting_free_days",
            RuleKind::MaxDuration => "max_duration",
            RuleKind::MaxAttendees => "max_attendees",
            RuleKind::WorkingHours => "working_hours",
            RuleKind::OutsideHoursBudget => "outside_hours_budget",
            RuleKind::BurdenCap => "burden_cap",
            RuleKind::SeriesRotation => "series_rotation",
            RuleKind::ProtectedTime => "protected_time",
            RuleKind::Purpose => "purpose",
            RuleKind::DecisionRecord => "decision_record",
        }
    }

    /// The rules that judge when a meeting is: when one of them fails,
    /// a fairness-enabled policy suggests other times.
    pub fn is_about_time(self) -> bool {
        matches!(
            self,
            RuleKind::MeetingFreeDays
                | RuleKind::WorkingHours
                | RuleKind::OutsideHoursBudget
                | RuleKind::BurdenCap
        )
    }

    pub fn parse(s: &str) -> Option<RuleKind> {
        RuleKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A set of weekdays as a bit mask (bit 0 = Monday).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WeekdaySet(u8);

impl WeekdaySet {
    pub const WORKWEEK: WeekdaySet = WeekdaySet(0b0001_1111);

    /// From a bit mask, bit 0 = Monday; bits past Sunday are ignored.
    pub const fn from_bits(bits: u8) -> WeekdaySet {
        WeekdaySet(bits & 0b0111_1111)
    }

    pub fn insert(&mut self, day: Weekday) {
        self.0 |= 1 << day.num_days_from_monday();
    }

    pub fn contains(self, day: Weekday) -> bool {
        self.0 & (1 << day.num_days_from_monday()) != 0
    }

    pub fn len(self) -> u32 {
        self.0.count_ones()
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Weekday> {
        (0..7u8)
            .filter(move |i| self.0 & (1 << i) != 0)
            .filter_map(|i| Weekday::try_from(i).ok())
    }

    /// "Mon–Fri", "Mon, Wed", "no days".
    pub fn describe(self) -> String {
        let days: Vec<Weekday> = self.iter().collect();
        if days.is_empty() {
            return "no days".into();
        }
        let contiguous = days
            .windows(2)
            .all(|w| w[1].num_days_from_monday() == w[0].num_days_from_monday() + 1);
        if contiguous && days.len() > 2 {
            format!("{}–{}", short_day(days[0]), short_day(days[days.len() - 1]))
        } else {
            days.iter()
                .map(|d| short_day(*d))
                .collect::<Vec<_>>()
                .join(", ")
        }
    }
}

pub fn short_day(d: Weekday) -> &'static str {
    match d {
        Weekday::Mon => "Mon",
        Weekday::Tue => "Tue",
        Weekday::Wed => "Wed",
        Weekday::Thu => "Thu",
        Weekday::Fri => "Fri",
        Weekday::Sat => "Sat",
        Weekday::Sun => "Sun",
    }
}

pub fn long_day(d: Weekday) -> &'static str {
    match d {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    }
}

/// A member's working hours in their own time zone. When `end <= start` the
/// hours cross midnight: a shift that starts on a working day ends the next
/// morning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkingHours {
    pub start: NaiveTime,
    pub end: NaiveTime,
    pub days: WeekdaySet,
}

impl WorkingHours {
    pub fn crosses_midnight(&self) -> bool {
        self.end <= self.start
    }

    /// "09:00–17:30 Mon–Fri"; a window that ends at midnight ends at
    /// `24:00` ("00:00–24:00", "22:00–24:00"), as people write it.
    pub fn describe(&self) -> String {
        let end = if self.end == NaiveTime::MIN {
            "24:00".to_string()
        } else {
            self.end.format("%H:%M").to_string()
        };
        format!(
            "{}–{end} {}",
            self.start.format("%H:%M"),
            self.days.describe()
        )
    }

    /// The working window that starts on `day` (0 = Monday) as minutes of
    /// the week, `[start, end)`; the end may lie past the week's end (a
    /// Sunday shift that runs into Monday). `None` on a non-working day.
    /// This is the one definition of "inside working hours": the fairness
    /// curve paints these windows, and the `working_hours` rule reads them.
    pub fn window(&self, day: u8) -> Option<(i64, i64)> {
        let wd = Weekday::try_from(day).ok()?;
        if !self.days.contains(wd) {
            return None;
        }
        let d = i64::from(day) * 1440;
        let start = d + minute_of_day(self.start);
        let end = if self.crosses_midnight() {
            d + 1440 + minute_of_day(self.end)
        } else {
            d + minute_of_day(self.end)
        };
        Some((start, end))
    }

    /// Whether every minute of the week in `[from, from + len)` (minutes of
    /// the week, wrapping past Sunday into Monday) lies inside a working
    /// window. Back-to-back windows (`00:00-24:00` on consecutive days)
    /// cover the midnight between them.
    pub fn covers(&self, from: i64, len: i64) -> bool {
        const WEEK: i64 = 7 * 1440;
        // `window`, with the times read once: this runs for every judged
        // stretch of every occurrence of every required member.
        let start = minute_of_day(self.start);
        let length = if self.crosses_midnight() {
            1440 + minute_of_day(self.end) - start
        } else {
            minute_of_day(self.end) - start
        };
        let days = self.days.0;
        let window = |d: u8| {
            (days & (1 << d) != 0).then(|| {
                let s = i64::from(d) * 1440 + start;
                (s, s + length)
            })
        };
        let mut pos = from.rem_euclid(WEEK);
        let mut left = len;
        while left > 0 {
            // A window is at most a day long, so only the one starting on
            // `pos`'s day or the day before can hold it (before Monday:
            // last week's Sunday). How far does it reach?
            let day = pos.div_euclid(1440) as u8;
            let (before, shift) = if day == 0 { (6, -WEEK) } else { (day - 1, 0) };
            let reach = [(day, 0), (before, shift)]
                .into_iter()
                .filter_map(|(d, shift)| window(d).map(|(s, e)| (s + shift, e + shift)))
                .filter(|(s, e)| *s <= pos && pos < *e)
                .map(|(_, e)| e)
                .max();
            let Some(end) = reach else {
                return false;
            };
            let step = end - pos;
            left -= step;
            pos = (pos + step).rem_euclid(WEEK);
        }
        true
    }
}

fn minute_of_day(t: NaiveTime) -> i64 {
    use chrono::Timelike;
    i64::from(t.hour()) * 60 + i64::from(t.minute())
}

#[derive(Debug, Clone)]
pub struct Member {
    /// Lowercased.
    pub email: String,
    pub tz: Tz,
    pub hours: WorkingHours,
    /// The policy names no `time_zone`: the member's calendar setting
    /// supplies it (Google), UTC until then.
    pub tz_from_calendar: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RuleSpec {
    /// The description must say what the meeting is for: at least
    /// `min_words` meaningful words (see `agenda`).
    Agenda {
        min_words: u32,
    },
    /// The invite must arrive at least `hours` before the meeting starts.
    MinNotice {
        hours: u32,
    },
    /// No meetings on these days in the member's own time zone.
    MeetingFreeDays {
        days: WeekdaySet,
    },
    MaxDuration {
        minutes: u32,
    },
    /// People, not rooms: the organizer plus every non-resource attendee.
    MaxAttendees {
        count: u32,
    },
    /// Every required attendee who is a team member must be inside their
    /// working hours.
    WorkingHours,
    /// A meeting outside a counted member's working hours is allowed only
    /// while their minutes outside hours in the fairness window, this
    /// meeting included, stay within `minutes_per_week` per week of the
    /// window.
    OutsideHoursBudget {
        minutes_per_week: u32,
    },
    /// A meeting must not add burden to a counted member whose burden is
    /// above `ratio` × the team mean when a slot exists that spreads it
    /// better.
    BurdenCap {
        ratio: f64,
    },
    /// A recurring series must not put the same counted member outside
    /// their hours in more than `max_share` of its judged occurrences.
    SeriesRotation {
        max_share: f64,
    },
    /// The meeting must not overlap the member's own focus time or
    /// out-of-office blocks (Google Calendar's event types).
    ProtectedTime,
    /// The invite must state one of the team's purposes (see `purpose`).
    Purpose(PurposeRule),
    /// A meeting of the rule's purpose must link where its decision will be
    /// written, on a host the team accepts.
    DecisionRecord(DecisionRecordRule),
}

impl RuleSpec {
    pub fn kind(&self) -> RuleKind {
        match self {
            RuleSpec::Agenda { .. } => RuleKind::Agenda,
            RuleSpec::MinNotice { .. } => RuleKind::MinNotice,
            RuleSpec::MeetingFreeDays { .. } => RuleKind::MeetingFreeDays,
            RuleSpec::MaxDuration { .. } => RuleKind::MaxDuration,
            RuleSpec::MaxAttendees { .. } => RuleKind::MaxAttendees,
            RuleSpec::WorkingHours => RuleKind::WorkingHours,
            RuleSpec::OutsideHoursBudget { .. } => RuleKind::OutsideHoursBudget,
            RuleSpec::BurdenCap { .. } => RuleKind::BurdenCap,
            RuleSpec::SeriesRotation { .. } => RuleKind::SeriesRotation,
            RuleSpec::ProtectedTime => RuleKind::ProtectedTime,
            RuleSpec::Purpose(_) => RuleKind::Purpose,
            RuleSpec::DecisionRecord(_) => RuleKind::DecisionRecord,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub spec: RuleSpec,
    pub action: Action,
    /// Lowercased member emails the rule applies to; `None` means everyone.
    pub members: Option<Vec<String>>,
}

impl Rule {
    pub fn applies_to(&self, member: &str) -> bool {
        self.members
            .as_ref()
            .is_none_or(|m| m.iter().any(|e| e == member))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OneToOne {
    /// A meeting of exactly two people is allowed whatever the rules say:
    /// one-to-ones are where feedback and relationships happen.
    Exempt,
    Screen,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExternalGuests {
    /// Screen like any other invite.
    Screen,
    /// Allow: a customer's or partner's calendar does not follow our rules.
    Exempt,
    /// Screen, but never decline: a failing rule annotates instead.
    NeverDecline,
}

#[derive(Debug, Clone)]
pub struct Urgent {
    /// Lowercased; matched as a whole word in the title.
    pub keyword: String,
    pub per_organizer_per_month: u32,
}

#[derive(Debug, Clone)]
pub struct Exceptions {
    /// Lowercased organizer emails whose invites are always allowed.
    pub organizers: Vec<String>,
    pub urgent: Option<Urgent>,
    pub one_to_one: OneToOne,
    pub external_guests: ExternalGuests,
}

impl Default for Exceptions {
    fn default() -> Self {
        Exceptions {
            organizers: Vec::new(),
            urgent: None,
            one_to_one: OneToOne::Exempt,
            external_guests: ExternalGuests::NeverDecline,
        }
    }
}

/// Weights per minute of meeting, by where the minute falls in the
/// attendee's week. Whole numbers so that burdens add up exactly.
///
/// Precedence, for a minute outside the attendee's working hours:
/// 1. within `shoulder_minutes` before a working window starts or after one
///    ends: `shoulder`;
/// 2. on a non-working day, at a time that would be working or shoulder
///    time on a working day: `non_working_day`;
/// 3. anything else (the night): `night`.
///
/// Inside working hours a minute costs nothing. The weights are read in
/// `fairness::curve`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Curve {
    pub shoulder_minutes: u32,
    pub shoulder: u32,
    pub non_working_day: u32,
    pub night: u32,
}

impl Default for Curve {
    /// Two shoulder hours either side of the working day at 1 per minute,
    /// non-working days at 2, the night at 3: an hour at 22:00 for someone
    /// who works 09:00–17:00 costs 180, an hour at 18:00 costs 60.
    fn default() -> Self {
        Curve {
            shoulder_minutes: 120,
            shoulder: 1,
            non_working_day: 2,
            night: 3,
        }
    }
}

/// The `[fairness]` section: how inconvenience is weighed and who counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fairness {
    /// Set when the file has a `[fairness]` section or a fairness rule:
    /// only then are other times suggested in comments.
    pub enabled: bool,
    pub curve: Curve,
    /// Length of the rolling window, centred on now.
    pub window_weeks: u32,
    /// Whether optional attendees carry burden and are protected by the
    /// fairness rules.
    pub count_optional: bool,
    /// Whether meetings with external guests count. External guests' zones
    /// are unknown, so they never carry burden themselves; when this is
    /// false, a meeting with external guests adds nothing to any member's
    /// burden and the fairness rules leave it alone.
    pub count_external: bool,
    /// How many days ahead other times are looked for.
    pub suggest_days: u32,
}

impl Default for Fairness {
    fn default() -> Self {
        Fairness {
            enabled: false,
            curve: Curve::default(),
            window_weeks: 4,
            count_optional: false,
            count_external: true,
            suggest_days: 7,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Policy {
    pub team: String,
    /// Lowercased domains whose addresses are colleagues, not external
    /// guests. Team members are never external whatever their domain.
    pub domains: Vec<String>,
    pub members: Vec<Member>,
    member_index: HashMap<String, usize, BuildHasherDefault<Fnv1a>>,
    pub rules: Vec<Rule>,
    pub exceptions: Exceptions,
    pub comment: Template,
    /// SHA-256 of the file's bytes, hex: the decision log records which
    /// version of the policy decided.
    pub hash: String,
    /// Defaults unless the file sets `[fairness]`.
    pub fairness: Fairness,
}

impl Policy {
    pub fn new(
        team: String,
        domains: Vec<String>,
        members: Vec<Member>,
        rules: Vec<Rule>,
        exceptions: Exceptions,
        comment: Template,
        hash: String,
    ) -> Policy {
        let member_index = members
            .iter()
            .enumerate()
            .map(|(i, m)| (m.email.clone(), i))
            .collect();
        Policy {
            team,
            domains,
            members,
            member_index,
            rules,
            exceptions,
            comment,
            hash,
            fairness: Fairness::default(),
        }
    }

    /// The same policy with one member's time zone set (from their
    /// calendar's setting).
    pub fn with_member_tz(&self, email: &str, tz: Tz) -> Policy {
        let mut p = self.clone();
        if let Some(m) = p.members.iter_mut().find(|m| m.email == email) {
            m.tz = tz;
        }
        p
    }

    /// The purposes that justify a meeting for `member`: those of the
    /// `purpose` rule that applies to them, else the defaults (decision,
    /// feedback, relationships). The `decision_record` rule and `check`
    /// recognise purposes with these.
    pub fn purposes_for(&self, member: &str) -> std::borrow::Cow<'_, [Purpose]> {
        self.rules
            .iter()
            .filter(|r| r.applies_to(member))
            .find_map(|r| match &r.spec {
                RuleSpec::Purpose(p) => Some(std::borrow::Cow::Borrowed(p.purposes.as_slice())),
                _ => None,
            })
            .unwrap_or_else(|| std::borrow::Cow::Owned(super::purpose::default_purposes()))
    }

    /// Whether a `purpose` or `decision_record` rule applies to `member`:
    /// only then does `check` say what it read of the invite's purpose.
    pub fn screens_purposes(&self, member: &str) -> bool {
        self.rules.iter().any(|r| {
            r.applies_to(member)
                && matches!(r.spec, RuleSpec::Purpose(_) | RuleSpec::DecisionRecord(_))
        })
    }

    pub fn member(&self, email: &str) -> Option<&Member> {
        self.member_index.get(email).map(|&i| &self.members[i])
    }

    /// An address is external when it is neither a member nor at one of the
    /// team's domains. With no domains configured, only members are
    /// colleagues.
    pub fn is_external(&self, email: &str) -> bool {
        if self.member_index.contains_key(email) {
            return false;
        }
        let domain = email.rsplit_once('@').map_or("", |(_, d)| d);
        !self.domains.iter().any(|d| d == domain)
    }
}

/// FNV-1a: the member index is looked up for every attendee of every
/// invite, keyed by the team's own addresses (not attacker-chosen input that
/// could flood one bucket), so a fast non-keyed hash is the right trade.
#[derive(Default)]
pub struct Fnv1a(u64);

impl Hasher for Fnv1a {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

/// SHA-256 of a policy file's bytes, hex encoded.
pub fn content_hash(source: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(source.as_bytes()))
}
