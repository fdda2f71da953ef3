//! Passwords: in the OS keychain, never in the settings file or a log.
//!
//! macOS Keychain, Windows Credential Manager and the Secret Service on Linux through the
//! `keyring` crate. A machine without one (a headless Linux box has no Secret Service) gets
//! a session-only memory cache instead: the password is asked for at connect time and
//! forgotten when the app quits, and the UI says why.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redchat_core::Secret;
use serde::Serialize;

/// Keychain service name.
pub const SERVICE: &str = "dev.redchat.desktop";
/// Bound on one keychain call (a locked keychain may prompt; a broken D-Bus may hang).
const KEYCHAIN_LIMIT: Duration = Duration::from_secs(5);
/// Calls in a row that may go unanswered before the keychain counts as unusable. One slow
/// answer is a prompt the user has not answered yet (macOS asks after every update of an
/// unsigned build); a hung D-Bus never answers.
const TIMEOUTS_BEFORE_GIVING_UP: u32 = 3;

/// What a call that timed out says.
const TIMED_OUT: &str = "the keychain did not answer";

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
    /// Keychain calls in a row that timed out.
    timeouts: AtomicU32,
    /// Bound on one call ([`KEYCHAIN_LIMIT`]; tests shorten it).
    limit: Duration,
}

impl Secrets {
    /// Wraps `keychain`.
    pub fn new(keychain: Box<dyn Keychain>) -> Self {
        Secrets {
            keychain: Arc::from(keychain),
            session: Mutex::default(),
            unavailable: Mutex::default(),
            timeouts: AtomicU32::new(0),
            limit: KEYCHAIN_LIMIT,
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
            self.limit,
            tokio::task::spawn_blocking(move || f(keychain.as_ref())),
        )
        .await
        {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => Err(format!("keychain call failed: {e}")),
            Err(_) => {
                self.timed_out();
                return Err(TIMED_OUT.into());
            }
        };
        self.timeouts.store(0, Ordering::SeqCst);
        if let Err(e) = &result {
            *self.unavailable.lock().expect("secrets lock") = Some(e.clone());
        }
        result
    }

    /// A keychain call went unanswered. Only after [`TIMEOUTS_BEFORE_GIVING_UP`] in a row is
    /// the keychain given up on: until then it may be a prompt waiting for the user.
    pub fn timed_out(&self) {
        let n = self.timeouts.fetch_add(1, Ordering::SeqCst) + 1;
        if n >= TIMEOUTS_BEFORE_GIVING_UP {
            *self.unavailable.lock().expect("secrets lock") =
                Some(format!("{TIMED_OUT} ({n} times in a row)"));
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A keychain that does not answer (a prompt nobody clicks, a hung D-Bus) until the
    /// test lets it go (the runtime waits for its blocking threads when it shuts down).
    #[derive(Clone, Default)]
    struct Hanging(Arc<(Mutex<bool>, std::sync::Condvar)>);

    impl Hanging {
        fn wait(&self) {
            let (released, signal) = &*self.0;
            let mut released = released.lock().unwrap();
            while !*released {
                released = signal.wait(released).unwrap();
            }
        }

        fn release(&self) {
            *self.0.0.lock().unwrap() = true;
            self.0.1.notify_all();
        }
    }

    impl Keychain for Hanging {
        fn get(&self, _: &str) -> Result<Option<String>, String> {
            self.wait();
            Ok(None)
        }

        fn set(&self, _: &str, _: &str) -> Result<(), String> {
            self.wait();
            Ok(())
        }
    }

    // Real time: tokio's paused clock does not advance while a blocking task runs.
    #[tokio::test]
    async fn an_unanswered_keychain_prompt_is_not_taken_for_no_keychain() {
        let hanging = Hanging::default();
        let mut secrets = Secrets::new(Box::new(hanging.clone()));
        secrets.limit = Duration::from_millis(20);
        assert!(secrets.get("alice").await.is_none());
        assert_eq!(
            secrets.unavailable_reason(),
            None,
            "one slow answer may be a prompt"
        );
        assert!(secrets.slot("alice".into()).is_some());
        assert!(secrets.get("alice").await.is_none());
        assert!(secrets.get("alice").await.is_none());
        let reason = secrets.unavailable_reason().expect("given up after three");
        assert!(reason.contains("did not answer"), "{reason}");
        assert!(secrets.slot("alice".into()).is_none());
        hanging.release();
    }

    #[tokio::test]
    async fn a_keychain_error_means_no_keychain_at_once() {
        let secrets = Secrets::new(Box::new(Arc::new(MemoryKeychain::broken())));
        assert!(secrets.get("alice").await.is_none());
        assert!(secrets.unavailable_reason().is_some());
    }
}
