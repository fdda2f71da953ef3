//! Search queries as the user types them: words, `from:`, `in:`, `before:`, `after:`.
//!
//! The user's text is never handed to SQLite as FTS5 syntax. Every word becomes a quoted FTS5
//! string (its `"` doubled), so quotes, stars, parentheses, `AND`/`OR`/`NEAR` and column
//! filters search as typed; words made only of punctuation carry no token and are left out.

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone};

use crate::conversation::ConversationId;
use crate::error::{Error, Result};

/// Words longer than this are cut (nobody types them; a hostile paste costs nothing).
const MAX_WORD_CHARS: usize = 64;
/// Words searched for at most.
const MAX_WORDS: usize = 16;

/// A parsed search.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// The words to find (all of them), as typed (lowercased).
    pub words: Vec<String>,
    /// `from:`: the sender's name, lowercased.
    pub from: Option<String>,
    /// `in:` (or the scope given by the caller).
    pub conversation: Option<ConversationId>,
    /// `before:`: messages older than this (ms since the epoch).
    pub before: Option<i64>,
    /// `after:`: messages from this time on (ms since the epoch).
    pub after: Option<i64>,
}

impl Query {
    /// Parses `text`. Dates (`2026-12-01`) are days in the time zone `offset` (the user's):
    /// `before:` a day means earlier than its start, `after:` means from the next day on.
    /// Full RFC 3339 times are taken as given.
    ///
    /// # Errors
    /// [`Error::InvalidSearch`] for a filter without a value, an unreadable date or
    /// conversation, `after:` later than `before:`, or nothing to search for at all.
    pub fn parse(text: &str, offset: FixedOffset) -> Result<Query> {
        let mut q = Query::default();
        for token in text.split_whitespace() {
            let (key, value) = match token.split_once(':') {
                Some((k, v))
                    if ["from", "in", "before", "after"]
                        .contains(&k.to_ascii_lowercase().as_str()) =>
                {
                    (k.to_ascii_lowercase(), v)
                }
                _ => {
                    q.add_word(token);
                    continue;
                }
            };
            if value.is_empty() {
                return Err(Error::InvalidSearch(format!(
                    "{key}: needs a value, e.g. {}",
                    example(&key)
                )));
            }
            match key.as_str() {
                "from" => {
                    q.from = Some(value.trim_start_matches('@').trim().to_lowercase());
                }
                "in" => {
                    let raw = if value.starts_with(['#', '@', '~']) {
                        value.to_string()
                    } else {
                        format!("@{value}")
                    };
                    let id = ConversationId::parse(&raw.to_lowercase()).map_err(|_| {
                        Error::InvalidSearch(format!(
                            "in: wants a conversation like #team or @bob, not \"{value}\""
                        ))
                    })?;
                    q.conversation = Some(id);
                }
                "before" => q.before = Some(day_or_time(value, offset, false)?),
                "after" => q.after = Some(day_or_time(value, offset, true)?),
                _ => unreachable!("filtered above"),
            }
        }
        if let (Some(after), Some(before)) = (q.after, q.before)
            && after >= before
        {
            return Err(Error::InvalidSearch(
                "after: is not earlier than before:, so nothing can match".into(),
            ));
        }
        if q.words.is_empty()
            && q.from.is_none()
            && q.conversation.is_none()
            && q.before.is_none()
            && q.after.is_none()
        {
            return Err(Error::InvalidSearch(
                "nothing to search for: type a word (punctuation alone is not searched)".into(),
            ));
        }
        Ok(q)
    }

    fn add_word(&mut self, token: &str) {
        if self.words.len() >= MAX_WORDS || !token.chars().any(char::is_alphanumeric) {
            return;
        }
        let word: String = token
            .chars()
            .take(MAX_WORD_CHARS)
            .collect::<String>()
            .to_lowercase();
        if !self.words.contains(&word) {
            self.words.push(word);
        }
    }

    /// The FTS5 MATCH expression: every word as a quoted string (so none of it is syntax),
    /// with `prefix` the last one also as a prefix (search as you type). `None` without words.
    pub(crate) fn fts(&self, prefix: bool) -> Option<String> {
        let last = self.words.len().checked_sub(1)?;
        let quoted = |w: &str| format!("\"{}\"", w.replace('"', "\"\""));
        let parts: Vec<String> = self
            .words
            .iter()
            .enumerate()
            .map(|(i, w)| {
                if prefix && i == last && w.chars().count() >= 2 {
                    format!("{}*", quoted(w))
                } else {
                    quoted(w)
                }
            })
            .collect();
        Some(parts.join(" AND "))
    }
}

fn example(key: &str) -> &'static str {
    match key {
        "from" => "from:alice",
        "in" => "in:#team",
        "before" => "before:2026-12-01",
        _ => "after:2026-11-01",
    }
}

/// `2026-12-01` (a day in `offset`) or an RFC 3339 time, in ms since the epoch. `next_day`:
/// a day means its end (for `after:`).
fn day_or_time(value: &str, offset: FixedOffset, next_day: bool) -> Result<i64> {
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(t.timestamp_millis());
    }
    let day = NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|_| {
        Error::InvalidSearch(format!(
            "\"{value}\" is not a date: write it as 2026-12-01 (year-month-day)"
        ))
    })?;
    let day = if next_day {
        day.succ_opt().unwrap_or(day)
    } else {
        day
    };
    let start = day.and_hms_opt(0, 0, 0).expect("midnight exists");
    offset
        .from_local_datetime(&start)
        .single()
        .map(|t| t.timestamp_millis())
        .ok_or_else(|| Error::InvalidSearch(format!("\"{value}\" is out of range")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc() -> FixedOffset {
        FixedOffset::east_opt(0).unwrap()
    }

    #[test]
    fn filters_and_words_are_read() {
        let q = Query::parse(
            "deploy From:Alice in:#Team after:2026-11-30 before:2026-12-02 done",
            utc(),
        )
        .unwrap();
        assert_eq!(q.words, ["deploy", "done"]);
        assert_eq!(q.from.as_deref(), Some("alice"));
        assert_eq!(q.conversation.unwrap().to_string(), "#team");
        // after: a day means from the next day on; before: a day means before its start.
        assert_eq!(q.after, Some(1_796_083_200_000));
        assert_eq!(q.before, Some(1_796_169_600_000));
        let bob = Query::parse("in:bob x", utc()).unwrap();
        assert_eq!(bob.conversation.unwrap().to_string(), "@bob");
    }

    #[test]
    fn hostile_query_text_is_never_fts_syntax() {
        let q = Query::parse(r#"he"llo (a OR b) NEAR* content:x * ""#, utc()).unwrap();
        let fts = q.fts(true).unwrap();
        // Every word is one quoted string; quotes inside are doubled.
        assert_eq!(
            fts,
            r#""he""llo" AND "(a" AND "or" AND "b)" AND "near*" AND "content:x"*"#
        );
        let err = Query::parse("* () \"", utc()).unwrap_err();
        assert!(err.to_string().contains("nothing to search for"), "{err}");
    }

    #[test]
    fn bad_filters_say_why() {
        for (text, says) in [
            ("before:yesterday", "not a date"),
            ("in:#", "conversation like"),
            ("from:", "needs a value"),
            ("after:2026-12-02 before:2026-12-01", "not earlier"),
        ] {
            let err = Query::parse(text, utc()).unwrap_err();
            assert!(err.to_string().contains(says), "{text}: {err}");
        }
    }
}
