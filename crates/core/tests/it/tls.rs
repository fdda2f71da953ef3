//! TLS on one side only, and untrusted certificates, each get their own clear message.

use std::time::Duration;

use redchat_core::{ConnectionSettings, Session, SessionConfig, Username};

use crate::support::RedisServer;
use redchat_core::testing::TestPki;

async fn connect_err(host: &str, port: u16, tls: bool) -> redchat_core::Error {
    let mut s = ConnectionSettings::new(host, port);
    s.tls = tls;
    s.connect_timeout = Duration::from_secs(5);
    Session::connect(SessionConfig::new(s, Username::parse("alice").unwrap()))
        .await
        .expect_err("must not connect")
}

#[tokio::test]
async fn tls_client_against_plain_server() {
    let server = RedisServer::start();
    let err = connect_err("127.0.0.1", server.port(), true).await;
    assert_eq!(err.code(), "tls", "{err:?}");
    assert!(err.to_string().contains("does not speak TLS"), "{err}");
}

#[tokio::test]
async fn plain_client_against_tls_server() {
    let server = RedisServer::start_tls();
    let err = connect_err("127.0.0.1", server.port(), false).await;
    assert_eq!(err.code(), "tls", "{err:?}");
    assert!(err.to_string().contains("requires TLS"), "{err}");
}

#[tokio::test]
async fn untrusted_certificate() {
    let server = RedisServer::start_tls();
    let err = connect_err("localhost", server.port(), true).await;
    assert_eq!(err.code(), "tls", "{err:?}");
    assert!(err.to_string().contains("certificate"), "{err}");
}

/// TLS settings for `host:port` trusting (or not) the test CA, with optional client cert.
fn tls_settings(
    pki: &TestPki,
    url: &str,
    with_ca: bool,
    with_client_cert: bool,
) -> ConnectionSettings {
    let mut s = crate::support::settings(url);
    s.connect_timeout = Duration::from_secs(5);
    if with_ca {
        s.tls_options.ca_file = Some(pki.path("ca.crt"));
    }
    if with_client_cert {
        s.tls_options.cert_file = Some(pki.path("client.crt"));
        s.tls_options.key_file = Some(pki.path("client.key"));
    }
    s
}

/// Connects alice and bob with `settings` and has one direct message cross.
async fn chat_works(settings: ConnectionSettings) {
    let (alice, _a) = Session::connect(SessionConfig::new(
        settings.clone(),
        Username::parse("alice").unwrap(),
    ))
    .await
    .unwrap_or_else(|e| panic!("alice should connect over TLS: {e}"));
    let (_bob, mut b) = Session::connect(SessionConfig::new(
        settings,
        Username::parse("bob").unwrap(),
    ))
    .await
    .unwrap_or_else(|e| panic!("bob should connect over TLS: {e}"));
    alice
        .send(redchat_core::parse_line("@bob over tls").unwrap())
        .await
        .expect("sent");
    let got = crate::support::next_chat(&mut b, "the message over TLS").await;
    assert!(got.content.ends_with("over tls"), "{}", got.content);
}

async fn tls_err(settings: ConnectionSettings) -> redchat_core::Error {
    Session::connect(SessionConfig::new(
        settings,
        Username::parse("alice").unwrap(),
    ))
    .await
    .expect_err("must not connect")
}

#[tokio::test]
async fn a_server_signed_by_a_private_ca_is_trusted_with_the_ca_file() {
    let pki = TestPki::new();
    let server = RedisServer::start_tls_with(&pki, "no", &[]);
    let url = format!("rediss://localhost:{}", server.port());
    chat_works(tls_settings(&pki, &url, true, false)).await;
}

#[tokio::test]
async fn without_its_ca_file_a_private_ca_is_not_trusted() {
    let pki = TestPki::new();
    let server = RedisServer::start_tls_with(&pki, "no", &[]);
    let url = format!("rediss://localhost:{}", server.port());
    let err = tls_err(tls_settings(&pki, &url, false, false)).await;
    assert_eq!(err.code(), "tls", "{err:?}");
    assert!(err.to_string().contains("not trusted"), "{err}");
    assert!(err.to_string().contains("--tls-ca"), "names the fix: {err}");
    // Another CA's file does not help either: the store is added to, not replaced by luck.
    let mut other = tls_settings(&pki, &url, false, false);
    other.tls_options.ca_file = Some(pki.path("other-ca.crt"));
    let err = tls_err(other).await;
    assert!(err.to_string().contains("not trusted"), "{err}");
}

#[tokio::test]
async fn mutual_tls_needs_the_client_certificate() {
    let pki = TestPki::new();
    let server = RedisServer::start_tls_with(&pki, "yes", &[]);
    let url = format!("rediss://localhost:{}", server.port());
    chat_works(tls_settings(&pki, &url, true, true)).await;
    let err = tls_err(tls_settings(&pki, &url, true, false)).await;
    assert_eq!(err.code(), "tls", "{err:?}");
    assert!(
        err.to_string().contains("client certificate"),
        "says a client certificate is needed: {err}"
    );
}

#[tokio::test]
async fn a_certificate_for_another_name_is_refused_unless_ssl_host_names_it() {
    let pki = TestPki::new();
    let server = RedisServer::start_tls_with(&pki, "no", &[]);
    let by_ip = format!("rediss://127.0.0.1:{}", server.port());
    let err = tls_err(tls_settings(&pki, &by_ip, true, false)).await;
    assert_eq!(err.code(), "tls", "{err:?}");
    assert!(err.to_string().contains("host name"), "{err}");
    assert!(err.to_string().contains("sslHost"), "names the fix: {err}");
    let overridden = format!("{by_ip}?sslHost=redis.internal");
    chat_works(tls_settings(&pki, &overridden, true, false)).await;
}

#[tokio::test]
async fn tls_files_that_are_missing_or_not_pem_are_named() {
    let pki = TestPki::new();
    let mut s = tls_settings(&pki, "rediss://localhost:1", false, false);
    s.tls_options.ca_file = Some(pki.path("nope.crt"));
    let err = tls_err(s.clone()).await;
    assert!(err.to_string().contains("nope.crt"), "{err}");
    s.tls_options.ca_file = Some(pki.path("client.key"));
    let err = tls_err(s.clone()).await;
    assert!(err.to_string().contains("no certificate"), "{err}");
    s.tls_options.ca_file = None;
    s.tls_options.cert_file = Some(pki.path("client.crt"));
    let err = tls_err(s.clone()).await;
    assert!(err.to_string().contains("key"), "{err}");
    let mut plain = crate::support::settings("redis://localhost:1");
    plain.tls_options.ca_file = Some(pki.path("ca.crt"));
    let err = tls_err(plain).await;
    assert!(err.to_string().contains("rediss://"), "{err}");
}
