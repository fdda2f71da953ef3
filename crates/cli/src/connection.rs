//! Turning `--url` and the environment into a connected session.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Context, Result};
use redchat_core::{
    ConnectionSettings, Delivery, Events, Namespace, Secret, Session, SessionConfig, Username,
};

use crate::ConnectionArgs;

/// How long-lived the session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    /// One message and out (`send`): outbox in memory, fail fast.
    OneShot,
    /// `listen`: the inbox cursor on disk (catch up on what arrived while away).
    Listener,
    /// `chat`: outbox and cursor on disk; start even if the server is away and keep trying.
    Interactive,
    /// `contact`: the data directory (people file, its lock), not online, fail fast.
    Tool,
}

/// `--data-dir`, else `$XDG_DATA_HOME/redchat`, else `~/.local/share/redchat` (on Windows,
/// where there is usually no `HOME`, `%APPDATA%\redchat`).
pub fn data_dir(args: &ConnectionArgs) -> Option<PathBuf> {
    args.data_dir.clone().or_else(|| {
        std::env::var_os("XDG_DATA_HOME")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                if cfg!(windows) {
                    std::env::var_os("APPDATA").map(PathBuf::from)
                } else {
                    None
                }
            })
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
            .map(|d| d.join("redchat"))
    })
}

/// The connection string with the TLS flags and `REDCHAT_PASSWORD` applied, and the parser's
/// notes.
pub fn settings_from(
    args: &ConnectionArgs,
) -> Result<(ConnectionSettings, Vec<String>), redchat_core::ParseError> {
    let parsed = ConnectionSettings::parse(&args.url)?;
    let mut settings = parsed.settings;
    if settings.password.is_none()
        && let Ok(password) = std::env::var("REDCHAT_PASSWORD")
        && !password.is_empty()
    {
        settings.password = Some(Secret::new(password));
    }
    settings.tls_options.ca_file = args.tls_ca.clone();
    settings.tls_options.cert_file = args.tls_cert.clone();
    settings.tls_options.key_file = args.tls_key.clone();
    Ok((settings, parsed.notes))
}

/// Parses the connection string and username, finds the password (in the string,
/// `REDCHAT_PASSWORD`, or a prompt when the server asks for one and stdin is a terminal) and
/// connects, listening on `extra_channels` too.
pub async fn connect(
    args: &ConnectionArgs,
    user: &str,
    extra_channels: Vec<String>,
    lifetime: Lifetime,
) -> Result<(Session, Events)> {
    let (settings, notes) = settings_from(args).context("reading --url / REDCHAT_URL")?;
    for note in &notes {
        eprintln!("note: {note}");
    }
    if settings.password_in_clear() {
        eprintln!(
            "note: the password goes to {} unencrypted (plain TCP): use rediss:// if the server offers TLS",
            settings.host
        );
    }
    let user = Username::parse(user).context("reading --user")?;
    let namespace = Namespace::parse(&args.namespace).context("reading --namespace")?;
    let mut config = SessionConfig::new(settings, user);
    config.namespace = namespace;
    config.extra_channels = extra_channels;
    // `contact` only needs the people file: reading streams would move the cursors past
    // messages a later `listen` must still catch up on.
    config.delivery = if args.live_only || lifetime == Lifetime::Tool {
        Delivery::LiveOnly
    } else {
        Delivery::Durable
    };
    let dir = data_dir(args);
    // Every command signs with the user's one identity (chat, listen and send alike); only
    // long-lived ones keep an outbox and cursors (and hold the directory's lock).
    let session_dir = dir
        .as_deref()
        .map(|d| redchat_core::session_dir(d, &config.settings, &config.namespace, &config.user));
    let (identity, storage) = redchat_core::identity::load_or_create(session_dir.as_deref(), None)
        .context("loading your identity key")?;
    config.identity = Some((std::sync::Arc::new(identity), storage));
    if lifetime != Lifetime::OneShot {
        config.data_dir = dir;
    }
    config.keep_trying = lifetime == Lifetime::Interactive;
    // A one-shot command is not "online"; chat and listen are, unless told otherwise.
    config.share_presence =
        matches!(lifetime, Lifetime::Listener | Lifetime::Interactive) && !args.no_presence;
    match Session::connect(config.clone()).await {
        Ok(session) => Ok(session),
        Err(e)
            if e.is_auth()
                && config.settings.password.is_none()
                && std::io::stdin().is_terminal() =>
        {
            let prompt = format!("Password for {}: ", config.settings.addr());
            let password = tokio::task::spawn_blocking(move || rpassword::prompt_password(prompt))
                .await
                .context("reading the password")?
                .context("reading the password")?;
            config.settings.password = Some(Secret::new(password));
            Session::connect(config).await.context("connecting")
        }
        Err(e) => Err(e).context(format!("connecting to {}", config.settings.addr())),
    }
}
