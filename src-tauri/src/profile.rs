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
