//! How gatekeeper judges whether a description says what a meeting is for.
//!
//! The judgement counts *meaningful words*: words of at least two letters or
//! digits, one of them a letter, that are not filler ("sync", "quick",
//! "call", "meeting", "the", ...), with HTML tags, links and email addresses
//! ignored. Conferencing tools append their join details at the end of a
//! description (Google Meet's `-::~:~::~` block, "Join Zoom Meeting",
//! "Microsoft Teams meeting", "Join Webex meeting"); everything from the
//! line where such a block starts is ignored, and so are dial-in lines
//! ("Passcode: 123456"). "Sync", an empty line or a bare Zoom link score
//! zero; "Decide the Q3 hiring plan for the search team" scores six.
//!
//! The scan stops as soon as the bar is reached and does not allocate: it is
//! on the screening hot path.

/// Counts meaningful words, stopping early once `enough` is reached.
pub fn meaningful_words(description: &str, enough: u32) -> u32 {
    let mut counted = 0u32;
    for line in description.lines() {
        if line.trim_start().starts_with("-::~") {
            // Google Meet's block separator: the rest is join details.
            return counted;
        }
        match scan_line(line, enough.saturating_sub(counted)) {
            Line::Words(n) => {
                counted += n;
                if counted >= enough {
                    return counted;
                }
            }
            Line::DialIn => {}
            Line::ConferencingBlock => return counted,
        }
    }
    counted
}

enum Line {
    Words(u32),
    /// A line of join details ("Passcode: 1234", "PIN: 99"): not counted.
    DialIn,
    /// The start of a conferencing block: this line and the rest are not
    /// counted.
    ConferencingBlock,
}

/// Meaningful words on one line, stopping at `enough`.
fn scan_line(line: &str, enough: u32) -> Line {
    let mut words = 0;
    let mut in_tag = false;
    let mut previous = [0u8; 24];
    let mut previous_len = 0usize;
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if in_tag {
            in_tag = b != b'>';
            i += 1;
            continue;
        }
        if b == b'<' {
            in_tag = true;
            i += 1;
            continue;
        }
        if b.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        // A token runs to the next whitespace or tag.
        let start = i;
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() && bytes[i] != b'<' {
            i += 1;
        }
        let token = &line[start..i];
        if is_link_or_address(token) || (token.starts_with('&') && token.ends_with(';')) {
            continue;
        }
        let word = token.trim_matches(|c: char| !c.is_alphanumeric());
        let mut buf = [0u8; 24];
        let Some(lower) = ascii_lower(word, &mut buf) else {
            // Longer than any filler word, or not ASCII.
            if is_word(word) {
                words += 1;
                if words >= enough {
                    return Line::Words(words);
                }
            }
            previous_len = 0;
            continue;
        };
        if starts_conferencing_block(&previous[..previous_len], lower) {
            return Line::ConferencingBlock;
        }
        if is_dial_in_marker(lower) {
            return Line::DialIn;
        }
        if is_word(word) && !is_filler(lower) {
            words += 1;
            if words >= enough {
                return Line::Words(words);
            }
        }
        previous[..lower.len()].copy_from_slice(lower);
        previous_len = lower.len();
    }
    Line::Words(words)
}

/// "Join Zoom Meeting", "Microsoft Teams meeting", "Join with Google Meet",
/// "Join Webex meeting": the headers conferencing tools put above the join
/// details they append.
fn starts_conferencing_block(previous: &[u8], word: &[u8]) -> bool {
    matches!(
        (previous, word),
        (
            b"join",
            b"zoom" | b"webex" | b"microsoft" | b"teams" | b"skype" | b"goto"
        ) | (b"microsoft", b"teams")
            | (b"google", b"meet")
            | (b"one", b"tap")
            | (b"dial", b"by")
    )
}

/// Words that only appear on dial-in lines.
fn is_dial_in_marker(word: &[u8]) -> bool {
    matches!(word, b"passcode" | b"password" | b"pin" | b"dial-in")
}

/// At least two letters or digits, one of them a letter: "Q3" and "API" are
/// words, "42" and "-" are not.
fn is_word(token: &str) -> bool {
    let mut alnum = 0;
    let mut letter = false;
    for c in token.chars() {
        if c.is_alphanumeric() {
            alnum += 1;
            letter |= c.is_alphabetic();
        }
    }
    alnum >= 2 && letter
}

fn ascii_lower<'b>(word: &str, buf: &'b mut [u8; 24]) -> Option<&'b [u8]> {
    if word.len() > buf.len() || !word.is_ascii() {
        return None;
    }
    let out = &mut buf[..word.len()];
    out.copy_from_slice(word.as_bytes());
    out.make_ascii_lowercase();
    Some(out)
}

fn is_link_or_address(token: &str) -> bool {
    token.contains("://")
        || token.starts_with("www.")
        || token.contains('@')
        || token.starts_with("tel:")
}

/// Words that say nothing about a meeting's purpose.
fn is_filler(word: &[u8]) -> bool {
    matches!(
        word,
        b"a" | b"an"
            | b"the"
            | b"and"
            | b"or"
            | b"to"
            | b"of"
            | b"for"
            | b"in"
            | b"on"
            | b"at"
            | b"with"
            | b"re"
            | b"fw"
            | b"fwd"
            | b"sync"
            | b"synch"
            | b"catch"
            | b"catchup"
            | b"catch-up"
            | b"up"
            | b"meeting"
            | b"meet"
            | b"call"
            | b"chat"
            | b"quick"
            | b"discuss"
            | b"discussion"
            | b"talk"
            | b"tbd"
            | b"tba"
            | b"todo"
            | b"agenda"
            | b"n/a"
            | b"na"
            | b"none"
            | b"invite"
            | b"zoom"
            | b"teams"
            | b"hi"
            | b"hello"
            | b"hey"
            | b"thanks"
            | b"let's"
            | b"lets"
            | b"us"
            | b"we"
            | b"our"
            | b"this"
            | b"that"
            | b"some"
            | b"stuff"
            | b"things"
            | b"misc"
            | b"placeholder"
            | b"hold"
            | b"touch"
            | b"base"
            | b"check"
            | b"checkin"
            | b"check-in"
            | b"connect"
            | b"id"
    )
}

#[cfg(test)]
mod tests {
    use super::meaningful_words;

    fn check(description: &str, expect: u32) {
        assert_eq!(
            meaningful_words(description, u32::MAX),
            expect,
            "description: {description:?}"
        );
    }

    #[test]
    fn judges_descriptions() {
        check("", 0);
        check("sync", 0);
        check("Quick sync", 0);
        check("   \n\n  ", 0);
        check("TBD", 0);
        check("Let's catch up!", 0);
        check("https://zoom.us/j/123456789?pwd=abc", 0);
        check("Decide the Q3 hiring plan for the search team", 6);
        check("<p>Review <b>launch</b> checklist</p>&nbsp;", 3);
        check(
            "Agenda:\n- Review incident 42 timeline\n- Agree on follow-ups",
            5,
        );
        check(
            "Join Zoom Meeting\nhttps://zoom.us/j/1\nMeeting ID: 123 456\nPasscode: 999",
            0,
        );
        check(
            "Pick the database for billing\n\n-::~:~::~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~::~:~::-\nJoin with Google Meet: https://meet.google.com/abc-defg-hij\nLearn more about Meet at: https://support.google.com/a/users/answer/9282720\n-::~:~::~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~::~:~::-",
            3,
        );
        check("Überprüfung der Roadmap für Zürich", 5);
        // "join" in ordinary prose is a word like any other.
        check("Please join to review the launch plan for Q3", 6);
        check(
            "Pick the CI provider\n\n________________\nMicrosoft Teams meeting\nJoin on your computer, mobile app or room device\nClick here to join the meeting\nMeeting ID: 123 456 789\nPasscode: abc123\nDownload Teams | Join on the web",
            3,
        );
        check(
            "Agree the Q1 goals\nJoin Zoom Meeting\nhttps://zoom.us/j/1\nOne tap mobile\n+16465588656,,123#",
            3,
        );
        check("Dial-in: +1 555 0100\nPIN: 1234\nReview the incident", 2);
        check("ping bob@example.com about it", 3);
    }

    #[test]
    fn stops_early_once_enough() {
        assert_eq!(
            meaningful_words("one two three\nfour five six\nseven", 3),
            3
        );
    }
}
