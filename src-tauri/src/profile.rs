//! Saved settings: connection string (without its password), username, namespace, delivery mode.
//!
//! The real app keeps them with tauri-plugin-store in `settings.json` in the app data dir
//! (`$XDG_DATA_HOME/dev.redchat.desktop/` on Linux). Passwords never go there: see
//! [`crate::secrets`].

use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

/// Connection string used when nothing is saved: the local redis-server `make run` starts.
pub const DEFAULT_CONNECTION: &str = "redis://127.0.0.1:6379";

/// What the next start remembers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Profile {
    /// Connection string with the password removed.
    pub connection: String,
    /// Normalised username; empty until the first connect.
    pub username: String,
    /// Inbox channel prefix.
    pub namespace: String,
    /// Durable (default) or live-only delivery.
    pub delivery: redchat_core::Delivery,
    /// Tell others when we are online.
    pub share_presence: bool,
    /// A CA file (PEM) trusted besides the system's, for TLS.
    pub tls_ca: Option<String>,
    /// Client certificate (PEM) for mutual TLS.
    pub tls_cert: Option<String>,
    /// Its private key (PEM).
    pub tls_key: Option<String>,
    /// Servers (`host:port`) whose plain-TCP password warning the user acknowledged.
    pub plain_password_ok: Vec<String>,
}

impl Default for Profile {
    fn default() -> Self {
        Profile {
            connection: DEFAULT_CONNECTION.into(),
            username: String::new(),
            namespace: String::new(),
            delivery: redchat_core::Delivery::Durable,
            share_presence: true,
            tls_ca: None,
            tls_cert: None,
            tls_key: None,
            plain_password_ok: Vec::new(),
        }
    }
}

/// Where a [`Profile`] is kept.
pub trait ProfileStore: Send + Sync {
    /// The saved profile, or the default one.
    fn load(&self) -> Profile;
    /// Saves `profile`.
    ///
    /// # Errors
    /// A sentence for the user when it cannot be written.
    fn save(&self, profile: &Profile) -> Result<(), String>;
}

const STORE_FILE: &str = "settings.json";
const PROFILE_KEY: &str = "profile";

/// The real store: tauri-plugin-store's `settings.json`.
pub struct PluginStore<R: tauri::Runtime> {
    store: Arc<tauri_plugin_store::Store<R>>,
    /// Finds the directory to restrict (Unix permissions only).
    #[cfg_attr(not(unix), allow(dead_code))]
    app: tauri::AppHandle<R>,
}

impl<R: tauri::Runtime> PluginStore<R> {
    /// Opens (or creates) `settings.json`.
    ///
    /// # Errors
    /// When the plugin cannot resolve or read the file.
    pub fn open(app: &tauri::AppHandle<R>) -> Result<Self, tauri_plugin_store::Error> {
        use tauri_plugin_store::StoreExt;
        Ok(PluginStore {
            store: app.store(STORE_FILE)?,
            app: app.clone(),
        })
    }
}

impl<R: tauri::Runtime> ProfileStore for PluginStore<R> {
    fn load(&self) -> Profile {
        self.store
            .get(PROFILE_KEY)
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default()
    }

    fn save(&self, profile: &Profile) -> Result<(), String> {
        let value = serde_json::to_value(profile).map_err(|e| e.to_string())?;
        self.store.set(PROFILE_KEY, value);
        self.store
            .save()
            .map_err(|e| format!("cannot save settings: {e}"))?;
        // The plugin writes with the process's default mode: make it the user's alone.
        #[cfg(unix)]
        if let Ok(dir) = tauri::Manager::path(&self.app).app_data_dir() {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
            let _ = std::fs::set_permissions(
                dir.join(STORE_FILE),
                std::fs::Permissions::from_mode(0o600),
            );
        }
        Ok(())
    }
}

/// An in-memory store, for tests and for a second window that must not write.
#[derive(Default)]
pub struct MemoryStore {
    profile: Mutex<Option<Profile>>,
}

impl MemoryStore {
    /// What was saved last, if anything.
    pub fn saved(&self) -> Option<Profile> {
        self.profile.lock().expect("profile lock").clone()
    }
}

impl ProfileStore for Arc<MemoryStore> {
    fn load(&self) -> Profile {
        self.saved().unwrap_or_default()
    }

    fn save(&self, profile: &Profile) -> Result<(), String> {
        *self.profile.lock().expect("profile lock") = Some(profile.clone());
        Ok(())
    }
}

/// The window's own preferences (theme, muted conversations), apart from the profile.
const PREFS_FILE: &str = "prefs.json";
/// Preferences kept at most, and the longest value (a mute list of many conversations).
const PREFS_MAX: usize = 64;
const PREF_VALUE_MAX: usize = 64 * 1024;

fn prefs_error(e: impl std::fmt::Display) -> crate::IpcError {
    crate::IpcError::new(
        redchat_core::Code::SettingsStore,
        format!("cannot keep the window's preferences: {e}"),
    )
}

/// Every preference kept.
///
/// # Errors
/// When `prefs.json` cannot be opened.
pub fn load_prefs<R: tauri::Runtime>(
    app: &tauri::AppHandle<R>,
) -> Result<serde_json::Map<String, serde_json::Value>, crate::IpcError> {
    use tauri_plugin_store::StoreExt;
    let store = app.store(PREFS_FILE).map_err(prefs_error)?;
    Ok(store
        .entries()
        .into_iter()
        .filter(|(k, v)| k.starts_with("redchat.") && v.is_string())
        .collect())
}

/// Keeps `key` = `value`: only `redchat.` keys, short values, a bounded number of them.
///
/// # Errors
/// A key or value out of bounds, or `prefs.json` unwritable.
pub fn save_pref<R: tauri::Runtime>(
    app: &tauri::AppHandle<R>,
    key: &str,
    value: &str,
) -> Result<(), crate::IpcError> {
    use tauri_plugin_store::StoreExt;
    if !key.starts_with("redchat.") || key.len() > 200 || value.len() > PREF_VALUE_MAX {
        return Err(crate::IpcError::new(
            redchat_core::Code::InvalidSettings,
            "not a preference of the window",
        ));
    }
    let store = app.store(PREFS_FILE).map_err(prefs_error)?;
    if !store.has(key) && store.length() >= PREFS_MAX {
        return Err(prefs_error("too many preferences"));
    }
    store.set(key, value);
    store.save().map_err(prefs_error)?;
    #[cfg(unix)]
    if let Ok(dir) = tauri::Manager::path(app).app_data_dir() {
        use std::os::unix::fs::PermissionsExt;
        let _ =
            std::fs::set_permissions(dir.join(PREFS_FILE), std::fs::Permissions::from_mode(0o600));
    }
    Ok(())
}
