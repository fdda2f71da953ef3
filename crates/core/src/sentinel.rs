//! Finding the master through Redis Sentinel, and hearing when it changes.
//!
//! Sentinels are asked in the order given: the first that answers names the master
//! (`SENTINEL GET-MASTER-ADDR-BY-NAME`). Sentinels speak RESP2 here and never get a
//! subscribed RESP3 link: redis-rs 1.8 can panic on a sentinel's replies there (see
//! PITFALLS). They are asked without credentials first (most sentinels have none) and with
//! the data server's when they answer `NOAUTH`. A session asks again before every reconnect
//! and as soon as a sentinel announces `+switch-master` for its service.

use std::time::Duration;

use redis::aio::MultiplexedConnection;
use tokio::sync::mpsc;

use crate::error::{Error, Result};
use crate::settings::ConnectionSettings;

/// The master the sentinels name, and what they know of its replicas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Master {
    /// The master's host as the sentinels announce it.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// Replicas the sentinels know of (`num-slaves`).
    pub replicas: u32,
    /// The sentinel that answered (`host:port`).
    pub sentinel: String,
}

/// Asks the sentinels of `settings` (a [`crate::ServerKind::Sentinel`]) for the master.
///
/// # Errors
/// [`Error::Unreachable`] when no sentinel answers (retryable),
/// [`Error::UnsupportedServer`] when they know no master by that name or an endpoint is not
/// a sentinel, [`Error::Auth`] when a sentinel refuses the credentials.
pub async fn master(settings: &ConnectionSettings) -> Result<Master> {
    let Some((service, sentinels)) = settings.sentinel() else {
        return Err(Error::UnsupportedServer(
            "not a Sentinel connection string".into(),
        ));
    };
    let mut failures = Vec::new();
    for (host, port) in sentinels {
        let at = settings.at(host.as_str(), *port);
        let addr = at.addr();
        let mut conn = match open(&at).await {
            Ok(conn) => conn,
            Err(e) if e.is_auth() => return Err(e),
            Err(e) => {
                failures.push(format!("{addr}: {}", short(&e)));
                continue;
            }
        };
        match ask(&mut conn, service).await {
            Ok(Some((host, port))) => {
                let replicas = replica_count(&mut conn, service).await;
                return Ok(Master {
                    host,
                    port,
                    replicas,
                    sentinel: addr,
                });
            }
            Ok(None) => {
                let known = known_services(&mut conn).await;
                return Err(Error::UnsupportedServer(format!(
                    "the sentinel at {addr} watches no master named \"{service}\"{}",
                    if known.is_empty() {
                        String::new()
                    } else {
                        format!(" (it watches: {})", known.join(", "))
                    }
                )));
            }
            Err(e) if e.to_string().contains("unknown command") || is_unknown_subcommand(&e) => {
                return Err(Error::UnsupportedServer(format!(
                    "{addr} is not a sentinel (it does not know the SENTINEL command): use redis:// for a data server"
                )));
            }
            Err(e) => failures.push(format!("{addr}: {e}")),
        }
    }
    Err(Error::Unreachable {
        addr: sentinels
            .iter()
            .map(|(h, p)| settings.at(h.as_str(), *p).addr())
            .collect::<Vec<_>>()
            .join(","),
        detail: format!(
            "no sentinel answered for \"{service}\" ({})",
            failures.join("; ")
        ),
    })
}

fn short(e: &Error) -> String {
    match e {
        Error::Unreachable { detail, .. } => detail.clone(),
        Error::Timeout { after, .. } => format!("no answer within {}s", after.as_secs_f32()),
        other => other.to_string(),
    }
}

fn is_unknown_subcommand(e: &redis::RedisError) -> bool {
    e.code() == Some("ERR") && e.detail().is_some_and(|d| d.contains("unknown subcommand"))
}

/// A short RESP2 connection to one sentinel: without credentials, then with them when it
/// asks (`NOAUTH`).
async fn open(at: &ConnectionSettings) -> Result<MultiplexedConnection> {
    let bare = ConnectionSettings {
        user: None,
        password: None,
        db: 0,
        ..at.clone()
    };
    let first = connect(&bare).await;
    match first {
        Err(e) if at.password.is_some() && (e.is_auth() || is_noauth(&e)) => connect(at).await,
        other => other,
    }
}

fn is_noauth(e: &Error) -> bool {
    matches!(e, Error::Redis(text) if text.contains("NOAUTH"))
}

async fn connect(at: &ConnectionSettings) -> Result<MultiplexedConnection> {
    crate::session::reach(at).await?;
    let client = crate::tls::client_speaking(at, redis::ProtocolVersion::RESP2)?;
    let limit = at.connect_timeout.min(Duration::from_secs(5));
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(limit))
        .set_response_timeout(Some(at.response_timeout));
    let mut conn = match tokio::time::timeout(
        limit + at.response_timeout,
        client.get_multiplexed_async_connection_with_config(&config),
    )
    .await
    {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => return Err(Error::from_redis(&e, &at.addr(), at.tls)),
        Err(_) => {
            return Err(Error::Timeout {
                addr: at.addr(),
                after: limit,
            });
        }
    };
    // A sentinel with a password answers PING with NOAUTH: find out now, not at the query.
    redis::cmd("PING")
        .query_async::<redis::Value>(&mut conn)
        .await
        .map_err(|e| Error::from_redis(&e, &at.addr(), at.tls))?;
    Ok(conn)
}

async fn ask(
    conn: &mut MultiplexedConnection,
    service: &str,
) -> redis::RedisResult<Option<(String, u16)>> {
    let answer: Option<(String, String)> = redis::cmd("SENTINEL")
        .arg("GET-MASTER-ADDR-BY-NAME")
        .arg(service)
        .query_async(conn)
        .await?;
    Ok(answer.and_then(|(host, port)| valid_master(&host, &port)))
}

/// A master address as a sentinel gives it, if it is one: every byte from Redis is
/// untrusted, and the host ends up in statuses, logs and a terminal. A host name or an IP
/// address (letters, digits, `.`, `-`, `_`, `:` for IPv6), at most 255 bytes; a port from 1.
pub(crate) fn valid_master(host: &str, port: &str) -> Option<(String, u16)> {
    let port = port.parse::<u16>().ok().filter(|p| *p > 0)?;
    let plain = host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':'));
    (!host.is_empty() && host.len() <= 255 && plain).then(|| (host.to_string(), port))
}

/// The replicas the sentinel considers up (`SENTINEL REPLICAS`, without those flagged down
/// or disconnected: right after a failover the old master is listed as a replica); 0 when
/// it cannot be read.
async fn replica_count(conn: &mut MultiplexedConnection, service: &str) -> u32 {
    let replicas: redis::RedisResult<Vec<Vec<String>>> = redis::cmd("SENTINEL")
        .arg("REPLICAS")
        .arg(service)
        .query_async(conn)
        .await;
    let up = |fields: &Vec<String>| {
        fields
            .chunks(2)
            .find(|kv| kv.len() == 2 && kv[0] == "flags")
            .is_some_and(|kv| {
                !kv[1]
                    .split(',')
                    .any(|f| matches!(f, "s_down" | "o_down" | "disconnected"))
            })
    };
    replicas
        .map(|all| all.iter().filter(|r| up(r)).count() as u32)
        .unwrap_or(0)
}

/// The names the sentinel watches, for an error message (at most 10).
async fn known_services(conn: &mut MultiplexedConnection) -> Vec<String> {
    let masters: redis::RedisResult<Vec<Vec<String>>> = redis::cmd("SENTINEL")
        .arg("MASTERS")
        .query_async(conn)
        .await;
    masters
        .unwrap_or_default()
        .iter()
        .filter_map(|fields| {
            fields
                .chunks(2)
                .find(|kv| kv.len() == 2 && kv[0] == "name")
                .map(|kv| kv[1].chars().filter(|c| !c.is_control()).take(64).collect())
        })
        .take(10)
        .collect()
}

/// Listens for `+switch-master` of our service on the sentinels (one at a time, the next
/// when one goes away) and sends the new master's address on `tx`, until `tx` is closed.
pub(crate) async fn watch_switches(
    settings: ConnectionSettings,
    tx: mpsc::UnboundedSender<String>,
) {
    let Some((service, sentinels)) = settings.sentinel() else {
        return;
    };
    let service = service.to_string();
    let sentinels = sentinels.to_vec();
    let mut failures: u32 = 0;
    loop {
        for (host, port) in &sentinels {
            if tx.is_closed() {
                return;
            }
            let at = settings.at(host.as_str(), *port);
            if let Err(e) = listen(&at, &service, &tx).await {
                tracing::debug!(
                    "sentinel {} stopped telling us of failovers: {e}",
                    at.addr()
                );
            }
        }
        failures = failures.saturating_add(1);
        let wait = crate::session::backoff_delay(failures, Duration::from_secs(10));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = tx.closed() => return,
        }
    }
}

async fn listen(
    at: &ConnectionSettings,
    service: &str,
    tx: &mpsc::UnboundedSender<String>,
) -> Result<()> {
    use futures_util::StreamExt;
    crate::session::reach(at).await?;
    let bare = ConnectionSettings {
        user: None,
        password: None,
        db: 0,
        ..at.clone()
    };
    let addr = at.addr();
    let client = crate::tls::client_speaking(&bare, redis::ProtocolVersion::RESP2)?;
    let mut pubsub = client
        .get_async_pubsub()
        .await
        .map_err(|e| Error::from_redis(&e, &addr, at.tls))?;
    pubsub
        .subscribe("+switch-master")
        .await
        .map_err(|e| Error::from_redis(&e, &addr, at.tls))?;
    let mut messages = pubsub.on_message();
    loop {
        tokio::select! {
            message = messages.next() => {
                let Some(message) = message else { return Ok(()) };
                // "<name> <old-ip> <old-port> <new-ip> <new-port>"
                let text: String = message.get_payload().unwrap_or_default();
                let words: Vec<&str> = text.split_whitespace().collect();
                if let [name, _, _, host, port] = words.as_slice()
                    && *name == service
                    && let Some((host, port)) = valid_master(host, port)
                    && tx.send(format!("{host}:{port}")).is_err()
                {
                    return Ok(());
                }
            }
            _ = tx.closed() => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::valid_master;

    #[test]
    fn a_hostile_sentinel_answer_is_no_answer() {
        assert_eq!(
            valid_master("10.0.0.7", "6379"),
            Some(("10.0.0.7".into(), 6379))
        );
        assert_eq!(
            valid_master("cache-1.internal", "6380"),
            Some(("cache-1.internal".into(), 6380))
        );
        assert!(valid_master("::1", "6379").is_some(), "IPv6");
        for (host, port) in [
            ("", "6379"),
            ("h", "0"),
            ("h", "65536"),
            ("h", "-1"),
            ("h", "6379x"),
            ("evil\x1b[2J", "6379"),
            ("a b", "6379"),
            ("h/../x", "6379"),
            ("user@h", "6379"),
        ] {
            assert_eq!(valid_master(host, port), None, "{host:?}:{port:?}");
        }
        assert_eq!(valid_master(&"a".repeat(256), "6379"), None, "too long");
    }
}
