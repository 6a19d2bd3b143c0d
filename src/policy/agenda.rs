//! How gatekeeper judges whether a description says what a meeting is for.
//!
//! The judgement counts *meaningful words*: words of at least two letters
//! that are not filler ("sync", "quick", "call", "meeting", "the", ...), in
//! lines that are not conferencing boilerplate (Google Meet, Zoom and Teams
//! join blocks, dial-in numbers, passcodes), with HTML tags, links and email
//! addresses ignored. "Sync", an empty line or a bare Zoom link score zero; a
//! sentence such as "Decide the Q3 hiring plan for the search team" scores
//! six. The policy's `min_words` sets the bar.
//!
//! The scan stops as soon as the bar is reached and does not allocate: it is
//! on the screening hot path.

/// Counts meaningful words, stopping early once `enough` is reached.
pub fn meaningful_words(description: &str, enough: u32) -> u32 {
    let mut counted = 0u32;
    let mut in_google_block = false;
    for line in description.lines() {
        // Google Meet wraps its join details between separator lines of
        // `-::~:~::~:~...`; everything in between is boilerplate.
        if line.trim_start().starts_with("-::~") {
            in_google_block = !in_google_block;
            continue;
        }
        if in_google_block {
            continue;
        }
        let (words, boilerplate) = scan_line(line);
        if !boilerplate {
            counted += words;
            if counted >= enough {
                return counted;
            }
        }
    }
    counted
}

/// Meaningful words on one line, and whether the line is conferencing
/// boilerplate.
fn scan_line(line: &str) -> (u32, bool) {
    let mut words = 0;
    let mut boilerplate = false;
    let mut in_tag = false;
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if in_tag {
            if b == b'>' {
                in_tag = false;
            }
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
        if is_link_or_address(token) {
            continue;
        }
        // HTML entities such as `&nbsp;` are not words.
        if token.starts_with('&') && token.ends_with(';') {
            continue;
        }
        let word = token.trim_matches(|c: char| !c.is_alphanumeric());
        let mut lower = [0u8; 24];
        let Some(lower) = ascii_lower(word, &mut lower) else {
            // Longer than any filler word, or not ASCII: a real word if it
            // has letters.
            if is_word(word) {
                words += 1;
            }
            continue;
        };
        if is_boilerplate_marker(lower) {
            boilerplate = true;
        }
        if is_word(word) && !is_filler(lower) {
            words += 1;
        }
    }
    (words, boilerplate)
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

/// Words that only appear in the join details conferencing tools paste.
fn is_boilerplate_marker(word: &[u8]) -> bool {
    matches!(
        word,
        b"join" | b"passcode" | b"password" | b"pin" | b"dial" | b"dial-in" | b"tap"
    )
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
