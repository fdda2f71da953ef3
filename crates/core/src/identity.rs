//! Who wrote a message: one Ed25519 identity key per user, signatures over a canonical
//! encoding of what a message claims, and safety numbers.
//!
//! A signed message carries `Key` (the signer's public key, base64) and `Sig` (base64) on the
//! wire, beside the original client's fields. The signature covers, length-prefixed and in
//! this order: a domain tag, the kind (`chat`, `member`), the sender (normalised), the target
//! (`@bob` or `#team`), the content (the member action for a membership change), the message
//! id, the sending time in microseconds and the key. A copy re-published under another id,
//! into another conversation, or with other content therefore fails verification.
//!
//! The key is per *user*: a second device imports it (`redchat identity --export` /
//! `--import`) rather than getting a key of its own, so receivers see one key per person and
//! a new key is always announced as a change (see `docs/security.md`).
//!
//! The private key lives in the OS keychain when the app has one, else in `identity.key`
//! (mode 0600) in the session's data directory; [`KeyStorage`] says which, for the UI.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha512};
use zeroize::Zeroizing;

/// Domain separation: a Redchat signature never verifies as anything else.
const DOMAIN: &[u8] = b"redchat-signature-v1";
/// Longest `Key` or `Sig` field we look at, in characters.
pub const MAX_SIGNATURE_FIELD: usize = 128;
/// Iterations of the safety-number hash (as Signal's numeric fingerprints do).
const SAFETY_ITERATIONS: usize = 5_200;

/// What a signature covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim<'a> {
    /// `chat` or `member`.
    pub kind: &'a str,
    /// The sender, normalised.
    pub sender: &'a str,
    /// `@recipient` or `#room`.
    pub target: &'a str,
    /// The text (chat) or the action (`join`, `leave`).
    pub content: &'a str,
    /// The message id.
    pub id: &'a str,
    /// Sending time, microseconds since the epoch.
    pub sent_at_micros: i64,
    /// The signer's public key (base64, as on the wire).
    pub key: &'a str,
}

impl Claim<'_> {
    /// The bytes signed: every field length-prefixed, so no two claims encode alike.
    pub fn canonical(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            DOMAIN.len() + 64 + self.content.len() + self.sender.len() + self.target.len(),
        );
        let mut field = |bytes: &[u8]| {
            out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
            out.extend_from_slice(bytes);
        };
        field(DOMAIN);
        field(self.kind.as_bytes());
        field(self.sender.as_bytes());
        field(self.target.as_bytes());
        field(self.content.as_bytes());
        field(self.id.as_bytes());
        field(&self.sent_at_micros.to_be_bytes());
        field(self.key.as_bytes());
        out
    }

    /// Whether `signature` (base64) is a valid signature of this claim by `self.key`.
    /// Strict verification: malleable or small-order encodings are refused.
    pub fn verify(&self, signature: &str) -> bool {
        let Some(key) = public_key(self.key) else {
            return false;
        };
        if signature.len() > MAX_SIGNATURE_FIELD {
            return false;
        }
        let Ok(bytes) = B64.decode(signature) else {
            return false;
        };
        let Ok(bytes) = <[u8; 64]>::try_from(bytes.as_slice()) else {
            return false;
        };
        key.verify_strict(&self.canonical(), &Signature::from_bytes(&bytes))
            .is_ok()
    }
}

/// A public key from its base64 form, if it is one.
fn public_key(text: &str) -> Option<VerifyingKey> {
    if text.len() > MAX_SIGNATURE_FIELD {
        return None;
    }
    let bytes = B64.decode(text).ok()?;
    VerifyingKey::from_bytes(&<[u8; 32]>::try_from(bytes.as_slice()).ok()?).ok()
}

/// Whether `text` is a well-formed public key.
pub fn is_public_key(text: &str) -> bool {
    public_key(text).is_some()
}

/// A user's identity: the signing key.
pub struct Identity {
    key: SigningKey,
    public: String,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the private half.
        f.debug_struct("Identity")
            .field("public", &self.public)
            .finish()
    }
}

impl Identity {
    /// A new random identity.
    ///
    /// # Panics
    /// When the OS has no randomness to give (nothing sensible can go on then).
    pub fn generate() -> Identity {
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::fill(seed.as_mut()).expect("the OS random number generator is available");
        Identity::from_seed(&seed)
    }

    fn from_seed(seed: &[u8; 32]) -> Identity {
        let key = SigningKey::from_bytes(seed);
        let public = B64.encode(key.verifying_key().as_bytes());
        Identity { key, public }
    }

    /// An identity from its exported form ([`Identity::export`]).
    ///
    /// # Errors
    /// [`crate::Error::Identity`] when `text` is not an exported Redchat identity.
    pub fn import(text: &str) -> crate::Result<Identity> {
        let text = text.trim();
        let body = text.strip_prefix("redchat-identity-v1:").ok_or_else(|| {
            crate::Error::Identity(
                "not a Redchat identity (it starts with \"redchat-identity-v1:\")".into(),
            )
        })?;
        let bytes = Zeroizing::new(
            B64.decode(body)
                .map_err(|_| crate::Error::Identity("the identity is damaged (base64)".into()))?,
        );
        let seed = <[u8; 32]>::try_from(bytes.as_slice())
            .map_err(|_| crate::Error::Identity("the identity is damaged (length)".into()))?;
        let seed = Zeroizing::new(seed);
        Ok(Identity::from_seed(&seed))
    }

    /// The private key as text, to move it to another device. Secret: never log it.
    pub fn export(&self) -> Zeroizing<String> {
        Zeroizing::new(format!(
            "redchat-identity-v1:{}",
            B64.encode(self.key.to_bytes())
        ))
    }

    /// The public key (base64), as it goes on the wire.
    pub fn public_key(&self) -> &str {
        &self.public
    }

    /// Signs `claim` (whose `key` must be ours); base64.
    pub fn sign(&self, claim: &Claim<'_>) -> String {
        debug_assert_eq!(claim.key, self.public);
        B64.encode(self.key.sign(&claim.canonical()).to_bytes())
    }
}

/// Where the private key is kept, for the UI to say.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum KeyStorage {
    /// In the OS keychain.
    Keychain,
    /// In a file only this user can read (no keychain on this machine).
    File {
        /// The file.
        path: PathBuf,
    },
    /// In memory only (no data directory): a new key every run.
    Memory,
}

/// A place that keeps one secret (the app's OS keychain).
pub trait SecretSlot: Send + Sync {
    /// The secret, if one is stored.
    ///
    /// # Errors
    /// Why the keychain cannot be used.
    fn get(&self) -> Result<Option<String>, String>;
    /// Stores the secret.
    ///
    /// # Errors
    /// Why the keychain cannot be used.
    fn set(&self, secret: &str) -> Result<(), String>;
}

/// The identity file's name in a session directory.
pub const IDENTITY_FILE: &str = "identity.key";

/// Loads this user's identity, creating one the first time: from `keychain` when given and
/// usable, else from `identity.key` in `dir` (created readable by the user alone). A key
/// found in the file while a keychain works moves into the keychain (the file is removed).
///
/// # Errors
/// [`crate::Error::Identity`] when the file exists but is damaged (it is never replaced:
/// that would change the user's identity), or [`crate::Error::Storage`] when it cannot be
/// written.
pub fn load_or_create(
    dir: Option<&Path>,
    keychain: Option<&dyn SecretSlot>,
) -> crate::Result<(Identity, KeyStorage)> {
    let file = dir.map(|d| d.join(IDENTITY_FILE));
    if let Some(slot) = keychain {
        match slot.get() {
            Ok(Some(text)) => return Ok((Identity::import(&text)?, KeyStorage::Keychain)),
            Ok(None) => {
                let identity = match file.as_deref().map(read_file).transpose()? {
                    Some(Some(found)) => found,
                    _ => Identity::generate(),
                };
                // Into the keychain (the file goes), or where `store` falls back to.
                let storage = store(&identity, dir, Some(slot))?;
                return Ok((identity, storage));
            }
            Err(e) => tracing::info!("no keychain for the identity ({e}); using a file"),
        }
    }
    let Some(path) = file else {
        return Ok((Identity::generate(), KeyStorage::Memory));
    };
    match read_file(&path)? {
        Some(identity) => Ok((identity, KeyStorage::File { path })),
        None => create_file(&path),
    }
}

/// A new identity in `path`, unless another process created one first: then that one (two
/// first runs at once must end up with one key, not each with a key the other overwrote).
fn create_file(path: &Path) -> crate::Result<(Identity, KeyStorage)> {
    let identity = Identity::generate();
    let created = write_private_new(path, identity.export().as_bytes())
        .map_err(|e| crate::Error::Storage(format!("cannot save {}: {e}", path.display())))?;
    if created {
        return Ok((identity, KeyStorage::File { path: path.into() }));
    }
    match read_file(path)? {
        Some(theirs) => Ok((theirs, KeyStorage::File { path: path.into() })),
        None => Err(crate::Error::Storage(format!(
            "{} vanished while it was being created",
            path.display()
        ))),
    }
}

/// Replaces the stored identity with `identity` (an import), where [`load_or_create`] keeps it.
///
/// # Errors
/// [`crate::Error::Storage`] when it cannot be written.
pub fn store(
    identity: &Identity,
    dir: Option<&Path>,
    keychain: Option<&dyn SecretSlot>,
) -> crate::Result<KeyStorage> {
    if let Some(slot) = keychain {
        match slot.set(&identity.export()) {
            Ok(()) => {
                if let Some(d) = dir {
                    let _ = std::fs::remove_file(d.join(IDENTITY_FILE));
                }
                return Ok(KeyStorage::Keychain);
            }
            Err(e) => {
                tracing::info!("the keychain does not store the identity ({e}); using a file")
            }
        }
    }
    let Some(dir) = dir else {
        return Ok(KeyStorage::Memory);
    };
    let path = dir.join(IDENTITY_FILE);
    write_private(&path, identity.export().as_bytes())
        .map_err(|e| crate::Error::Storage(format!("cannot save {}: {e}", path.display())))?;
    Ok(KeyStorage::File { path })
}

fn read_file(path: &Path) -> crate::Result<Option<Identity>> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            // Readable by others (copied by hand, a umask): make it the user's alone again.
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                if let Ok(meta) = std::fs::metadata(path)
                    && meta.permissions().mode() & 0o077 != 0
                {
                    tracing::warn!("{} was readable by others: now 0600", path.display());
                    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
                }
            }
            let text = Zeroizing::new(text);
            Identity::import(&text)
                .map(Some)
                .map_err(|e| crate::Error::Identity(format!("{}: {e}", path.display())))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(crate::Error::Storage(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

/// Writes `bytes` to `path` through a temporary file unique to this writer, readable and
/// writable by the user alone (0600 on Unix), synced before the rename.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_private_as(path, bytes, Place::Replace).map(|_| ())
}

/// Like [`write_private`], but never replaces an existing file: `false` when `path` exists.
fn write_private_new(path: &Path, bytes: &[u8]) -> std::io::Result<bool> {
    write_private_as(path, bytes, Place::CreateOnly)
}

/// How the temporary file takes the final name.
#[derive(Clone, Copy)]
enum Place {
    /// Rename over whatever is there.
    Replace,
    /// Hard-link into place, which fails if the name is taken.
    CreateOnly,
}

/// Writes through a unique 0600 temporary file; `false` when `CreateOnly` found the name
/// taken.
fn write_private_as(path: &Path, bytes: &[u8], place: Place) -> std::io::Result<bool> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    crate::store::private_dir(dir)?;
    let tmp = crate::store::temp_path(path);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let result = (|| {
        let mut file = options.open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        match place {
            Place::Replace => std::fs::rename(&tmp, path).map(|()| true),
            Place::CreateOnly => match std::fs::hard_link(&tmp, path) {
                Ok(()) => Ok(true),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
                Err(e) => Err(e),
            },
        }
    })();
    // After a rename the temporary name is gone already; after a link (or an error) it
    // is removed here.
    let _ = std::fs::remove_file(&tmp);
    if result.as_ref().is_ok_and(|written| *written) {
        crate::outbox::sync_dir(dir);
    }
    result
}

/// The safety number of two users' keys: 60 digits, the same on both sides (each half is
/// one user's fingerprint; the halves are ordered). Users compare it out of band.
pub fn safety_number(a_user: &str, a_key: &str, b_user: &str, b_key: &str) -> String {
    let mut halves = [fingerprint(a_user, a_key), fingerprint(b_user, b_key)];
    halves.sort();
    halves.concat()
}

/// 30 digits identifying `user`'s `key`.
fn fingerprint(user: &str, key: &str) -> String {
    let mut hash = Sha512::new()
        .chain_update(0u16.to_be_bytes())
        .chain_update(key.as_bytes())
        .chain_update(user.as_bytes())
        .finalize();
    for _ in 1..SAFETY_ITERATIONS {
        hash = Sha512::new()
            .chain_update(hash)
            .chain_update(key.as_bytes())
            .finalize();
    }
    hash.chunks(5)
        .take(6)
        .map(|chunk| {
            let n = chunk.iter().fold(0u64, |n, b| (n << 8) | u64::from(*b));
            format!("{:05}", n % 100_000)
        })
        .collect()
}

/// A safety number in groups of five digits, for people to read.
pub fn grouped(number: &str) -> String {
    number
        .as_bytes()
        .chunks(5)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim<'a>(key: &'a str, content: &'a str, id: &'a str) -> Claim<'a> {
        Claim {
            kind: "chat",
            sender: "alice",
            target: "@bob",
            content,
            id,
            sent_at_micros: 1_700_000_000_000_000,
            key,
        }
    }

    #[test]
    fn a_signature_verifies_only_what_was_signed() {
        let me = Identity::generate();
        let sig = me.sign(&claim(me.public_key(), "@bob hi", "id-1"));
        assert!(claim(me.public_key(), "@bob hi", "id-1").verify(&sig));
        assert!(!claim(me.public_key(), "@bob hi!", "id-1").verify(&sig));
        assert!(!claim(me.public_key(), "@bob hi", "id-2").verify(&sig));
        let mut other_target = claim(me.public_key(), "@bob hi", "id-1");
        other_target.target = "@carol";
        assert!(!other_target.verify(&sig));
        let other = Identity::generate();
        assert!(!claim(other.public_key(), "@bob hi", "id-1").verify(&sig));
        assert!(!claim(me.public_key(), "@bob hi", "id-1").verify("garbage"));
        assert!(!claim("not a key", "@bob hi", "id-1").verify(&sig));
    }

    #[test]
    fn fields_cannot_slide_into_each_other() {
        let a = Claim {
            sender: "ab",
            target: "@c",
            ..claim("k", "x", "1")
        };
        let b = Claim {
            sender: "a",
            target: "b@c",
            ..claim("k", "x", "1")
        };
        assert_ne!(a.canonical(), b.canonical());
    }

    #[test]
    fn export_and_import_keep_the_key() {
        let me = Identity::generate();
        let again = Identity::import(&me.export()).unwrap();
        assert_eq!(me.public_key(), again.public_key());
        assert!(Identity::import("redchat-identity-v1:AAAA").is_err());
        assert!(Identity::import("hello").is_err());
        assert!(!format!("{me:?}").contains(&me.export()[20..]));
    }

    #[test]
    fn safety_numbers_match_on_both_sides() {
        let (a, b) = (Identity::generate(), Identity::generate());
        let ab = safety_number("alice", a.public_key(), "bob", b.public_key());
        let ba = safety_number("bob", b.public_key(), "alice", a.public_key());
        assert_eq!(ab, ba);
        assert_eq!(ab.len(), 60);
        assert!(ab.bytes().all(|c| c.is_ascii_digit()));
        let c = Identity::generate();
        assert_ne!(
            ab,
            safety_number("alice", a.public_key(), "bob", c.public_key())
        );
        assert_eq!(grouped(&ab).split(' ').count(), 12);
    }

    #[test]
    fn two_first_runs_at_once_end_up_with_one_key() {
        let dir = std::env::temp_dir().join(format!("redchat-id-race-{}", crate::wire::new_id()));
        let keys: Vec<String> = std::thread::scope(|scope| {
            let runs: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| load_or_create(Some(&dir), None).unwrap().0))
                .collect();
            runs.into_iter()
                .map(|r| r.join().unwrap().public_key().to_string())
                .collect()
        });
        assert!(keys.iter().all(|k| *k == keys[0]), "{keys:?}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn the_identity_file_is_readable_by_the_user_alone() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("redchat-id-{}", crate::wire::new_id()));
        let (first, storage) = load_or_create(Some(&dir), None).unwrap();
        let KeyStorage::File { path } = storage else {
            panic!("expected a file")
        };
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let (again, _) = load_or_create(Some(&dir), None).unwrap();
        assert_eq!(first.public_key(), again.public_key());
        // Loosened permissions are repaired on the next load.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let (third, _) = load_or_create(Some(&dir), None).unwrap();
        assert_eq!(third.public_key(), first.public_key());
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::write(&path, "damaged").unwrap();
        assert!(matches!(
            load_or_create(Some(&dir), None),
            Err(crate::Error::Identity(_))
        ));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
