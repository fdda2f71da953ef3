//! TLS on one side only, and untrusted certificates, each get their own clear message.

use std::time::Duration;

use redchat_core::{ConnectionSettings, Session, SessionConfig, Username};

use crate::support::RedisServer;

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
