//! The username rule and inbox channel names.
//!
//! A username is trimmed and lowercased (the original client's rule: "Alice", "ALICE" and
//! " alice " are one person). The result must then be 1 to [`MAX_USERNAME_CHARS`] characters
//! and contain no whitespace, no control characters and none of `* ? [ ] \ @ ,`: the glob
//! characters would make the name a pattern for PSUBSCRIBE users, `@` addresses recipients in a
//! typed line, and `,` separates recipients in future group syntax. Everything else (letters of
//! any script, digits, `. _ - : +` …) is allowed.

use std::fmt;

/// Longest username, counted in characters after normalising.
pub const MAX_USERNAME_CHARS: usize = 64;
/// Longest namespace prefix, in characters.
pub const MAX_NAMESPACE_CHARS: usize = 64;

const FORBIDDEN: &[char] = &['*', '?', '[', ']', '\\', '@', ','];

/// A normalised, valid username. Its inbox channel is `namespace + username`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct Username(String);

/// Why a username (or namespace) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UsernameError(pub String);

impl Username {
    /// Normalises and validates `raw`.
    ///
    /// # Errors
    /// [`UsernameError`] saying which rule `raw` breaks.
    pub fn parse(raw: &str) -> Result<Username, UsernameError> {
        let name = raw.trim().to_lowercase();
        if name.is_empty() {
            return Err(UsernameError("a username is required".into()));
        }
        let count = name.chars().count();
        if count > MAX_USERNAME_CHARS {
            return Err(UsernameError(format!(
                "a username can have at most {MAX_USERNAME_CHARS} characters (this one has {count})"
            )));
        }
        check_chars(&name, "a username")?;
        check_honest(&name, "a username")?;
        Ok(Username(name))
    }

    /// A string that looks the same as this name to a reader (UTS #39 skeleton): two
    /// different names with one skeleton can be mistaken for each other.
    pub fn skeleton(&self) -> String {
        unicode_security::skeleton(&self.0).collect()
    }

    /// The normalised name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn check_chars(name: &str, what: &str) -> Result<(), UsernameError> {
    if let Some(c) = name.chars().find(|c| c.is_whitespace()) {
        let shown = if c == ' ' {
            "spaces".to_string()
        } else {
            format!("whitespace (U+{:04X})", c as u32)
        };
        return Err(UsernameError(format!("{what} cannot contain {shown}")));
    }
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return Err(UsernameError(format!(
            "{what} cannot contain control characters (U+{:04X})",
            c as u32
        )));
    }
    if let Some(c) = name.chars().find(|c| FORBIDDEN.contains(c)) {
        return Err(UsernameError(format!(
            "{what} cannot contain \"{c}\" (not allowed: * ? [ ] \\ @ ,)"
        )));
    }
    Ok(())
}

/// Invisible characters (default-ignorable code points people cannot see).
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{AD}' | '\u{34F}' | '\u{115F}'..='\u{1160}' | '\u{17B4}'..='\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200D}' | '\u{2060}'..='\u{2065}'
        | '\u{206A}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
        | '\u{FFA0}' | '\u{1BCA0}'..='\u{1BCA3}' | '\u{1D173}'..='\u{1D17A}'
        | '\u{E0000}'..='\u{E0FFF}')
}

/// Bidirectional controls: they reorder what is shown around them.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{61C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// The honest-name rule (UTS #39): no invisible or bidi-control characters, only characters
/// the General Security Profile allows in identifiers, and one script (digits and ASCII
/// punctuation go with any), so that a name cannot pass for another.
fn check_honest(name: &str, what: &str) -> Result<(), UsernameError> {
    use unicode_security::{GeneralSecurityProfile, MixedScript};
    if let Some(c) = name.chars().find(|c| is_invisible(*c)) {
        return Err(UsernameError(format!(
            "{what} cannot contain invisible characters (U+{:04X})",
            c as u32
        )));
    }
    if let Some(c) = name.chars().find(|c| is_bidi_control(*c)) {
        return Err(UsernameError(format!(
            "{what} cannot contain text-direction controls (U+{:04X})",
            c as u32
        )));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !c.is_ascii() && !c.identifier_allowed())
    {
        return Err(UsernameError(format!(
            "{what} cannot contain \"{c}\" (U+{:04X}): it is not a letter or digit allowed in names (Unicode UTS #39)",
            c as u32
        )));
    }
    if !name.is_single_script() {
        return Err(UsernameError(format!(
            "{what} cannot mix scripts (e.g. Latin with Cyrillic letters that look alike)"
        )));
    }
    Ok(())
}

/// A prefix put in front of every inbox channel name, e.g. `redchat:`. Empty by default so
/// that Redchat shares inboxes with the original WPF client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Namespace(String);

impl Namespace {
    /// Validates a prefix: same characters as usernames, may be empty, kept as typed (not
    /// lowercased, since it is a server-side naming convention).
    ///
    /// # Errors
    /// [`UsernameError`] if the prefix contains a forbidden character or is too long.
    pub fn parse(raw: &str) -> Result<Namespace, UsernameError> {
        let prefix = raw.trim();
        if prefix.chars().count() > MAX_NAMESPACE_CHARS {
            return Err(UsernameError(format!(
                "the namespace can have at most {MAX_NAMESPACE_CHARS} characters"
            )));
        }
        check_chars(prefix, "the namespace")?;
        Ok(Namespace(prefix.to_string()))
    }

    /// The prefix.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The inbox channel of `user`.
    pub fn inbox(&self, user: &Username) -> String {
        format!("{}{}", self.0, user.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_like_the_original_client() {
        for raw in ["Alice", "ALICE", " alice ", "\talice\n"] {
            assert_eq!(
                Username::parse(raw).unwrap().as_str(),
                "alice",
                "{raw:?} is alice"
            );
        }
        assert_eq!(
            Username::parse("Ünïcode.Name_1-2:x+y").unwrap().as_str(),
            "ünïcode.name_1-2:x+y"
        );
    }

    #[test]
    fn refuses_names_that_are_not_safe_channels() {
        let table = [
            ("", "required"),
            ("   ", "required"),
            ("bob smith", "spaces"),
            ("bob\u{a0}smith", "whitespace"),
            ("bob\u{0}", "control"),
            ("bo*", "\"*\""),
            ("bo?", "\"?\""),
            ("[bob]", "\"[\""),
            ("bob]", "\"]\""),
            ("b\\ob", "\"\\\""),
            ("@bob", "\"@\""),
            ("a,b", "\",\""),
        ];
        for (raw, needle) in table {
            let e = Username::parse(raw).expect_err(raw);
            assert!(
                e.0.contains(needle),
                "{raw:?}: {:?} should mention {needle}",
                e.0
            );
        }
        let long = "x".repeat(MAX_USERNAME_CHARS + 1);
        assert!(Username::parse(&long).unwrap_err().0.contains("at most 64"));
        assert!(
            Username::parse(&"x".repeat(MAX_USERNAME_CHARS)).is_ok(),
            "the limit itself is allowed"
        );
    }

    #[test]
    fn refuses_names_that_pass_for_others() {
        let table = [
            ("alice\u{200B}", "invisible characters (U+200B)"),
            ("ali\u{FEFF}ce", "invisible characters (U+FEFF)"),
            ("alice\u{202E}", "text-direction controls (U+202E)"),
            ("\u{2066}bob", "text-direction controls (U+2066)"),
            // Cyrillic а (U+0430) among Latin letters.
            ("\u{430}lice", "mix scripts"),
            ("bob\u{2063}", "invisible"),
        ];
        for (raw, needle) in table {
            let e = Username::parse(raw).expect_err(raw);
            assert!(
                e.0.contains(needle),
                "{raw:?}: {:?} should say {needle}",
                e.0
            );
        }
        // One script, any script: fine.
        for ok in ["алиса", "ålice", "李雷", "bob-2", "ünïcode.name_1"] {
            assert!(Username::parse(ok).is_ok(), "{ok} is an honest name");
        }
    }

    #[test]
    fn lookalike_names_share_a_skeleton() {
        let latin = Username::parse("paypal").unwrap();
        let digits = Username::parse("paypa1").unwrap();
        assert_eq!(latin.skeleton(), digits.skeleton());
        assert_ne!(latin.skeleton(), Username::parse("bob").unwrap().skeleton());
    }

    #[test]
    fn namespace_prefixes_inbox() {
        let bob = Username::parse("Bob").unwrap();
        assert_eq!(
            Namespace::default().inbox(&bob),
            "bob",
            "default keeps WPF compatibility"
        );
        assert_eq!(Namespace::parse("Team:").unwrap().inbox(&bob), "Team:bob");
        assert!(Namespace::parse("a*").is_err());
    }
}
