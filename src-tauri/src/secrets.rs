//! Passwords: in the OS keychain, never in the settings file or a log.
//!
//! macOS Keychain, Windows Credential Manager and the Secret Service on Linux through the
//! `keyring` crate. A machine without one (a headless Linux box has no Secret Service) gets
//! a session-only memory cache instead: the password is asked for at connect time and
//! forgotten when the app quits, and the UI says why.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use std::time::Instant;

use redchat_core::Secret;
use serde::Serialize;

/// Keychain service name.
pub const SERVICE: &str = "dev.redchat.desktop";
/// Bound on one keychain call (a locked keychain may prompt; a broken D-Bus may hang).
const KEYCHAIN_LIMIT: Duration = Duration::from_secs(5);
/// How long one keychain call may stay unanswered before the keychain counts as unusable.
/// A slow answer is usually a prompt the user has not answered yet (macOS asks after every
/// update of an ad-hoc-signed build); a hung D-Bus never answers. While a call waits, no
/// other starts: they fail at once with "did not answer", and nothing falls back to a file.
const GIVE_UP_AFTER: Duration = Duration::from_secs(120);

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
    /// Since when a keychain call has been running (one at a time).
    in_flight: Arc<Mutex<Option<Instant>>>,
    /// Bound on waiting for one call ([`KEYCHAIN_LIMIT`]; tests shorten it).
    limit: Duration,
    /// [`GIVE_UP_AFTER`] (tests shorten it).
    give_up: Duration,
}

/// A keychain call in progress: the next may start once this is dropped (when the call
/// returns, however late).
pub struct InFlight(Arc<Mutex<Option<Instant>>>);

impl Drop for InFlight {
    fn drop(&mut self) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

impl Secrets {
    /// Wraps `keychain`.
    pub fn new(keychain: Box<dyn Keychain>) -> Self {
        Secrets {
            keychain: Arc::from(keychain),
            session: Mutex::default(),
            unavailable: Mutex::default(),
            in_flight: Arc::default(),
            limit: KEYCHAIN_LIMIT,
            give_up: GIVE_UP_AFTER,
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
        if let Some(reason) = self.unavailable_reason() {
            return Err(reason);
        }
        let Some(guard) = self.begin() else {
            return Err(TIMED_OUT.into());
        };
        let keychain = self.keychain.clone();
        let result = match tokio::time::timeout(
            self.limit,
            tokio::task::spawn_blocking(move || {
                let _guard = guard;
                f(keychain.as_ref())
            }),
        )
        .await
        {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => Err(format!("keychain call failed: {e}")),
            Err(_) => return Err(TIMED_OUT.into()),
        };
        if let Err(e) = &result {
            *self.unavailable.lock().expect("secrets lock") = Some(e.clone());
        }
        result
    }

    /// Starts a keychain call, unless one is still running (a prompt may be waiting): then
    /// `None`, and after [`GIVE_UP_AFTER`] of waiting the keychain counts as unusable.
    pub fn begin(&self) -> Option<InFlight> {
        let mut since = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        match *since {
            Some(t) if t.elapsed() >= self.give_up => {
                *self.unavailable.lock().expect("secrets lock") =
                    Some(format!("{TIMED_OUT} for {} s", t.elapsed().as_secs()));
                None
            }
            Some(_) => None,
            None => {
                *since = Some(Instant::now());
                Some(InFlight(Arc::clone(&self.in_flight)))
            }
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

    /// Lets the hanging keychain go when the test ends, even when an assertion fails.
    struct Release(Hanging);

    impl Drop for Release {
        fn drop(&mut self) {
            self.0.release();
        }
    }

    // Real time: tokio's paused clock does not advance while a blocking task runs.
    #[tokio::test]
    async fn an_unanswered_keychain_prompt_is_not_taken_for_no_keychain() {
        let hanging = Hanging::default();
        let _release = Release(hanging.clone());
        let mut secrets = Secrets::new(Box::new(hanging.clone()));
        secrets.limit = Duration::from_millis(20);
        secrets.give_up = Duration::from_millis(300);
        assert!(secrets.get("alice").await.is_none());
        assert_eq!(
            secrets.unavailable_reason(),
            None,
            "a slow answer may be a prompt"
        );
        // While it waits, nothing else starts (so nothing falls back to a new identity file).
        assert!(secrets.begin().is_none());
        assert!(secrets.get("alice").await.is_none());
        assert!(secrets.slot("alice".into()).is_some());
        assert_eq!(secrets.unavailable_reason(), None);
        // Unanswered for longer than the give-up time: a hung keychain.
        tokio::time::sleep(Duration::from_millis(350)).await;
        assert!(secrets.begin().is_none());
        let reason = secrets.unavailable_reason().expect("given up");
        assert!(reason.contains("did not answer"), "{reason}");
        assert!(secrets.slot("alice".into()).is_none());
    }

    #[tokio::test]
    async fn a_keychain_that_answers_after_a_prompt_is_used() {
        let hanging = Hanging::default();
        let _release = Release(hanging.clone());
        let mut secrets = Secrets::new(Box::new(hanging.clone()));
        secrets.limit = Duration::from_millis(20);
        assert!(secrets.get("alice").await.is_none());
        hanging.release();
        // The first call returns (the user allowed it): the next one runs.
        let deadline = Instant::now() + Duration::from_secs(10);
        while secrets.begin().is_none() {
            assert!(Instant::now() < deadline, "the call never finished");
            tokio::task::yield_now().await;
        }
        assert_eq!(secrets.unavailable_reason(), None);
    }

    #[tokio::test]
    async fn a_keychain_error_means_no_keychain_at_once() {
        let secrets = Secrets::new(Box::new(Arc::new(MemoryKeychain::broken())));
        assert!(secrets.get("alice").await.is_none());
        assert!(secrets.unavailable_reason().is_some());
    }
}
