//! Passwords: in the OS keychain, never in the settings file or a log.
//!
//! macOS Keychain, Windows Credential Manager and the Secret Service on Linux through the
//! `keyring` crate. A machine without one (a headless Linux box has no Secret Service) gets
//! a session-only memory cache instead: the password is asked for at connect time and
//! forgotten when the app quits, and the UI says why.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redchat_core::Secret;
use serde::Serialize;

/// Keychain service name.
pub const SERVICE: &str = "dev.redchat.desktop";
/// Bound on one keychain call (a locked keychain may prompt; a broken D-Bus may hang).
const KEYCHAIN_LIMIT: Duration = Duration::from_secs(5);

/// A place passwords can be kept across restarts.
pub trait Keychain: Send + Sync + 'static {
    /// The password for `account`, `Ok(None)` when there is none.
    ///
    /// # Errors
    /// When no keychain is usable; the text says why.
    fn get(&self, account: &str) -> Result<Option<String>, String>;
    /// Stores `password` for `account`.
    ///
    /// # Errors
    /// When no keychain is usable; the text says why.
    fn set(&self, account: &str, password: &str) -> Result<(), String>;
}

/// The operating system's keychain.
pub struct OsKeychain;

impl Keychain for OsKeychain {
    fn get(&self, account: &str) -> Result<Option<String>, String> {
        let entry = keyring::Entry::new(SERVICE, account).map_err(|e| e.to_string())?;
        match entry.get_password() {
            Ok(p) => Ok(Some(p)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    fn set(&self, account: &str, password: &str) -> Result<(), String> {
        let entry = keyring::Entry::new(SERVICE, account).map_err(|e| e.to_string())?;
        entry.set_password(password).map_err(|e| e.to_string())
    }
}

/// Where a password ended up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Storage {
    /// In the OS keychain: the next start connects without asking.
    Keychain,
    /// In memory for this run only: there is no usable keychain.
    SessionOnly,
    /// No password in use.
    None,
}

/// Keychain access with a session-only fallback.
pub struct Secrets {
    keychain: Arc<dyn Keychain>,
    session: Mutex<HashMap<String, Secret>>,
    /// Why the keychain is unusable, once we know.
    unavailable: Mutex<Option<String>>,
}

impl Secrets {
    /// Wraps `keychain`.
    pub fn new(keychain: Box<dyn Keychain>) -> Self {
        Secrets {
            keychain: Arc::from(keychain),
            session: Mutex::default(),
            unavailable: Mutex::default(),
        }
    }

    /// Why the keychain cannot be used, if a call has failed.
    pub fn unavailable_reason(&self) -> Option<String> {
        self.unavailable.lock().expect("secrets lock").clone()
    }

    async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Keychain) -> Result<T, String> + Send + 'static,
    ) -> Result<T, String> {
        let keychain = self.keychain.clone();
        let result = match tokio::time::timeout(
            KEYCHAIN_LIMIT,
            tokio::task::spawn_blocking(move || f(keychain.as_ref())),
        )
        .await
        {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => Err(format!("keychain call failed: {e}")),
            Err(_) => Err("the keychain did not answer".into()),
        };
        if let Err(e) = &result {
            *self.unavailable.lock().expect("secrets lock") = Some(e.clone());
        }
        result
    }

    /// The password for `account`: this run's cache first, then the keychain.
    pub async fn get(&self, account: &str) -> Option<Secret> {
        if let Some(s) = self.session.lock().expect("secrets lock").get(account) {
            return Some(s.clone());
        }
        let name = account.to_string();
        self.call(move |k| k.get(&name))
            .await
            .ok()
            .flatten()
            .map(Secret::new)
    }

    /// Keeps `password` for `account`: in the keychain when possible, else for this run.
    pub async fn put(&self, account: &str, password: &Secret) -> Storage {
        self.session
            .lock()
            .expect("secrets lock")
            .insert(account.to_string(), password.clone());
        let (name, value) = (account.to_string(), password.expose().to_string());
        match self.call(move |k| k.set(&name, &value)).await {
            Ok(()) => Storage::Keychain,
            Err(e) => {
                tracing::warn!(
                    "keychain unavailable, keeping the password for this session only: {e}"
                );
                Storage::SessionOnly
            }
        }
    }
}

/// One keychain entry as core's [`redchat_core::identity::SecretSlot`]: the identity key.
pub struct Slot {
    keychain: Arc<dyn Keychain>,
    account: String,
}

impl redchat_core::identity::SecretSlot for Slot {
    fn get(&self) -> Result<Option<String>, String> {
        self.keychain.get(&self.account)
    }

    fn set(&self, secret: &str) -> Result<(), String> {
        self.keychain.set(&self.account, secret)
    }
}

impl Secrets {
    /// The keychain entry `account` as a slot, unless the keychain is known not to work.
    pub fn slot(&self, account: String) -> Option<Slot> {
        if self.unavailable_reason().is_some() {
            return None;
        }
        Some(Slot {
            keychain: self.keychain.clone(),
            account,
        })
    }
}

/// Bound on loading the identity (keychain calls included).
pub const IDENTITY_LIMIT: Duration = KEYCHAIN_LIMIT;

/// A keychain in memory, for tests.
#[derive(Default)]
pub struct MemoryKeychain {
    entries: Mutex<HashMap<String, String>>,
    broken: bool,
}

impl MemoryKeychain {
    /// A keychain that fails every call, like a headless machine without Secret Service.
    pub fn broken() -> Self {
        MemoryKeychain {
            entries: Mutex::default(),
            broken: true,
        }
    }

    /// The stored password for `account`.
    pub fn stored(&self, account: &str) -> Option<String> {
        self.entries
            .lock()
            .expect("keychain lock")
            .get(account)
            .cloned()
    }
}

impl Keychain for Arc<MemoryKeychain> {
    fn get(&self, account: &str) -> Result<Option<String>, String> {
        if self.broken {
            return Err("no keychain (test)".into());
        }
        Ok(self.stored(account))
    }

    fn set(&self, account: &str, password: &str) -> Result<(), String> {
        if self.broken {
            return Err("no keychain (test)".into());
        }
        self.entries
            .lock()
            .expect("keychain lock")
            .insert(account.into(), password.into());
        Ok(())
    }
}
