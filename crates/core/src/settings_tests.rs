//! Tests of the connection-string parser (kept apart: the tables are long).
use super::*;

fn ok(input: &str) -> ConnectionSettings {
    match ConnectionSettings::parse(input) {
        Ok(p) => p.settings,
        Err(e) => panic!("{input:?} should parse, got {e}"),
    }
}

fn err(input: &str) -> ParseError {
    match ConnectionSettings::parse(input) {
        Ok(p) => panic!("{input:?} should be refused, got {p:?}"),
        Err(e) => e,
    }
}

#[test]
fn accepts_every_documented_form() {
    // (input, host, port, tls, user, password, db)
    type Row<'a> = (
        &'a str,
        &'a str,
        u16,
        bool,
        Option<&'a str>,
        Option<&'a str>,
        i64,
    );
    let table: &[Row] = &[
        ("redis://localhost", "localhost", 6379, false, None, None, 0),
        (
            "redis://localhost:6380/2",
            "localhost",
            6380,
            false,
            None,
            None,
            2,
        ),
        (
            "  redis://127.0.0.1:7000  ",
            "127.0.0.1",
            7000,
            false,
            None,
            None,
            0,
        ),
        (
            "redis://:s3cret@h:1",
            "h",
            1,
            false,
            None,
            Some("s3cret"),
            0,
        ),
        (
            "redis://alice:pw@h",
            "h",
            6379,
            false,
            Some("alice"),
            Some("pw"),
            0,
        ),
        ("redis://alice@h", "h", 6379, false, Some("alice"), None, 0),
        ("REDIS://H:2", "H", 2, false, None, None, 0),
        (
            "rediss://cache.example.com:6380",
            "cache.example.com",
            6380,
            true,
            None,
            None,
            0,
        ),
        (
            "rediss://u:p%40%3A%2F%3D%2B@h:6380/1",
            "h",
            6380,
            true,
            Some("u"),
            Some("p@:/=+"),
            1,
        ),
        ("redis://[::1]:6379", "::1", 6379, false, None, None, 0),
        ("valkey://v:1", "v", 1, false, None, None, 0),
        ("localhost", "localhost", 6379, false, None, None, 0),
        ("localhost:6390", "localhost", 6390, false, None, None, 0),
        ("[::1]:7001", "::1", 7001, false, None, None, 0),
        (
            "chat.redis.cache.windows.net:6380,password=abc+/def==,ssl=True,abortConnect=False",
            "chat.redis.cache.windows.net",
            6380,
            true,
            None,
            Some("abc+/def=="),
            0,
        ),
        (
            "h,PASSWORD=x=y,SSL=true",
            "h",
            6380,
            true,
            None,
            Some("x=y"),
            0,
        ),
        (
            "h:1,ssl=false,user=bob,password=pw,defaultDatabase=3",
            "h",
            1,
            false,
            Some("bob"),
            Some("pw"),
            3,
        ),
        ("h:1,abortConnect=false,", "h", 1, false, None, None, 0),
        (" h:1 , password = pw ", "h", 1, false, None, Some("pw"), 0),
    ];
    for &(input, host, port, tls, user, password, db) in table {
        let s = ok(input);
        assert_eq!(s.host, host, "host of {input:?}");
        assert_eq!(s.port, port, "port of {input:?}");
        assert_eq!(s.tls, tls, "tls of {input:?}");
        assert_eq!(s.user.as_deref(), user, "user of {input:?}");
        assert_eq!(
            s.password.as_ref().map(Secret::expose),
            password,
            "password of {input:?}"
        );
        assert_eq!(s.db, db, "db of {input:?}");
    }
}

#[test]
fn azure_timeouts_and_notes() {
    let parsed = ConnectionSettings::parse(
        "x.redis.cache.windows.net:6380,password=k,ssl=True,connectTimeout=2000,syncTimeout=700,allowAdmin=true,h2:1",
    )
    .unwrap();
    assert_eq!(parsed.settings.connect_timeout, Duration::from_millis(2000));
    assert_eq!(parsed.settings.response_timeout, Duration::from_millis(700));
    assert_eq!(
        parsed.notes,
        vec![
            "ignored option \"allowAdmin\"".to_string(),
            "only the first endpoint is used; ignored 1".to_string()
        ],
        "unknown options must be reported, not silently dropped"
    );
    let default = ok("h:1,ssl=True");
    assert_eq!(
        default.connect_timeout, DEFAULT_CONNECT_TIMEOUT,
        "15 s default as Microsoft advises"
    );
}

#[test]
fn refuses_garbage_with_position() {
    let table: &[(&str, usize, &str)] = &[
        ("", 1, "empty"),
        ("   ", 1, "empty"),
        ("http://h", 1, "unsupported scheme"),
        ("unix:///tmp/redis.sock", 1, "unix sockets"),
        ("redis://h:abc", 11, "port \"abc\""),
        ("redis://h:0", 11, "port"),
        ("redis://h:70000", 11, "port"),
        ("redis://:pw@", 13, "host name is empty"),
        ("redis://h/x", 11, "database"),
        ("host name:6379", 5, "\" \" is not allowed"),
        ("h:1,ssl=maybe", 9, "ssl must be True or False"),
        ("h:1,connectTimeout=soon", 20, "connectTimeout"),
        ("password=x,ssl=True", 1, "no host"),
        ("h:1,=x", 5, "no name"),
        ("::1:6379", 1, "brackets"),
        ("[::1", 1, "missing \"]\""),
        ("h\u{7}:1", 2, "control characters"),
    ];
    for &(input, position, needle) in table {
        let e = err(input);
        assert!(
            e.message.contains(needle),
            "{input:?}: message {:?} should mention {needle:?}",
            e.message
        );
        assert_eq!(
            e.position, position,
            "{input:?}: position of {:?}",
            e.message
        );
    }
}

#[test]
fn url_round_trip_percent_encodes_special_characters() {
    let mut s = ConnectionSettings::new("h", 6380);
    s.tls = true;
    s.user = Some("us er@x".into());
    s.password = Some(Secret::new("p@ss:w/rd=+%"));
    s.db = 4;
    let with = s.to_url(true);
    assert_eq!(
        with,
        "rediss://us%20er%40x:p%40ss%3Aw%2Frd%3D%2B%25@h:6380/4"
    );
    assert_eq!(
        ok(&with),
        s,
        "a URL we build must parse back to the same settings"
    );
    let without = s.to_url(false);
    assert!(
        !without.contains("ss%3Aw"),
        "to_url(false) must leave the password out: {without}"
    );
}

#[test]
fn strip_password_keeps_the_users_form() {
    let table = [
        ("redis://:pw@h:1/2", "redis://h:1/2"),
        ("rediss://alice:p%40w@h:6380", "rediss://alice@h:6380"),
        ("redis://alice@h", "redis://alice@h"),
        (
            "h:6380,password=abc+/d==,ssl=True,abortConnect=False",
            "h:6380,ssl=True,abortConnect=False",
        ),
        ("h:6380,ssl=True,PASSWORD=x", "h:6380,ssl=True"),
        ("localhost:6379", "localhost:6379"),
    ];
    for (input, want) in table {
        let got = ConnectionSettings::strip_password(input).unwrap();
        assert_eq!(got, want, "stripping {input:?}");
        let mut expected = ok(input);
        expected.password = None;
        assert_eq!(
            ok(&got),
            expected,
            "{input:?}: only the password may change"
        );
    }
    assert!(ConnectionSettings::strip_password("redis://h:x").is_err());
}

#[test]
fn an_access_key_where_the_user_name_goes_is_the_password() {
    let key = "Xk3v9QpZ2LmN8rT5wY7aB1cD4eF6gH0jKlMnOpQrS=";
    let parsed =
        ConnectionSettings::parse(&format!("rediss://{key}@cache.example.com:6380")).unwrap();
    assert_eq!(parsed.settings.user, None, "never saved as a user name");
    assert_eq!(
        parsed.settings.password.as_ref().map(Secret::expose),
        Some(key)
    );
    assert!(
        parsed.notes.iter().any(|n| n.contains("access key")),
        "{:?}",
        parsed.notes
    );
    let stripped = ConnectionSettings::strip_password(&format!("rediss://{key}@h:6380")).unwrap();
    assert!(
        !stripped.contains(key),
        "the stored form drops the key: {stripped}"
    );
    // Ordinary ACL user names stay user names.
    for user in ["alice", "chat-bot", "svc_redchat_prod", "user2024"] {
        let s = ok(&format!("redis://{user}@h"));
        assert_eq!(s.user.as_deref(), Some(user));
        assert!(s.password.is_none());
    }
}

#[test]
fn ssl_host_overrides_the_certificate_name() {
    let s = ok("rediss://10.0.0.5:6380?sslHost=cache.internal");
    assert_eq!(s.tls_options.server_name.as_deref(), Some("cache.internal"));
    assert_eq!(s.host, "10.0.0.5");
    assert_eq!(ok(&s.to_url(false)), s, "round trip");
    let se = ok("10.0.0.5:6380,ssl=True,sslHost=cache.internal,password=k");
    assert_eq!(
        se.tls_options.server_name.as_deref(),
        Some("cache.internal")
    );
    assert!(ConnectionSettings::parse("h,ssl=True,sslHost=").is_err());
    assert!(ConnectionSettings::parse("h,ssl=True,sslHost=a b").is_err());
}

#[test]
fn a_password_in_clear_is_only_flagged_off_this_computer() {
    assert!(ok("redis://:pw@cache.example.com").password_in_clear());
    assert!(!ok("rediss://:pw@cache.example.com").password_in_clear());
    assert!(!ok("redis://:pw@localhost").password_in_clear());
    assert!(!ok("redis://:pw@127.0.0.2").password_in_clear());
    assert!(!ok("redis://:pw@[::1]:6379").password_in_clear());
    assert!(!ok("redis://cache.example.com").password_in_clear());
}

#[test]
fn secret_never_prints() {
    let s = ok("h:1,password=hunter2");
    let shown = format!("{s:?}");
    assert!(
        !shown.contains("hunter2"),
        "Debug leaked the password: {shown}"
    );
}

#[test]
fn a_password_with_slashes_and_at_signs_is_never_quoted_in_an_error() {
    // Unencoded, as pasted from a portal: the user info ends at the last '@'.
    let s = ok("rediss://default:ab/c?d@e@cache.example.com:6380/2");
    assert_eq!(s.password.as_ref().map(Secret::expose), Some("ab/c?d@e"));
    assert_eq!(
        (s.host.as_str(), s.port, s.db),
        ("cache.example.com", 6380, 2)
    );
    let key = "AAAAbbbb1111/2222ccccDDDD3333eeee+ffff5=";
    let s = ok(&format!("rediss://{key}@h:6380"));
    assert_eq!(s.password.as_ref().map(Secret::expose), Some(key));
    assert_eq!(s.user, None);
    for bad in [
        "rediss://default:s3cr/et@h:notaport",
        "h:6380,password=se://cret,ssl=maybe",
        "rediss://default:se/cret@h/db",
    ] {
        let e = err(bad);
        for part in ["s3cr", "se://", "cret"] {
            assert!(!e.message.contains(part), "{bad:?}: {}", e.message);
        }
    }
    let stripped =
        ConnectionSettings::strip_password("rediss://u:p/w@h:6380?sslHost=x&password=p2").unwrap();
    assert_eq!(stripped, "rediss://u@h:6380?sslHost=x");
}

#[test]
fn uuids_and_service_names_stay_user_names() {
    for user in [
        "0f8fad5b-d9cb-469f-a165-70867728950e",
        "svc-redchat-prod-eu-01-primary-reader",
        "service_account_for_redchat_2026_prod",
    ] {
        let s = ok(&format!("redis://{user}@h"));
        assert_eq!(s.user.as_deref(), Some(user));
        assert!(s.password.is_none());
    }
}

#[test]
fn sentinel_urls_name_every_sentinel_and_the_service() {
    let s = ok("redis+sentinel://:pw@s1:26379,s2,[::1]:26380/mymaster/2");
    assert_eq!(
        (s.host.as_str(), s.port),
        ("s1", 26379),
        "the first sentinel"
    );
    assert_eq!(s.db, 2);
    assert_eq!(s.password.as_ref().map(Secret::expose), Some("pw"));
    assert_eq!(
        s.kind,
        ServerKind::Sentinel {
            service: "mymaster".into(),
            sentinels: vec![
                ("s1".into(), 26379),
                ("s2".into(), SENTINEL_PORT),
                ("::1".into(), 26380)
            ],
        }
    );
    assert_eq!(ok(&s.to_url(true)), s, "round trip");
    assert!(!s.to_url(false).contains("pw"));
    let tls = ok("rediss+sentinel://a:1/svc");
    assert!(tls.tls);
    assert_eq!(tls.sentinel().map(|(svc, _)| svc), Some("svc"));
}

#[test]
fn sentinel_urls_without_a_service_or_sentinel_are_refused() {
    assert!(
        err("redis+sentinel://s1:26379")
            .message
            .contains("names the master after the hosts")
    );
    assert!(
        err("redis+sentinel://s1:26379/")
            .message
            .contains("service name is empty")
    );
    assert!(
        err("redis+sentinel://,/svc")
            .message
            .contains("no sentinel given")
    );
    assert!(
        err("redis+sentinel://s1/svc?cluster=true")
            .message
            .contains("do not go together")
    );
}

#[test]
fn stackexchange_service_name_makes_every_endpoint_a_sentinel() {
    let parsed = ConnectionSettings::parse("s1:26379,s2,serviceName=mymaster,password=pw").unwrap();
    assert!(
        parsed.notes.is_empty(),
        "no endpoint ignored: {:?}",
        parsed.notes
    );
    assert_eq!(
        parsed.settings.kind,
        ServerKind::Sentinel {
            service: "mymaster".into(),
            sentinels: vec![("s1".into(), 26379), ("s2".into(), SENTINEL_PORT)],
        }
    );
    assert!(
        err("s1,serviceName=")
            .message
            .contains("service name is empty")
    );
}

#[test]
fn cluster_true_forces_a_cluster() {
    assert_eq!(ok("redis://h:7000?cluster=true").kind, ServerKind::Cluster);
    assert_eq!(ok("redis://h:7000?cluster=false").kind, ServerKind::Auto);
    assert_eq!(ok("h:7000,cluster=True").kind, ServerKind::Cluster);
    let c = ok("rediss://u:p@h:7000/0?cluster=true&sslHost=x.example");
    assert_eq!(ok(&c.to_url(true)), c, "round trip");
    assert!(
        err("redis://h?cluster=maybe")
            .message
            .contains("True or False")
    );
}
