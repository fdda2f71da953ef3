//! What a session keeps on disk, per server + user: the outbox and the inbox cursor.
//!
//! Layout under the caller's data directory (the app's data dir, the CLI's
//! `$XDG_DATA_HOME/redchat`): `<host>-<port>-db<n>/<namespace><user>/{outbox.jsonl,cursors.json}`.
//! Nothing secret is stored: no password, no connection string.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::settings::ConnectionSettings;
use crate::username::{Namespace, Username};

/// Message ids remembered to hide duplicates (in memory).
pub(crate) const SEEN_CAPACITY: usize = 20_000;
/// Message ids persisted with the cursor, so a restart does not show a duplicate either.
const PERSISTED_RECENT: usize = 2_000;

/// The directory for one server + user under `data_dir` (outbox, cursors, people, and the
/// identity key when there is no keychain).
pub fn session_dir(
    data_dir: &Path,
    settings: &ConnectionSettings,
    namespace: &Namespace,
    user: &Username,
) -> PathBuf {
    // Behind Sentinel the master moves: the service names the data, not a sentinel.
    let server = match settings.sentinel() {
        Some((service, _)) => format!("sentinel-{service}-db{}", settings.db),
        None => format!("{}-{}-db{}", settings.host, settings.port, settings.db),
    };
    data_dir
        .join(safe(&server))
        .join(safe(&format!("{}{}", namespace.as_str(), user.as_str())))
}

/// A temporary file beside `path`, unique to this writer (process and call): two writers
/// never write into one temporary file, whatever they race on.
pub(crate) fn temp_path(path: &Path) -> PathBuf {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let unique = crate::wire::new_id();
    path.with_file_name(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        &unique[..8]
    ))
}

/// Creates `dir` and its missing parents readable by the user only (0700 on Unix; on Windows
/// the profile's inherited user-only ACL).
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    // A directory left by an older version (or made by someone else's umask) is tightened.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Opens `path` for writing, readable by the user only (0600), creating it; `truncate`
/// empties it. An existing file keeps its mode, so it is set again.
pub fn private_file(path: &Path, truncate: bool) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options
        .read(true)
        .write(true)
        .create(true)
        .truncate(truncate);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(file)
}

/// Holds the lock file of a session directory: one Redchat per user and data directory.
#[derive(Debug)]
pub(crate) struct DirLock {
    _file: std::fs::File,
}

impl DirLock {
    /// Takes the lock of `dir`, or says who holds it.
    pub fn take(dir: &Path) -> crate::Result<DirLock> {
        private_dir(dir)
            .map_err(|e| crate::Error::Storage(format!("cannot create {}: {e}", dir.display())))?;
        let path = dir.join("lock");
        let file = private_file(&path, false)
            .map_err(|e| crate::Error::Storage(format!("cannot open {}: {e}", path.display())))?;
        match file.try_lock() {
            Ok(()) => {
                let _ = file.set_len(0);
                let _ = std::io::Write::write_all(
                    &mut &file,
                    format!("{}\n", std::process::id()).as_bytes(),
                );
                Ok(DirLock { _file: file })
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                let holder = std::fs::read_to_string(&path).unwrap_or_default();
                let holder = holder.trim();
                Err(crate::Error::AlreadyRunning(if holder.is_empty() {
                    dir.display().to_string()
                } else {
                    format!("process {holder}, {}", dir.display())
                }))
            }
            Err(std::fs::TryLockError::Error(e)) => Err(crate::Error::Storage(format!(
                "cannot lock {}: {e}",
                path.display()
            ))),
        }
    }
}

/// A file-name-safe version of `s`: ASCII letters, digits, `.`, `-`, `_`; the rest become `_`.
fn safe(s: &str) -> String {
    let out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.starts_with('.') {
        format!("_{out}")
    } else {
        out
    }
}

/// Ids already shown, bounded: the oldest are forgotten first.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    set: HashSet<String>,
    order: VecDeque<String>,
}

impl Seen {
    /// Records `id`; `false` when it was already there (a duplicate).
    pub fn insert(&mut self, id: &str) -> bool {
        if self.set.contains(id) {
            return false;
        }
        if self.order.len() == SEEN_CAPACITY
            && let Some(old) = self.order.pop_front()
        {
            self.set.remove(&old);
        }
        self.set.insert(id.to_string());
        self.order.push_back(id.to_string());
        true
    }

    fn recent(&self) -> Vec<String> {
        let skip = self.order.len().saturating_sub(PERSISTED_RECENT);
        self.order.iter().skip(skip).cloned().collect()
    }
}

/// How far each stream (inbox, sent, rooms) has been read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Cursor {
    /// Stream key → last entry id shown. A stream not here is read from where the session
    /// says (the start for one's own streams, the joining point for rooms).
    #[serde(default)]
    pub streams: BTreeMap<String, String>,
    /// Recently shown message ids.
    #[serde(default)]
    pub recent: Vec<String>,
}

/// The cursor's file, or none (memory only).
#[derive(Debug)]
pub(crate) struct CursorFile(Option<PathBuf>);

impl CursorFile {
    pub fn new(path: Option<PathBuf>) -> Self {
        CursorFile(path)
    }

    /// The saved cursor; the default when there is none or it is unreadable.
    pub fn load(&self) -> Cursor {
        let Some(path) = &self.0 else {
            return Cursor::default();
        };
        match std::fs::read(path) {
            Ok(bytes) => {
                let mut cursor: Cursor = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                    tracing::warn!("ignoring a damaged inbox cursor {}: {e}", path.display());
                    Cursor::default()
                });
                // Only a well-formed stream id may become an XREAD argument.
                cursor.streams.retain(|_, id| entry_id(id).is_some());
                cursor
            }
            Err(_) => Cursor::default(),
        }
    }

    /// Saves the cursor and recent ids (write to a temporary file, then rename).
    pub fn save(&self, streams: &BTreeMap<String, String>, seen: &Seen) {
        let Some(path) = &self.0 else { return };
        let cursor = Cursor {
            streams: streams.clone(),
            recent: seen.recent(),
        };
        let write = || -> std::io::Result<()> {
            if let Some(dir) = path.parent() {
                private_dir(dir)?;
            }
            // Synced before the rename, the directory after it: a power cut leaves the old
            // cursor or the new one, never an empty file (which would replay the inbox).
            let tmp = temp_path(path);
            let mut file = private_file(&tmp, true)?;
            std::io::Write::write_all(
                &mut file,
                &serde_json::to_vec(&cursor).map_err(std::io::Error::other)?,
            )?;
            file.sync_all()?;
            std::fs::rename(tmp, path)?;
            if let Some(dir) = path.parent() {
                crate::outbox::sync_dir(dir);
            }
            Ok(())
        };
        if let Err(e) = write() {
            tracing::warn!("could not save the inbox cursor {}: {e}", path.display());
        }
    }
}

/// A stream entry id `<ms>-<seq>` as numbers, for ordering.
pub(crate) fn entry_id(id: &str) -> Option<(u64, u64)> {
    let (ms, seq) = id.split_once('-')?;
    Some((ms.parse().ok()?, seq.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_names_are_safe_and_distinct() {
        let settings = ConnectionSettings::new("::1", 6380);
        let user = Username::parse("bob").unwrap();
        let dir = session_dir(
            Path::new("/data"),
            &settings,
            &Namespace::parse("../x").unwrap_or_default(),
            &user,
        );
        assert!(dir.starts_with("/data"));
        assert!(
            dir.components().all(|c| matches!(
                c,
                std::path::Component::Normal(_) | std::path::Component::RootDir
            )),
            "{dir:?} stays inside the data directory"
        );
        assert_eq!(
            session_dir(Path::new("/d"), &settings, &Namespace::default(), &user),
            Path::new("/d/__1-6380-db0/bob")
        );
    }

    #[test]
    fn seen_forgets_the_oldest() {
        let mut seen = Seen::default();
        assert!(seen.insert("a"));
        assert!(!seen.insert("a"));
        for i in 0..SEEN_CAPACITY {
            seen.insert(&i.to_string());
        }
        assert!(seen.insert("a"), "the oldest id was forgotten");
        assert_eq!(seen.recent().len(), PERSISTED_RECENT);
    }

    #[test]
    fn cursor_round_trips() {
        let path =
            std::env::temp_dir().join(format!("redchat-cursor-{}.json", crate::wire::new_id()));
        let file = CursorFile::new(Some(path.clone()));
        assert_eq!(file.load(), Cursor::default());
        let mut seen = Seen::default();
        seen.insert("m1");
        let streams = BTreeMap::from([("inbox".to_string(), "5-1".to_string())]);
        file.save(&streams, &seen);
        assert_eq!(
            file.load(),
            Cursor {
                streams,
                recent: vec!["m1".into()]
            }
        );
        // A damaged id never reaches XREAD.
        std::fs::write(
            &path,
            br#"{"streams":{"inbox":"0 STREAMS x","room":"7-0"},"recent":["m1"]}"#,
        )
        .unwrap();
        assert_eq!(
            file.load().streams,
            BTreeMap::from([("room".to_string(), "7-0".to_string())])
        );
        std::fs::remove_file(path).unwrap();
        assert_eq!(entry_id("1700-3"), Some((1700, 3)));
        assert!(entry_id("1700-3") > entry_id("999-9"));
        assert_eq!(entry_id("x"), None);
    }
}
