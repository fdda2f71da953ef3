//! Turning `--url` and the environment into a connected session.

use std::io::IsTerminal;

use anyhow::{Context, Result};
use redchat_core::{
    ConnectionSettings, Events, Namespace, Secret, Session, SessionConfig, Username,
};

use crate::ConnectionArgs;

/// Parses the connection string and username, finds the password (in the string,
/// `REDCHAT_PASSWORD`, or a prompt when the server asks for one and stdin is a terminal) and
/// connects, listening on `extra_channels` too.
pub async fn connect(
    args: &ConnectionArgs,
    user: &str,
    extra_channels: Vec<String>,
) -> Result<(Session, Events)> {
    let parsed = ConnectionSettings::parse(&args.url).context("reading --url / REDCHAT_URL")?;
    for note in &parsed.notes {
        eprintln!("note: {note}");
    }
    let user = Username::parse(user).context("reading --user")?;
    let namespace = Namespace::parse(&args.namespace).context("reading --namespace")?;
    let mut settings = parsed.settings;
    if settings.password.is_none()
        && let Ok(password) = std::env::var("REDCHAT_PASSWORD")
        && !password.is_empty()
    {
        settings.password = Some(Secret::new(password));
    }
    let mut config = SessionConfig::new(settings, user);
    config.namespace = namespace;
    config.extra_channels = extra_channels;
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
