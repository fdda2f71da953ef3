//! The app's log: tracing (the core's and ours) through tauri-plugin-log to a rotating file
//! in the OS log directory (`$XDG_DATA_HOME/dev.redchat.desktop/logs/redchat.log` on Linux,
//! `~/Library/Logs/dev.redchat.desktop/` on macOS, `%LOCALAPPDATA%\dev.redchat.desktop\logs\`
//! on Windows). Levels come from `RUST_LOG` (`info` by default; `debug`, or
//! `redchat_core=debug,warn`). Connection states, reconnects and errors are logged; message
//! text and secrets never are: only [`event`] decides what of an event is written.

use log::LevelFilter;
use redchat_core::{Event, State};
use tauri_plugin_log::{RotationStrategy, Target, TargetKind};

/// The log file's name (without `.log`).
pub const FILE_NAME: &str = "redchat";

/// `RUST_LOG`-style levels: a default level and `target=level` pairs.
pub fn levels(spec: &str) -> (LevelFilter, Vec<(String, LevelFilter)>) {
    let mut default = LevelFilter::Info;
    let mut targets = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('=') {
            Some((target, level)) => {
                if let Ok(level) = level.trim().parse() {
                    targets.push((target.trim().replace('-', "_"), level));
                }
            }
            None => {
                if let Ok(level) = part.parse() {
                    default = level;
                }
            }
        }
    }
    (default, targets)
}

/// The plugin: the log directory only (no stdout, no webview), five files of 5 MB kept.
pub fn plugin<R: tauri::Runtime>() -> tauri::plugin::TauriPlugin<R> {
    let (default, targets) = levels(&std::env::var("RUST_LOG").unwrap_or_default());
    let mut builder = tauri_plugin_log::Builder::new()
        .clear_targets()
        .target(Target::new(TargetKind::LogDir {
            file_name: Some(FILE_NAME.into()),
        }))
        .rotation_strategy(RotationStrategy::KeepSome(5))
        .max_file_size(5_000_000)
        .level(default);
    for (target, level) in targets {
        builder = builder.level_for(target, level);
    }
    builder.build()
}

/// What of a core event goes to the log: states and reasons, notice codes, counts. Never
/// message text, names of conversations or anything a server sent as content.
pub fn event(event: &Event) {
    match event {
        Event::Status(s) => match s.state {
            State::Connected => tracing::info!("connected to {} as {}", s.addr, s.user),
            State::Reconnecting => tracing::warn!(
                "reconnecting to {} (attempt {}): {}",
                s.addr,
                s.attempt,
                s.reason.as_deref().unwrap_or("link lost")
            ),
            State::Disconnected => tracing::info!("disconnected from {}", s.addr),
        },
        Event::Notice { code, .. } => tracing::warn!("notice {}", code.as_str()),
        Event::Blocked { count, .. } => tracing::info!("blocked messages dropped: {count}"),
        _ => {}
    }
}

/// Makes the log directory the user's alone.
pub fn restrict(dir: &std::path::Path) {
    let _ = std::fs::create_dir_all(dir);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_log_levels_are_read_like_env_logger() {
        assert_eq!(levels(""), (LevelFilter::Info, vec![]));
        assert_eq!(levels("debug"), (LevelFilter::Debug, vec![]));
        assert_eq!(
            levels("warn, redchat-core=trace ,nonsense=loud"),
            (
                LevelFilter::Warn,
                vec![("redchat_core".into(), LevelFilter::Trace)]
            )
        );
    }
}
