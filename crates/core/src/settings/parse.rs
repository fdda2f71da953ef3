//! The connection-string parsers behind [`ConnectionSettings::parse`]: URLs
//! (`redis://`, `rediss://`, `redis+sentinel://`, `valkey://`), plain `host:port`, and the
//! StackExchange.Redis form (Azure's portal, `serviceName=` for Sentinel). Every error names
//! its 1-based character position.

use super::*;

/// Where the scheme of a URL ends (the index of "://"). A scheme is letters (and + . -)
/// before "://"; a "://" later on (inside a password of the StackExchange form) does not make
/// a URL, and is never quoted back.
pub(super) fn url_scheme_end(s: &str) -> Option<usize> {
    s.find("://").filter(|&i| {
        i > 0
            && s[..i]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
    })
}

/// `localhost`, `127.0.0.0/8` and `::1`: traffic that never leaves this computer.
pub fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.to_ascii_lowercase().ends_with(".localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A URL user part that is really an access key pasted where a user name goes: one word of
/// standard base64 or hex, 32 characters or more with digits and letters mixed, or ending in
/// `=` (ACL user names are words; UUIDs and service names have '-' or '_').
pub(super) fn looks_like_a_key(user: &str) -> bool {
    // Standard base64 and hex: no '-' or '_' (which UUIDs and service names have).
    let base64ish = user
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "+/=".contains(c));
    let digits = user.chars().filter(char::is_ascii_digit).count();
    let letters = user.chars().filter(char::is_ascii_alphabetic).count();
    base64ish && ((user.len() >= 32 && digits >= 2 && letters >= 2) || user.ends_with('='))
}

/// Character index (0-based) of byte offset `byte` in `s`.
pub(super) fn char_pos(s: &str, byte: usize) -> usize {
    s[..byte].chars().count()
}

pub(super) fn parse_url(
    s: &str,
    start: usize,
    tls: bool,
    sentinel: bool,
) -> Result<Parsed, ParseError> {
    let mut notes = Vec::new();
    // The user info ends at the last '@': passwords and keys pasted unencoded may hold '/',
    // '?' or '@' (half of Azure's keys have a '/'), so it is split off before the path and
    // query, and no error below ever quotes it.
    let (userinfo, after, after_start) = match s[start..].rfind('@') {
        Some(at) => (
            Some(&s[start..start + at]),
            &s[start + at + 1..],
            start + at + 1,
        ),
        None => (None, &s[start..], start),
    };
    // Split off ?query and /db; the host part never contains '/' or '?'.
    let (before_query, query) = match after.find('?') {
        Some(q) => (&after[..q], Some((after_start + q + 1, &after[q + 1..]))),
        None => (after, None),
    };
    let (hostport, path) = match before_query.find('/') {
        Some(p) => (
            &before_query[..p],
            Some((after_start + p + 1, &before_query[p + 1..])),
        ),
        None => (before_query, None),
    };
    let host_start = after_start;
    let mut settings = if sentinel {
        let mut sentinels = Vec::new();
        let mut at = host_start;
        for part in hostport.split(',') {
            if !part.trim().is_empty() {
                sentinels.push(parse_endpoint(part.trim(), char_pos(s, at), SENTINEL_PORT)?);
            }
            at += part.len() + 1;
        }
        let Some((host, port)) = sentinels.first().cloned() else {
            return fail(
                char_pos(s, host_start),
                "no sentinel given: redis+sentinel://host:26379[,host2:26379]/SERVICE",
            );
        };
        let mut settings = ConnectionSettings::new(host, port);
        settings.kind = ServerKind::Sentinel {
            service: String::new(),
            sentinels,
        };
        settings
    } else {
        let (host, port) = parse_endpoint(hostport, char_pos(s, host_start), 6379)?;
        ConnectionSettings::new(host, port)
    };
    settings.tls = tls;
    if let Some(info) = userinfo {
        let decode = |part: &str, what: &str| -> Result<String, ParseError> {
            percent_decode_str(part)
                .decode_utf8()
                .map(|c| c.into_owned())
                .or_else(|_| {
                    fail(
                        char_pos(s, start),
                        format!("the {what} is not valid UTF-8 after percent-decoding"),
                    )
                })
        };
        match info.split_once(':') {
            Some((user, password)) => {
                if !user.is_empty() {
                    settings.user = Some(decode(user, "user name")?);
                }
                if !password.is_empty() {
                    settings.password = Some(Secret(decode(password, "password")?));
                }
            }
            None if !info.is_empty() => {
                let only = decode(info, "user name")?;
                if looks_like_a_key(&only) {
                    notes.push(
                        "the part before \"@\" looks like an access key, so it is used as the password; for an ACL user write user:password@".into(),
                    );
                    settings.password = Some(Secret(only));
                } else {
                    settings.user = Some(only);
                }
            }
            None => {}
        }
    }
    // redis+sentinel://…/SERVICE[/db]: the first path segment names the master.
    let path = match (&mut settings.kind, path) {
        (ServerKind::Sentinel { service, .. }, Some((at, p))) => {
            let (name, rest) = match p.split_once('/') {
                Some((name, rest)) => (name, Some((at + name.len() + 1, rest))),
                None => (p, None),
            };
            *service = check_service(
                &percent_decode_str(name).decode_utf8_lossy(),
                char_pos(s, at),
            )?;
            rest
        }
        (ServerKind::Sentinel { .. }, None) => {
            return fail(
                char_pos(s, after_start + before_query.len()),
                "a Sentinel URL names the master after the hosts: redis+sentinel://host:26379/SERVICE",
            );
        }
        (_, path) => path,
    };
    if let Some((at, db)) = path
        && !db.is_empty()
    {
        settings.db = db.parse::<i64>().ok().filter(|d| *d >= 0).map_or_else(
            || {
                fail(
                    char_pos(s, at),
                    format!("database \"{db}\" is not a number"),
                )
            },
            Ok,
        )?;
    }
    if let Some((_, query)) = query {
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let key = pair.split('=').next().unwrap_or(pair);
            match key.to_ascii_lowercase().as_str() {
                // RESP3 is always used; accept the parameter redis-rs users add by habit.
                "protocol" => {}
                "cluster" => {
                    let value = pair.split_once('=').map_or("true", |(_, v)| v);
                    if parse_bool(value, char_pos(s, start), "cluster")? {
                        if matches!(settings.kind, ServerKind::Sentinel { .. }) {
                            return fail(
                                char_pos(s, start),
                                "cluster=true and Sentinel do not go together: a Sentinel watches one master",
                            );
                        }
                        settings.kind = ServerKind::Cluster;
                    }
                }
                "sslhost" => {
                    let value = pair.split_once('=').map_or("", |(_, v)| v);
                    let name = percent_decode_str(value)
                        .decode_utf8_lossy()
                        .trim()
                        .to_string();
                    settings.tls_options.server_name =
                        Some(check_server_name(&name, char_pos(s, start))?);
                }
                _ => notes.push(format!("ignored URL parameter \"{key}\"")),
            }
        }
    }
    Ok(Parsed { settings, notes })
}

pub(super) fn parse_stackexchange(s: &str) -> Result<Parsed, ParseError> {
    let mut notes = Vec::new();
    let mut endpoints: Vec<(usize, &str)> = Vec::new();
    let mut tls = false;
    let mut user = None;
    let mut password = None;
    let mut server_name = None;
    let mut db = 0;
    let mut connect_timeout = DEFAULT_CONNECT_TIMEOUT;
    let mut response_timeout = DEFAULT_RESPONSE_TIMEOUT;
    let mut service = None;
    let mut cluster = false;
    let mut offset = 0;
    for part in s.split(',') {
        let at = offset;
        offset += part.len() + 1;
        let trimmed = part.trim();
        if trimmed.is_empty() {
            continue;
        }
        let Some((key, value)) = trimmed.split_once('=') else {
            endpoints.push((at + (part.len() - part.trim_start().len()), trimmed));
            continue;
        };
        let value_at = char_pos(s, at + part.find('=').unwrap_or(0) + 1);
        let value = value.trim();
        match key.trim().to_ascii_lowercase().as_str() {
            "password" => password = Some(Secret(value.to_string())),
            "user" => user = Some(value.to_string()).filter(|u| !u.is_empty()),
            "ssl" => tls = parse_bool(value, value_at, "ssl")?,
            "sslhost" => server_name = Some(check_server_name(value, value_at)?),
            "defaultdatabase" => {
                db = value.parse::<i64>().ok().filter(|d| *d >= 0).map_or_else(
                    || {
                        fail(
                            value_at,
                            format!("defaultDatabase \"{value}\" is not a number"),
                        )
                    },
                    Ok,
                )?;
            }
            "connecttimeout" => connect_timeout = parse_millis(value, value_at, "connectTimeout")?,
            "synctimeout" => response_timeout = parse_millis(value, value_at, "syncTimeout")?,
            "abortconnect" => {
                parse_bool(value, value_at, "abortConnect")?;
            }
            "servicename" => service = Some(check_service(value, value_at)?),
            "cluster" => cluster = parse_bool(value, value_at, "cluster")?,
            "" => return fail(char_pos(s, at), "an option has no name before \"=\""),
            _ => notes.push(format!("ignored option \"{}\"", key.trim())),
        }
    }
    let Some(&(ep_at, endpoint)) = endpoints.first() else {
        return fail(
            0,
            "no host given: start with host:port, e.g. name.redis.cache.windows.net:6380",
        );
    };
    let kind = match service {
        Some(service) => {
            if cluster {
                return fail(
                    0,
                    "cluster=true and serviceName do not go together: a Sentinel watches one master",
                );
            }
            // Every endpoint is a sentinel.
            let sentinels = endpoints
                .iter()
                .map(|&(at, e)| parse_endpoint(e, char_pos(s, at), SENTINEL_PORT))
                .collect::<Result<Vec<_>, _>>()?;
            ServerKind::Sentinel { service, sentinels }
        }
        None => {
            if endpoints.len() > 1 {
                notes.push(format!(
                    "only the first endpoint is used; ignored {}",
                    endpoints.len() - 1
                ));
            }
            if cluster {
                ServerKind::Cluster
            } else {
                ServerKind::Auto
            }
        }
    };
    // StackExchange.Redis defaults the port to 6380 when ssl=True.
    let default_port = match (&kind, tls) {
        (ServerKind::Sentinel { .. }, _) => SENTINEL_PORT,
        (_, true) => 6380,
        (_, false) => 6379,
    };
    let (host, port) = parse_endpoint(endpoint, char_pos(s, ep_at), default_port)?;
    let settings = ConnectionSettings {
        host,
        port,
        tls,
        tls_options: TlsOptions {
            server_name,
            ..TlsOptions::default()
        },
        user,
        password,
        db,
        connect_timeout,
        response_timeout,
        kind,
    };
    Ok(Parsed { settings, notes })
}

pub(super) fn check_server_name(name: &str, at: usize) -> Result<String, ParseError> {
    if name.is_empty() {
        return fail(
            at,
            "sslHost needs a host name, e.g. sslHost=cache.example.com",
        );
    }
    if rustls::pki_types::ServerName::try_from(name).is_err() {
        return fail(at, format!("sslHost \"{name}\" is not a host name"));
    }
    Ok(name.to_string())
}

/// A Sentinel service (master) name: what `sentinel monitor` was given.
pub(super) fn check_service(name: &str, at: usize) -> Result<String, ParseError> {
    let name = name.trim();
    if name.is_empty() {
        return fail(
            at,
            "the Sentinel service name is empty (the name in `sentinel monitor NAME …`)",
        );
    }
    if let Some(bad) = name.find(|c: char| c.is_whitespace() || c.is_control()) {
        return fail(
            at + char_pos(name, bad),
            "a Sentinel service name has no spaces",
        );
    }
    Ok(name.to_string())
}

pub(super) fn parse_bool(value: &str, at: usize, name: &str) -> Result<bool, ParseError> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => fail(at, format!("{name} must be True or False, not \"{value}\"")),
    }
}

pub(super) fn parse_millis(value: &str, at: usize, name: &str) -> Result<Duration, ParseError> {
    match value.parse::<u64>() {
        Ok(ms) if ms > 0 => Ok(Duration::from_millis(ms)),
        _ => fail(
            at,
            format!("{name} must be a positive number of milliseconds, not \"{value}\""),
        ),
    }
}

/// Parses `host[:port]` or `[v6]:port`. `at` is the character position of `s` in the input.
pub(super) fn parse_endpoint(
    s: &str,
    at: usize,
    default_port: u16,
) -> Result<(String, u16), ParseError> {
    let (host, port_part, port_at) = if let Some(v6) = s.strip_prefix('[') {
        let Some(end) = v6.find(']') else {
            return fail(at, "missing \"]\" after the IPv6 address");
        };
        let after = &v6[end + 1..];
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return fail(at + end + 2, "expected \":port\" after \"]\""),
        };
        (&v6[..end], port, at + end + 3)
    } else {
        match s.rsplit_once(':') {
            Some((h, _)) if h.contains(':') => {
                return fail(
                    at,
                    "IPv6 addresses must be written in brackets, e.g. [::1]:6379",
                );
            }
            Some((h, p)) => (h, Some(p), at + h.chars().count() + 1),
            None => (s, None, at),
        }
    };
    if host.is_empty() {
        return fail(at, "the host name is empty");
    }
    if let Some(bad) = host.find(|c: char| c.is_whitespace() || "/@?#,=\\\"'<>".contains(c)) {
        let c = host[bad..].chars().next().unwrap_or(' ');
        return fail(
            at + char_pos(host, bad),
            format!("\"{c}\" is not allowed in a host name"),
        );
    }
    let port = match port_part {
        None => default_port,
        Some(p) => match p.parse::<u16>() {
            Ok(port) if port > 0 => port,
            _ => {
                return fail(
                    port_at,
                    format!("port \"{p}\" must be a number from 1 to 65535"),
                );
            }
        },
    };
    Ok((host.to_string(), port))
}
