//! Resolution of iCalendar TZID values to IANA time zones (`chrono_tz::Tz`).
//!
//! This module owns the knowledge of how real clients name time zones: IANA
//! names in any letter case, the `X-LIC-LOCATION` hint of Thunderbird and
//! Evolution, vendor prefixes such as `/mozilla.org/20050126_1/Europe/Berlin`,
//! Windows zone names written by Outlook and Exchange (CLDR windowsZones
//! data), the UTC spellings, then the VTIMEZONE definition itself: a zone
//! that never changes offset maps to a fixed-offset zone, and a custom zone
//! with daylight saving time (an unknown name with STANDARD/DAYLIGHT rules,
//! RRULE- or RDATE-based) maps to the IANA zone whose every transition and
//! offset over [`EQUIVALENCE_YEARS`] is the one the VTIMEZONE's own rules
//! give. It must not guess a zone from offsets alone (two zones with the same
//! offsets but other transition dates are different zones); it is pure (no
//! I/O, no clock).

use std::str::FromStr;

use chrono_tz::Tz;

/// What a VTIMEZONE component tells about a TZID beyond its name. The parser
/// fills this in from the calendar's own VTIMEZONE blocks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VTimezoneInfo {
    /// `X-LIC-LOCATION`, an IANA name written by libical based clients.
    pub lic_location: Option<String>,
    /// Every `TZOFFSETTO` of the STANDARD and DAYLIGHT sub-components, in
    /// seconds east of UTC, in file order.
    pub offsets_to: Vec<i32>,
    /// The STANDARD and DAYLIGHT sub-components with their rules.
    pub observances: Vec<Observance>,
}

/// One STANDARD or DAYLIGHT sub-component of a VTIMEZONE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observance {
    /// DTSTART: the local time (in the offset before it) of the first onset.
    pub start: chrono::NaiveDateTime,
    pub offset_from: i32,
    pub offset_to: i32,
    /// The RRULE value giving later onsets, if any.
    pub rrule: Option<String>,
    /// RDATE onsets (local times), if any.
    pub rdates: Vec<chrono::NaiveDateTime>,
}

/// The years over which a custom VTIMEZONE must agree with an IANA zone to
/// be read as that zone. Custom definitions carry the current rules only
/// (Outlook starts them in 1601), so history before this span is not
/// compared.
pub const EQUIVALENCE_YEARS: std::ops::RangeInclusive<i32> = 2016..=2036;

impl VTimezoneInfo {
    /// The offset of a zone that never changes: every observance lands on
    /// the same offset. `None` when the zone observes daylight saving time or
    /// the block has no observances at all.
    pub fn fixed_offset(&self) -> Option<i32> {
        let first = *self.offsets_to.first()?;
        self.offsets_to.iter().all(|o| *o == first).then_some(first)
    }
}

/// Resolve a TZID parameter value, using the matching VTIMEZONE block when
/// the calendar has one. The order is: the name itself (IANA, vendor prefix,
/// Windows, UTC spellings), then `X-LIC-LOCATION`, then a fixed whole-hour
/// offset mapped to an `Etc/GMT±N` zone.
pub fn resolve_tzid(tzid: &str, vtimezone: Option<&VTimezoneInfo>) -> Option<Tz> {
    if let Some(tz) = resolve_name(tzid) {
        return Some(tz);
    }
    let vtimezone = vtimezone?;
    if let Some(tz) = vtimezone.lic_location.as_deref().and_then(resolve_name) {
        return Some(tz);
    }
    if let Some(tz) = vtimezone.fixed_offset().and_then(etc_zone_for_offset) {
        return Some(tz);
    }
    equivalent_zone(&vtimezone.observances)
}

/// The UTC instants (seconds) at which a VTIMEZONE's observances begin in
/// [`EQUIVALENCE_YEARS`], with the offset in force from then on. Bounded:
/// at most a few hundred onsets are drawn from each rule.
fn transitions(observances: &[Observance]) -> Vec<(i64, i32)> {
    use chrono::Datelike;
    let first = *EQUIVALENCE_YEARS.start();
    let last = *EQUIVALENCE_YEARS.end();
    let mut out = Vec::new();
    for o in observances {
        let mut onsets: Vec<chrono::NaiveDateTime> = o.rdates.clone();
        onsets.push(o.start);
        // The `rrule` crate panics on some non-ASCII BYDAY values; a rule
        // is ASCII anyway.
        if let Some(rule) = o.rrule.as_ref().filter(|r| r.is_ascii()) {
            // Expand in a zone without DST (UTC) so wall-clock onsets stay
            // wall-clock; UNTIL in these rules is UTC, which is close enough
            // for choosing the years a rule applies to.
            let rule = rule
                .split(';')
                .filter(|p| !p.trim().is_empty())
                .collect::<Vec<_>>()
                .join(";");
            // Start the rule late in the past so a 1601 DTSTART does not cost
            // four centuries of onsets, keeping its time of day and month.
            let dtstart = if o.start.year() < first - 1 {
                o.start.with_year(first - 1).unwrap_or(o.start)
            } else {
                o.start
            };
            if let Ok(parsed) = rule.parse::<rrule::RRule<rrule::Unvalidated>>() {
                let start = dtstart.and_utc().with_timezone(&rrule::Tz::UTC);
                if let Ok(valid) = parsed.validate(start) {
                    let set = rrule::RRuleSet::new(start).rrule(valid);
                    for t in set.into_iter().take(400) {
                        if t.year() > last {
                            break;
                        }
                        onsets.push(t.naive_utc());
                    }
                }
            }
        }
        for onset in onsets {
            if (first..=last).contains(&onset.year()) {
                out.push((
                    onset.and_utc().timestamp() - i64::from(o.offset_from),
                    o.offset_to,
                ));
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// The first IANA zone (in chrono-tz's order) that has the offsets of
/// these observances before and after every onset in
/// [`EQUIVALENCE_YEARS`] and in the middle of every stretch between
/// onsets. `None` when no zone agrees or there is nothing to compare.
fn equivalent_zone(observances: &[Observance]) -> Option<Tz> {
    use chrono::{Offset, TimeZone};
    let trans = transitions(observances);
    if trans.len() < 2 {
        return None;
    }
    // Probe instants with the offset the VTIMEZONE gives there: just after
    // each onset, and halfway to the next one.
    let mut probes: Vec<(i64, i32)> = Vec::with_capacity(trans.len() * 2);
    for (i, &(at, offset)) in trans.iter().enumerate() {
        probes.push((at + 60, offset));
        if let Some(&(next, _)) = trans.get(i + 1) {
            probes.push(((at + next) / 2, offset));
        }
        if i > 0 {
            probes.push((at - 60, trans[i - 1].1));
        }
    }
    chrono_tz::TZ_VARIANTS.iter().copied().find(|tz| {
        probes.iter().all(|&(at, offset)| {
            chrono::DateTime::from_timestamp(at, 0).is_some_and(|t| {
                tz.offset_from_utc_datetime(&t.naive_utc())
                    .fix()
                    .local_minus_utc()
                    == offset
            })
        })
    })
}

/// Resolve a zone name without any VTIMEZONE help. Also used for the
/// calendar-level `X-WR-TIMEZONE` property.
pub fn resolve_name(name: &str) -> Option<Tz> {
    let name = name.trim().trim_matches('"').trim();
    if name.is_empty() {
        return None;
    }
    if let Some(tz) = iana(name) {
        return Some(tz);
    }
    if let Some(tz) = windows_zone(name) {
        return Some(tz);
    }
    if matches!(
        name.to_ascii_uppercase().as_str(),
        "Z" | "UTC" | "GMT" | "UT" | "ZULU" | "COORDINATED UNIVERSAL TIME"
    ) {
        return Some(chrono_tz::UTC);
    }
    // Vendor prefixes (`/freeassociation.sourceforge.net/Tzfile/Europe/London`,
    // `/mozilla.org/20050126_1/Europe/Berlin`, `/citadel.org/.../Europe/Rome`)
    // end in an IANA name. Trying every suffix after a slash, longest first,
    // keeps three-part names such as `America/Argentina/Buenos_Aires` intact.
    name.match_indices('/')
        .map(|(i, _)| &name[i + 1..])
        .find_map(iana)
}

/// An IANA name as chrono-tz knows it, exact or ignoring ASCII case.
fn iana(name: &str) -> Option<Tz> {
    if let Ok(tz) = Tz::from_str(name) {
        return Some(tz);
    }
    chrono_tz::TZ_VARIANTS
        .iter()
        .find(|tz| tz.name().eq_ignore_ascii_case(name))
        .copied()
}

/// Map a fixed offset in seconds to the `Etc/GMT±N` zone. Only whole hours
/// have such a zone; note the POSIX sign convention of those names, where
/// `Etc/GMT-1` is one hour east of UTC.
fn etc_zone_for_offset(offset_seconds: i32) -> Option<Tz> {
    if offset_seconds % 3600 != 0 {
        return None;
    }
    let hours = offset_seconds / 3600;
    if hours == 0 {
        return Some(chrono_tz::Etc::GMT);
    }
    let name = if hours > 0 {
        format!("Etc/GMT-{hours}")
    } else {
        format!("Etc/GMT+{}", -hours)
    };
    Tz::from_str(&name).ok()
}

/// Parse a UTC offset value as written in TZOFFSETTO (`+0100`, `-0500`,
/// `+053000`) into seconds east of UTC.
pub fn parse_utc_offset(value: &str) -> Option<i32> {
    let value = value.trim();
    let (sign, digits) = match value.as_bytes().first()? {
        b'+' => (1, &value[1..]),
        b'-' => (-1, &value[1..]),
        _ => return None,
    };
    if !(digits.len() == 4 || digits.len() == 6) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let hours: i32 = digits[0..2].parse().ok()?;
    let minutes: i32 = digits[2..4].parse().ok()?;
    let seconds: i32 = if digits.len() == 6 {
        digits[4..6].parse().ok()?
    } else {
        0
    };
    Some(sign * (hours * 3600 + minutes * 60 + seconds))
}

/// A Windows zone name (as Outlook and Exchange write TZID) mapped to the
/// IANA zone of CLDR's windowsZones.xml, territory 001.
fn windows_zone(name: &str) -> Option<Tz> {
    WINDOWS_ZONES
        .iter()
        .find(|(windows, _)| windows.eq_ignore_ascii_case(name))
        .and_then(|(_, iana_name)| Tz::from_str(iana_name).ok())
}

/// CLDR windowsZones, territory "001" (the primary zone of each Windows
/// zone). This is data copied from the Unicode CLDR, not derived.
const WINDOWS_ZONES: &[(&str, &str)] = &[
    ("Dateline Standard Time", "Etc/GMT+12"),
    ("UTC-11", "Etc/GMT+11"),
    ("Aleutian Standard Time", "America/Adak"),
    ("Hawaiian Standard Time", "Pacific/Honolulu"),
    ("Marquesas Standard Time", "Pacific/Marquesas"),
    ("Alaskan Standard Time", "America/Anchorage"),
    ("UTC-09", "Etc/GMT+9"),
    ("Pacific Standard Time (Mexico)", "America/Tijuana"),
    ("UTC-08", "Etc/GMT+8"),
    ("Pacific Standard Time", "America/Los_Angeles"),
    ("US Mountain Standard Time", "America/Phoenix"),
    ("Mountain Standard Time (Mexico)", "America/Mazatlan"),
    ("Mountain Standard Time", "America/Denver"),
    ("Yukon Standard Time", "America/Whitehorse"),
    ("Central America Standard Time", "America/Guatemala"),
    ("Central Standard Time", "America/Chicago"),
    ("Easter Island Standard Time", "Pacific/Easter"),
    ("Central Standard Time (Mexico)", "America/Mexico_City"),
    ("Canada Central Standard Time", "America/Regina"),
    ("SA Pacific Standard Time", "America/Bogota"),
    ("Eastern Standard Time (Mexico)", "America/Cancun"),
    ("Eastern Standard Time", "America/New_York"),
    ("Haiti Standard Time", "America/Port-au-Prince"),
    ("Cuba Standard Time", "America/Havana"),
    ("US Eastern Standard Time", "America/Indiana/Indianapolis"),
    ("Turks And Caicos Standard Time", "America/Grand_Turk"),
    ("Paraguay Standard Time", "America/Asuncion"),
    ("Atlantic Standard Time", "America/Halifax"),
    ("Venezuela Standard Time", "America/Caracas"),
    ("Central Brazilian Standard Time", "America/Cuiaba"),
    ("SA Western Standard Time", "America/La_Paz"),
    ("Pacific SA Standard Time", "America/Santiago"),
    ("Newfoundland Standard Time", "America/St_Johns"),
    ("Tocantins Standard Time", "America/Araguaina"),
    ("E. South America Standard Time", "America/Sao_Paulo"),
    ("SA Eastern Standard Time", "America/Cayenne"),
    ("Argentina Standard Time", "America/Argentina/Buenos_Aires"),
    ("Greenland Standard Time", "America/Nuuk"),
    ("Montevideo Standard Time", "America/Montevideo"),
    ("Magallanes Standard Time", "America/Punta_Arenas"),
    ("Saint Pierre Standard Time", "America/Miquelon"),
    ("Bahia Standard Time", "America/Bahia"),
    ("UTC-02", "Etc/GMT+2"),
    ("Mid-Atlantic Standard Time", "Etc/GMT+2"),
    ("Azores Standard Time", "Atlantic/Azores"),
    ("Cape Verde Standard Time", "Atlantic/Cape_Verde"),
    ("UTC", "Etc/UTC"),
    ("GMT Standard Time", "Europe/London"),
    ("Greenwich Standard Time", "Atlantic/Reykjavik"),
    ("Sao Tome Standard Time", "Africa/Sao_Tome"),
    ("Morocco Standard Time", "Africa/Casablanca"),
    ("W. Europe Standard Time", "Europe/Berlin"),
    ("Central Europe Standard Time", "Europe/Budapest"),
    ("Romance Standard Time", "Europe/Paris"),
    ("Central European Standard Time", "Europe/Warsaw"),
    ("W. Central Africa Standard Time", "Africa/Lagos"),
    ("Jordan Standard Time", "Asia/Amman"),
    ("GTB Standard Time", "Europe/Bucharest"),
    ("Middle East Standard Time", "Asia/Beirut"),
    ("Egypt Standard Time", "Africa/Cairo"),
    ("E. Europe Standard Time", "Europe/Chisinau"),
    ("Syria Standard Time", "Asia/Damascus"),
    ("West Bank Standard Time", "Asia/Hebron"),
    ("South Africa Standard Time", "Africa/Johannesburg"),
    ("FLE Standard Time", "Europe/Kyiv"),
    ("Israel Standard Time", "Asia/Jerusalem"),
    ("South Sudan Standard Time", "Africa/Juba"),
    ("Kaliningrad Standard Time", "Europe/Kaliningrad"),
    ("Sudan Standard Time", "Africa/Khartoum"),
    ("Libya Standard Time", "Africa/Tripoli"),
    ("Namibia Standard Time", "Africa/Windhoek"),
    ("Arabic Standard Time", "Asia/Baghdad"),
    ("Turkey Standard Time", "Europe/Istanbul"),
    ("Arab Standard Time", "Asia/Riyadh"),
    ("Belarus Standard Time", "Europe/Minsk"),
    ("Russian Standard Time", "Europe/Moscow"),
    ("E. Africa Standard Time", "Africa/Nairobi"),
    ("Volgograd Standard Time", "Europe/Volgograd"),
    ("Iran Standard Time", "Asia/Tehran"),
    ("Arabian Standard Time", "Asia/Dubai"),
    ("Astrakhan Standard Time", "Europe/Astrakhan"),
    ("Azerbaijan Standard Time", "Asia/Baku"),
    ("Russia Time Zone 3", "Europe/Samara"),
    ("Mauritius Standard Time", "Indian/Mauritius"),
    ("Saratov Standard Time", "Europe/Saratov"),
    ("Georgian Standard Time", "Asia/Tbilisi"),
    ("Caucasus Standard Time", "Asia/Yerevan"),
    ("Afghanistan Standard Time", "Asia/Kabul"),
    ("West Asia Standard Time", "Asia/Tashkent"),
    ("Ekaterinburg Standard Time", "Asia/Yekaterinburg"),
    ("Pakistan Standard Time", "Asia/Karachi"),
    ("Qyzylorda Standard Time", "Asia/Qyzylorda"),
    ("India Standard Time", "Asia/Kolkata"),
    ("Sri Lanka Standard Time", "Asia/Colombo"),
    ("Nepal Standard Time", "Asia/Kathmandu"),
    ("Central Asia Standard Time", "Asia/Bishkek"),
    ("Bangladesh Standard Time", "Asia/Dhaka"),
    ("Omsk Standard Time", "Asia/Omsk"),
    ("Myanmar Standard Time", "Asia/Yangon"),
    ("SE Asia Standard Time", "Asia/Bangkok"),
    ("Altai Standard Time", "Asia/Barnaul"),
    ("W. Mongolia Standard Time", "Asia/Hovd"),
    ("North Asia Standard Time", "Asia/Krasnoyarsk"),
    ("N. Central Asia Standard Time", "Asia/Novosibirsk"),
    ("Tomsk Standard Time", "Asia/Tomsk"),
    ("China Standard Time", "Asia/Shanghai"),
    ("North Asia East Standard Time", "Asia/Irkutsk"),
    ("Singapore Standard Time", "Asia/Singapore"),
    ("W. Australia Standard Time", "Australia/Perth"),
    ("Taipei Standard Time", "Asia/Taipei"),
    ("Ulaanbaatar Standard Time", "Asia/Ulaanbaatar"),
    ("Aus Central W. Standard Time", "Australia/Eucla"),
    ("Transbaikal Standard Time", "Asia/Chita"),
    ("Tokyo Standard Time", "Asia/Tokyo"),
    ("North Korea Standard Time", "Asia/Pyongyang"),
    ("Korea Standard Time", "Asia/Seoul"),
    ("Yakutsk Standard Time", "Asia/Yakutsk"),
    ("Cen. Australia Standard Time", "Australia/Adelaide"),
    ("AUS Central Standard Time", "Australia/Darwin"),
    ("E. Australia Standard Time", "Australia/Brisbane"),
    ("AUS Eastern Standard Time", "Australia/Sydney"),
    ("West Pacific Standard Time", "Pacific/Port_Moresby"),
    ("Tasmania Standard Time", "Australia/Hobart"),
    ("Vladivostok Standard Time", "Asia/Vladivostok"),
    ("Lord Howe Standard Time", "Australia/Lord_Howe"),
    ("Bougainville Standard Time", "Pacific/Bougainville"),
    ("Russia Time Zone 10", "Asia/Srednekolymsk"),
    ("Magadan Standard Time", "Asia/Magadan"),
    ("Norfolk Standard Time", "Pacific/Norfolk"),
    ("Sakhalin Standard Time", "Asia/Sakhalin"),
    ("Central Pacific Standard Time", "Pacific/Guadalcanal"),
    ("Russia Time Zone 11", "Asia/Kamchatka"),
    ("Kamchatka Standard Time", "Asia/Kamchatka"),
    ("New Zealand Standard Time", "Pacific/Auckland"),
    ("UTC+12", "Etc/GMT-12"),
    ("Fiji Standard Time", "Pacific/Fiji"),
    ("Chatham Islands Standard Time", "Pacific/Chatham"),
    ("UTC+13", "Etc/GMT-13"),
    ("Tonga Standard Time", "Pacific/Tongatapu"),
    ("Samoa Standard Time", "Pacific/Apia"),
    ("Line Islands Standard Time", "Pacific/Kiritimati"),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn vtz(lic: Option<&str>, offsets: &[i32]) -> VTimezoneInfo {
        VTimezoneInfo {
            lic_location: lic.map(str::to_string),
            offsets_to: offsets.to_vec(),
            observances: Vec::new(),
        }
    }

    /// One row: the TZID as written, the VTIMEZONE hints, the expected zone.
    fn check(tzid: &str, vtimezone: Option<VTimezoneInfo>, expect: Option<&str>) {
        let got = resolve_tzid(tzid, vtimezone.as_ref()).map(|tz| tz.name().to_string());
        assert_eq!(got.as_deref(), expect, "TZID {tzid:?}");
    }

    #[test]
    fn tzid_resolution_table() {
        check("Europe/Berlin", None, Some("Europe/Berlin"));
        check("europe/berlin", None, Some("Europe/Berlin"));
        check("\"America/New_York\"", None, Some("America/New_York"));
        check(
            "America/Argentina/Buenos_Aires",
            None,
            Some("America/Argentina/Buenos_Aires"),
        );
        check("W. Europe Standard Time", None, Some("Europe/Berlin"));
        check("Pacific Standard Time", None, Some("America/Los_Angeles"));
        check("India Standard Time", None, Some("Asia/Kolkata"));
        check("eastern standard time", None, Some("America/New_York"));
        check(
            "/freeassociation.sourceforge.net/Tzfile/Europe/London",
            None,
            Some("Europe/London"),
        );
        check(
            "/mozilla.org/20050126_1/Europe/Berlin",
            None,
            Some("Europe/Berlin"),
        );
        check(
            "/citadel.org/20190914_1/Europe/Rome",
            None,
            Some("Europe/Rome"),
        );
        check(
            "/freeassociation.sourceforge.net/America/Argentina/Buenos_Aires",
            None,
            Some("America/Argentina/Buenos_Aires"),
        );
        check("UTC", None, Some("UTC"));
        check("GMT", None, Some("GMT"));
        check("Z", None, Some("UTC"));
        check(
            "Mitteleuropäische Zeit",
            Some(vtz(Some("Europe/Vienna"), &[3600, 7200])),
            Some("Europe/Vienna"),
        );
        check("Custom Zone", Some(vtz(None, &[3600])), Some("Etc/GMT-1"));
        check(
            "Custom Zone",
            Some(vtz(None, &[-18000, -18000])),
            Some("Etc/GMT+5"),
        );
        check("Custom Zone", Some(vtz(None, &[0])), Some("Etc/GMT"));
        // Daylight saving and half-hour offsets have no Etc zone: unresolved.
        check("Custom Zone", Some(vtz(None, &[3600, 7200])), None);
        check("Custom Zone", Some(vtz(None, &[19800])), None);
        check("Custom Zone", Some(vtz(None, &[])), None);
        check("Atlantis/Capital", None, None);
        check("", None, None);
    }

    #[test]
    fn every_windows_entry_is_a_known_iana_zone() {
        for (windows, iana_name) in WINDOWS_ZONES {
            assert!(Tz::from_str(iana_name).is_ok(), "{windows} -> {iana_name}");
        }
    }

    #[test]
    fn utc_offsets() {
        assert_eq!(parse_utc_offset("+0100"), Some(3600));
        assert_eq!(parse_utc_offset("-0500"), Some(-18000));
        assert_eq!(parse_utc_offset("+053000"), Some(19800));
        assert_eq!(parse_utc_offset("0100"), None);
        assert_eq!(parse_utc_offset("+1"), None);
    }
}
