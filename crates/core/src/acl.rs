//! Confining a Redchat user with Redis ACLs (Redis 7+): the `ACL SETUSER` recipe an admin
//! runs, and the list of commands Redchat needs (the doctor checks each one).
//!
//! Both come from [`Keys`], so they follow every key and channel Redchat uses. The user may:
//! read and write their own keys (`{u:<user>}`: inbox and sent streams, rooms, read
//! positions, devices, public key); read and write rooms (`{r:*}`: anyone may join a room);
//! add to the presence directory; `XADD` to any user's inbox stream (a direct message),
//! nothing else on it; `GET` anyone's public key; `PUBLISH` to any channel of the namespace
//! (inbox channels are bare user names, so no narrower pattern exists) but `SUBSCRIBE` only
//! to their own inbox and signal channels, the presence channel and rooms. Redis selectors
//! (`(...)`) grant the "write only" rights without the read rights that would come with
//! them in the root set. Passwords are left alone: the admin adds one with
//! `ACL SETUSER <user> on >secret`.

use crate::keys::Keys;
use crate::username::Username;

/// Commands run on the user's own keys, rooms and the directory.
const ROOT_COMMANDS: &[&str] = &[
    "ping",
    "select",
    "multi",
    "discard",
    "subscribe",
    "unsubscribe",
    "publish",
    "xadd",
    "xread",
    "xrange",
    "xrevrange",
    "hset",
    "hdel",
    "hgetall",
    "zadd",
    "zrange",
    "zrem",
    "zcount",
    "zremrangebyscore",
    "zscore",
    "zmscore",
    "zrevrangebyscore",
    "sadd",
    "srem",
    "srandmember",
    "smembers",
];

/// The arguments after `ACL SETUSER`: `user` confined to what Redchat needs as that user.
pub fn setuser_args(keys: &Keys, user: &Username) -> Vec<String> {
    let u = user;
    let tag = format!("{{u:{}}}", u.as_str());
    let inbox = keys.inbox_stream(u);
    let own_prefix = inbox.strip_suffix("inbox").unwrap_or(&inbox);
    let own = format!("{own_prefix}*");
    let any_user = |what: &str| format!("{}{what}", own_prefix.replacen(&tag, "{u:*}", 1));
    let x = crate::conversation::RoomName::parse("#x").expect("valid");
    let any_room = |name: String| name.replacen("{r:x}", "{r:*}", 1);
    let members = any_room(keys.members(&x));
    let rooms = format!("{}*", members.strip_suffix("members").unwrap_or(&members));
    let room_live = any_room(keys.room_channel(&x));
    let ns = keys.inbox_channel(u);
    let everything_in_namespace = format!("{}*", ns.strip_suffix(u.as_str()).unwrap_or(""));
    let mut args = vec![
        u.as_str().to_string(),
        "resetkeys".into(),
        "resetchannels".into(),
        "-@all".into(),
        "clearselectors".into(),
    ];
    args.extend(ROOT_COMMANDS.iter().map(|c| format!("+{c}")));
    args.extend([
        format!("~{own}"),
        format!("~{rooms}"),
        format!("~{}", keys.directory()),
        format!("&{}", keys.inbox_channel(u)),
        format!("&{}", keys.signal_channel(u)),
        format!("&{}", keys.presence_channel()),
        format!("&{room_live}"),
        // Selectors: each grants one command on keys the root set does not cover.
        format!("(+set ~{})", keys.identity(u)),
        format!("(+get %R~{})", any_user("identity")),
        format!("(+xadd %W~{})", any_user("inbox")),
        format!("(+xdel ~{})", keys.sent_stream(u)),
        // The owner may delete their own inbox stream: the fix for one jammed by a hostile
        // write (see `stream_exhausted`).
        format!("(+del ~{})", keys.inbox_stream(u)),
        format!("(+pexpire ~{})", keys.devices(u)),
        format!("(+publish &{everything_in_namespace})"),
    ]);
    args
}

/// Why no recipe is made for `user`, if so. The recipe's patterns must name this user's
/// keys and nothing else, and the printed line must mean the same to a shell and to
/// redis-cli: hash-tag braces (`bob}:x` would widen `{u:bob}:*` to another user's keys, and
/// `redchat:{u:alice}:signal` would be alice's channel) and shell characters are refused.
pub fn unsafe_name(user: &Username) -> Option<char> {
    user.as_str()
        .chars()
        .find(|c| !(c.is_alphanumeric() || "._-:+=".contains(*c)))
}

/// One line for `redis-cli`: `ACL SETUSER <user> ...`, each argument quoted where the shell
/// or redis-cli would read it otherwise. Works pasted at the redis-cli prompt, piped into
/// `redis-cli`, or after `redis-cli ` in a POSIX shell.
///
/// # Errors
/// A sentence when the name has a character an ACL pattern cannot confine safely
/// ([`unsafe_name`]).
pub fn setuser_command(keys: &Keys, user: &Username) -> Result<String, String> {
    if let Some(c) = unsafe_name(user) {
        return Err(format!(
            "no ACL recipe for \"{user}\": \"{c}\" cannot be confined safely in ACL patterns or printed for a shell; ACL-confined users need names of letters, digits and . _ - : + ="
        ));
    }
    let mut line = String::from("ACL SETUSER");
    for arg in setuser_args(keys, user) {
        line.push(' ');
        line.push_str(&quote(&arg));
    }
    Ok(line)
}

fn quote(arg: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "+-@_.:/=".contains(c);
    if !arg.is_empty() && arg.chars().all(plain) {
        return arg.to_string();
    }
    let mut out = String::from("\"");
    for c in arg.chars() {
        if matches!(c, '"' | '\\' | '$' | '`') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// A command Redchat runs, with concrete arguments, and what it is for (the doctor asks
/// whether the connected Redis user may run each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    /// The command and its arguments.
    pub command: Vec<String>,
    /// What Redchat does with it, for "your Redis user may not ...".
    pub purpose: &'static str,
}

/// Every kind of command Redchat runs as `user`, with keys and channels of `user`, of
/// another user `peer` and of a room: the doctor's checklist.
pub fn needs(keys: &Keys, user: &Username) -> Vec<Need> {
    let peer = Username::parse("redchat-doctor-peer").expect("valid");
    let room = crate::conversation::RoomName::parse("#redchat-doctor").expect("valid");
    let n = |purpose: &'static str, parts: &[&str]| Need {
        command: parts.iter().map(|s| s.to_string()).collect(),
        purpose,
    };
    vec![
        n("check the connection (PING)", &["PING"]),
        n(
            "subscribe to your inbox",
            &["SUBSCRIBE", &keys.inbox_channel(user)],
        ),
        n(
            "receive your own devices' signals",
            &["SUBSCRIBE", &keys.signal_channel(user)],
        ),
        n(
            "hear who comes online",
            &["SUBSCRIBE", &keys.presence_channel()],
        ),
        n(
            "send a direct message",
            &["PUBLISH", &keys.inbox_channel(&peer), "x"],
        ),
        n(
            "store a direct message for an offline recipient",
            &["XADD", &keys.inbox_stream(&peer), "*", "f", "v"],
        ),
        n(
            "keep a copy of what you sent",
            &["XADD", &keys.sent_stream(user), "*", "f", "v"],
        ),
        n(
            "read your inbox stream",
            &[
                "XREAD",
                "COUNT",
                "1",
                "STREAMS",
                &keys.inbox_stream(user),
                &keys.sent_stream(user),
                &keys.room_stream(&room),
                "0",
                "0",
                "0",
            ],
        ),
        n(
            "page back through history",
            &[
                "XREVRANGE",
                &keys.inbox_stream(user),
                "+",
                "-",
                "COUNT",
                "1",
            ],
        ),
        n(
            "withdraw a refused copy",
            &["XDEL", &keys.sent_stream(user), "0-1"],
        ),
        n(
            "publish your public key",
            &["SET", &keys.identity(user), "x"],
        ),
        n("read others' public keys", &["GET", &keys.identity(&peer)]),
        n(
            "remember your rooms",
            &["HSET", &keys.rooms(user), "#x", "0"],
        ),
        n("list your rooms", &["HGETALL", &keys.rooms(user)]),
        n("leave a room", &["HDEL", &keys.rooms(user), "#x"]),
        n(
            "keep read positions",
            &["ZADD", &keys.read_positions(user), "GT", "1", "@x"],
        ),
        n("show presence", &["ZADD", &keys.devices(user), "1", "d"]),
        n("expire presence", &["PEXPIRE", &keys.devices(user), "1000"]),
        n(
            "list who is online",
            &["ZADD", &keys.directory(), "1", user.as_str()],
        ),
        n(
            "see who is online",
            &[
                "ZREVRANGEBYSCORE",
                &keys.directory(),
                "+inf",
                "0",
                "LIMIT",
                "0",
                "1",
            ],
        ),
        n(
            "join a room",
            &["SADD", &keys.members(&room), user.as_str()],
        ),
        n(
            "post to a room",
            &["XADD", &keys.room_stream(&room), "*", "f", "v"],
        ),
        n(
            "list a room's members",
            &["SRANDMEMBER", &keys.members(&room), "10"],
        ),
        n("hear a room", &["SUBSCRIBE", &keys.room_channel(&room)]),
        n(
            "talk in a room",
            &["PUBLISH", &keys.room_channel(&room), "x"],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::username::Namespace;

    #[test]
    fn the_recipe_names_only_the_users_own_keys_rooms_and_write_only_rights() {
        let keys = Keys::new(&Namespace::parse("").unwrap());
        let bob = Username::parse("bob").unwrap();
        let line = setuser_command(&keys, &bob).unwrap();
        assert!(line.starts_with("ACL SETUSER bob resetkeys resetchannels -@all clearselectors"));
        for forbidden in [
            "resetpass",
            "nopass",
            ">",
            "+@all",
            "~*",
            "&* ",
            "allkeys",
            "allchannels",
        ] {
            assert!(!line.contains(forbidden), "{forbidden} in {line}");
        }
        for wanted in [
            "\"~redchat:{u:bob}:*\"",
            "\"~redchat:{r:*}:*\"",
            "\"&bob\"",
            "\"(+xadd %W~redchat:{u:*}:inbox)\"",
            "\"(+get %R~redchat:{u:*}:identity)\"",
            "\"(+publish &*)\"",
        ] {
            assert!(line.contains(wanted), "{wanted} missing from {line}");
        }
        let team = Keys::new(&Namespace::parse("team:").unwrap());
        let line = setuser_command(&team, &bob).unwrap();
        assert!(line.contains("\"(+publish &team:*)\""), "{line}");
        assert!(line.contains("\"&team:bob\""), "{line}");
    }

    #[test]
    fn a_name_with_braces_or_shell_characters_gets_no_recipe() {
        let keys = Keys::default();
        for name in [
            "bob}:x",
            "redchat:{u:alice}:signal",
            "x|sh",
            "a!b",
            "a$b",
            "a'b",
            "a\"b",
            "a;b",
            "a&b",
            "a(b",
        ] {
            let user = Username::parse(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(
                setuser_command(&keys, &user).is_err(),
                "{name} must be refused"
            );
        }
        for name in ["bob", "anna.lena", "svc-redchat_01", "jörg", "ops:eu"] {
            assert!(
                setuser_command(&keys, &Username::parse(name).unwrap()).is_ok(),
                "{name}"
            );
        }
    }

    #[test]
    fn a_namespace_mentioning_members_does_not_widen_the_room_pattern() {
        let keys = Keys::new(&Namespace::parse("members:").unwrap());
        let line = setuser_command(&keys, &Username::parse("bob").unwrap()).unwrap();
        assert!(line.contains("\"~members:redchat:{r:*}:*\""), "{line}");
    }

    #[test]
    fn quoting_survives_shell_and_redis_cli() {
        assert_eq!(quote("+xadd"), "+xadd");
        assert_eq!(quote("~a*"), "\"~a*\"");
        assert_eq!(quote("a\"b$c"), "\"a\\\"b\\$c\"");
    }
}
