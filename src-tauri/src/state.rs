//! The app's state and what each command does, free of IPC plumbing so it reads top-down.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redchat_core::{
    ChatMessage, Code, ConnectionSettings, Contact, ConversationId, Delivery, Draft, HistoryCursor,
    HistoryPage, Identity, KeyStorage, Member, Namespace, Secret, Session, SessionConfig, Standing,
    TlsOptions, Username,
};
use serde::{Deserialize, Serialize};
use tauri::ipc::{Channel, InvokeResponseBody};

use crate::error::IpcError;
use crate::profile::{Profile, ProfileStore};
use crate::secrets::{Secrets, Storage};
use crate::stream::{self, Target};

/// Our identity, for the contact panel.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IdentityInfo {
    /// Public key (base64).
    pub key: String,
    /// Where the private key is kept.
    pub storage: KeyStorage,
}

/// Everything the commands share. Registered with `app.manage`.
pub struct AppState {
    pub(crate) profile: Box<dyn ProfileStore>,
    pub(crate) secrets: Secrets,
    /// Where sessions keep their outbox and inbox cursor; `None`: in memory only.
    data_dir: Option<PathBuf>,
    live: tokio::sync::Mutex<Option<Live>>,
}

struct Live {
    session: Session,
    target: Target,
    credit: stream::Credit,
    connected: Connected,
    /// Where this user's identity key is kept (for an import).
    home: IdentityHome,
}

/// Where one server + user's identity key lives: a keychain entry, else a file in `dir`.
#[derive(Debug, Clone)]
struct IdentityHome {
    dir: Option<PathBuf>,
    account: String,
}

/// The keychain has not answered (a prompt may be waiting for the user): connect again.
fn keychain_waiting() -> IpcError {
    IpcError::new(
        redchat_core::Code::Identity,
        "the keychain did not answer in time: if it asks whether Redchat may use it, allow it, then connect again",
    )
}

/// What the page sends to connect. `Debug` leaves out the password, also one inside the
/// connection string.
#[derive(Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectRequest {
    /// Connection string in any accepted form; may contain a password.
    pub connection: String,
    /// Username as typed.
    pub username: String,
    /// Inbox prefix, empty by default.
    #[serde(default)]
    pub namespace: String,
    /// Password typed into the password field, when the connection string has none.
    #[serde(default)]
    pub password: Option<Secret>,
    /// A CA file (PEM) trusted besides the system's.
    #[serde(default)]
    pub tls_ca: Option<String>,
    /// Client certificate (PEM) for mutual TLS.
    #[serde(default)]
    pub tls_cert: Option<String>,
    /// Its private key (PEM).
    #[serde(default)]
    pub tls_key: Option<String>,
    /// The user acknowledged that the password crosses the network unencrypted.
    #[serde(default)]
    pub allow_plain_password: bool,
    /// Durable (default) or live-only delivery.
    #[serde(default)]
    pub delivery: Delivery,
    /// Start even when the server cannot be reached now, and keep trying (the automatic
    /// connect at start-up); otherwise such errors are returned at once.
    #[serde(default)]
    pub keep_trying: bool,
    /// Tell others when we are online (default on).
    #[serde(default = "yes")]
    pub share_presence: bool,
}

impl std::fmt::Debug for ConnectRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let connection = ConnectionSettings::strip_password(&self.connection)
            .unwrap_or_else(|_| "(does not parse)".into());
        f.debug_struct("ConnectRequest")
            .field("connection", &connection)
            .field("username", &self.username)
            .field("namespace", &self.namespace)
            .field("password", &self.password)
            .field("tls_ca", &self.tls_ca)
            .field("tls_cert", &self.tls_cert)
            .field("tls_key", &self.tls_key)
            .field("allow_plain_password", &self.allow_plain_password)
            .field("delivery", &self.delivery)
            .field("keep_trying", &self.keep_trying)
            .field("share_presence", &self.share_presence)
            .finish()
    }
}

fn yes() -> bool {
    true
}

/// A room's member list, for the page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberList {
    /// Members with presence.
    pub members: Vec<Member>,
    /// Entries of the member set that are not valid names.
    pub unreadable: usize,
}

/// A live session, as the page sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Connected {
    /// Our normalised username.
    pub user: String,
    /// Our inbox channel.
    pub inbox: String,
    /// `host:port`.
    pub addr: String,
    /// Whether TLS is used.
    pub tls: bool,
    /// Notes from parsing the connection string (ignored options).
    pub notes: Vec<String>,
    /// Where the password is kept.
    pub password: Storage,
    /// Why the keychain could not be used, when it could not.
    pub keychain_problem: Option<String>,
    /// The delivery mode.
    pub delivery: Delivery,
    /// The link is up now (false after a keep-trying start while the server is away; status
    /// events follow).
    pub online: bool,
    /// Whether our presence is shared.
    pub share_presence: bool,
}

/// What the settings form starts from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileView {
    /// Saved settings (the connection string has no password).
    pub profile: Profile,
    /// A password for this connection is available (keychain or this run's memory).
    pub password_saved: bool,
    /// Why the keychain could not be used, when it could not.
    pub keychain_problem: Option<String>,
}

/// What the connection string says, for inline validation while typing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionCheck {
    /// `host:port`.
    pub addr: String,
    /// TLS on.
    pub tls: bool,
    /// ACL user, if any.
    pub user: Option<String>,
    /// The string carries a password.
    pub has_password: bool,
    /// Database number.
    pub db: i64,
    /// Ignored options and similar notes.
    pub notes: Vec<String>,
}

/// Whether `settings` may send their password: not over plain TCP to another computer unless
/// the user acknowledged that for this server (saved) or in this request.
pub(crate) fn plain_password_allowed(
    settings: &ConnectionSettings,
    profile: &Profile,
    request: &ConnectRequest,
) -> bool {
    !settings.password_in_clear()
        || request.allow_plain_password
        || profile.plain_password_ok.contains(&settings.addr())
}

/// Keychain account for a connection: `user@host:port`.
pub(crate) fn account(settings: &ConnectionSettings) -> String {
    format!(
        "{}@{}",
        settings.user.as_deref().unwrap_or("default"),
        settings.addr()
    )
}

impl AppState {
    /// State over a profile store and secrets; sessions keep their outbox and inbox cursor
    /// under `data_dir` (in memory only when `None`).
    pub fn new(
        profile: Box<dyn ProfileStore>,
        secrets: Secrets,
        data_dir: Option<PathBuf>,
    ) -> Self {
        AppState {
            profile,
            secrets,
            data_dir,
            live: tokio::sync::Mutex::new(None),
        }
    }

    /// The saved profile, and whether a password for it is at hand.
    pub async fn load_profile(&self) -> ProfileView {
        let profile = self.profile.load();
        let password_saved = match ConnectionSettings::parse(&profile.connection) {
            Ok(parsed) => self.secrets.get(&account(&parsed.settings)).await.is_some(),
            Err(_) => false,
        };
        ProfileView {
            profile,
            password_saved,
            keychain_problem: self.secrets.unavailable_reason(),
        }
    }

    /// Parses a connection string for inline feedback.
    ///
    /// # Errors
    /// `invalid_settings` with the position of the problem.
    pub fn check(connection: &str) -> Result<ConnectionCheck, IpcError> {
        let parsed = ConnectionSettings::parse(connection)?;
        let s = parsed.settings;
        Ok(ConnectionCheck {
            addr: s.addr(),
            tls: s.tls,
            user: s.user.clone(),
            has_password: s.password.is_some(),
            db: s.db,
            notes: parsed.notes,
        })
    }

    /// Connects (replacing any live session), saves the profile, keeps the password in the
    /// keychain and streams events to `channel`.
    ///
    /// # Errors
    /// Input errors before any network traffic; connection errors from the core;
    /// `password_required` when the server wants a password and none is at hand.
    pub async fn connect(
        &self,
        request: ConnectRequest,
        channel: Channel<InvokeResponseBody>,
    ) -> Result<Connected, IpcError> {
        let parsed = ConnectionSettings::parse(&request.connection)?;
        let user = Username::parse(&request.username)?;
        let namespace = Namespace::parse(&request.namespace)?;
        let mut settings = parsed.settings;
        let account = account(&settings);
        let typed = settings
            .password
            .take()
            .or_else(|| request.password.clone().filter(|p| !p.expose().is_empty()));
        let password = match &typed {
            Some(p) => Some(p.clone()),
            None => self.secrets.get(&account).await,
        };
        settings.password = password.clone();
        settings.tls_options = TlsOptions {
            server_name: settings.tls_options.server_name.take(),
            ..crate::doctor::tls_options(&request)
        };
        // Once per server: the password would go over plain TCP to another computer.
        let saved = self.profile.load();
        let addr = settings.addr();
        if !plain_password_allowed(&settings, &saved, &request) {
            return Err(IpcError::new(
                Code::PlaintextPassword,
                format!(
                    "The password for {addr} would cross the network unencrypted (plain TCP, no TLS): anyone on the way could read it. Use rediss:// if the server offers TLS, or send it unencrypted (asked once for this server)."
                ),
            ));
        }
        let mut plain_password_ok = saved.plain_password_ok;
        if settings.password_in_clear() && !plain_password_ok.contains(&addr) {
            plain_password_ok.push(addr);
        }

        // Remember the settings even if this attempt fails: a typo in the password should
        // not cost the user the host name. The password itself is never part of it.
        let connection = ConnectionSettings::strip_password(&request.connection)?;
        let profile = Profile {
            connection,
            username: user.to_string(),
            namespace: namespace.as_str().to_string(),
            delivery: request.delivery,
            share_presence: request.share_presence,
            tls_ca: request.tls_ca.clone().filter(|p| !p.is_empty()),
            tls_cert: request.tls_cert.clone().filter(|p| !p.is_empty()),
            tls_key: request.tls_key.clone().filter(|p| !p.is_empty()),
            plain_password_ok,
        };
        self.profile
            .save(&profile)
            .map_err(|m| IpcError::new(Code::SettingsStore, m))?;

        let mut live = self.live.lock().await;
        if let Some(old) = live.take() {
            old.session.shutdown(crate::SHUTDOWN_LIMIT).await;
        }
        let tls = settings.tls;
        let home = self.identity_home(&settings, &namespace, &user, &account);
        let identity = self.identity(&home).await?;
        let mut config = SessionConfig::new(settings, user);
        config.identity = Some(identity);
        config.namespace = namespace;
        config.delivery = request.delivery;
        config.data_dir = self.data_dir.clone();
        config.keep_trying = request.keep_trying;
        config.share_presence = request.share_presence;
        let (session, events) = Session::connect(config).await.map_err(|e| {
            // The error's words never hold the password (the core's rule).
            tracing::warn!("connect failed ({}): {e}", e.code());
            if e.is_auth() && password.is_none() {
                let why = match self.secrets.unavailable_reason() {
                    Some(_) => " (no system keychain is available, so it cannot be remembered)",
                    None => "",
                };
                IpcError::new(
                    Code::PasswordRequired,
                    format!("this server needs a password: enter it to connect{why}"),
                )
            } else {
                e.into()
            }
        })?;
        let storage = match (&typed, &password) {
            (Some(p), _) => self.secrets.put(&account, p).await,
            (None, Some(_)) => Storage::Keychain,
            (None, None) => Storage::None,
        };
        let connected = Connected {
            user: session.user().to_string(),
            inbox: session.inbox(),
            addr: session.addr().to_string(),
            tls,
            notes: parsed.notes,
            password: storage,
            keychain_problem: self.secrets.unavailable_reason(),
            delivery: session.delivery(),
            online: session.is_connected(),
            share_presence: session.shares_presence(),
        };
        let target: Target = Arc::new(Mutex::new(Some(channel)));
        let credit = stream::credit();
        tauri::async_runtime::spawn(stream::forward(events, target.clone(), credit.clone()));
        *live = Some(Live {
            session,
            target,
            credit,
            connected: connected.clone(),
            home,
        });
        Ok(connected)
    }

    /// Points the live session's events at a new page channel (after a reload).
    pub async fn attach(&self, channel: Channel<InvokeResponseBody>) -> Option<Connected> {
        let live = self.live.lock().await;
        let live = live.as_ref()?;
        *live.target.lock().expect("stream target lock") = Some(channel);
        stream::acknowledge(&live.credit);
        Some(Connected {
            online: live.session.is_connected(),
            ..live.connected.clone()
        })
    }

    /// The page has handled the last batch of events.
    pub async fn ack_events(&self) {
        if let Some(live) = self.live.lock().await.as_ref() {
            stream::acknowledge(&live.credit);
        }
    }

    /// Ends the live session, if any (UNSUBSCRIBE, close), bounded by `limit`.
    pub async fn shutdown(&self, limit: Duration) {
        if let Some(live) = self.live.lock().await.take() {
            live.session.shutdown(limit).await;
        }
    }

    fn identity_home(
        &self,
        settings: &ConnectionSettings,
        namespace: &Namespace,
        user: &Username,
        account: &str,
    ) -> IdentityHome {
        IdentityHome {
            dir: self
                .data_dir
                .as_ref()
                .map(|d| redchat_core::session_dir(d, settings, namespace, user)),
            account: format!("identity:{}{}@{account}", namespace.as_str(), user.as_str()),
        }
    }

    /// This user's identity key: in the keychain when it works, else in a file only the
    /// user can read (the contact panel says which).
    async fn identity(&self, home: &IdentityHome) -> Result<(Arc<Identity>, KeyStorage), IpcError> {
        let (identity, storage) = self
            .with_identity_home(home, redchat_core::identity::load_or_create)
            .await?;
        Ok((Arc::new(identity), storage))
    }

    /// Runs `f` on `home` (its directory, its keychain slot) off the async threads, bounded:
    /// a keychain that hangs (a locked one may prompt) gets `f` again with the file only.
    async fn with_identity_home<T: Send + 'static>(
        &self,
        home: &IdentityHome,
        f: impl Fn(
            Option<&std::path::Path>,
            Option<&dyn redchat_core::identity::SecretSlot>,
        ) -> redchat_core::Result<T>
        + Send
        + Sync
        + 'static,
    ) -> Result<T, IpcError> {
        let slot = self.secrets.slot(home.account.clone());
        let Some(slot) = slot else {
            // No keychain: the identity is in (or goes to) a file.
            return Ok(f(home.dir.as_deref(), None)?);
        };
        let Some(guard) = self.secrets.begin() else {
            if self.secrets.unavailable_reason().is_some() {
                return Ok(f(home.dir.as_deref(), None)?);
            }
            return Err(keychain_waiting());
        };
        let dir = home.dir.clone();
        let call = tokio::task::spawn_blocking(move || {
            let _guard = guard;
            f(dir.as_deref(), Some(&slot))
        });
        match tokio::time::timeout(crate::secrets::IDENTITY_LIMIT, call).await {
            Ok(Ok(result)) => Ok(result?),
            Ok(Err(e)) => Err(IpcError::new(
                redchat_core::Code::Internal,
                format!("loading the identity failed: {e}"),
            )),
            // No answer yet: perhaps a prompt the user has not answered. A new key in a file
            // now would change this user's identity (and again once the keychain answers).
            Err(_) => Err(keychain_waiting()),
        }
    }

    /// Our private identity key as text, for another computer of ours (secret).
    ///
    /// # Errors
    /// `not_connected`.
    pub async fn export_identity(&self) -> Result<String, IpcError> {
        let session = self.session(&*self.live.lock().await)?;
        Ok(session.export_identity().to_string())
    }

    /// Makes this computer sign as the identity in `text` (exported on another computer of
    /// ours) from the next connect on; the page reconnects.
    ///
    /// # Errors
    /// `identity` when `text` is not an identity; `not_connected`; `storage`.
    pub async fn import_identity(&self, text: &str) -> Result<IdentityInfo, IpcError> {
        let identity = Identity::import(text)?;
        let home = {
            let live = self.live.lock().await;
            live.as_ref()
                .map(|l| l.home.clone())
                .ok_or_else(|| IpcError::from(redchat_core::Error::NotConnected))?
        };
        let key = identity.public_key().to_string();
        let storage = self
            .with_identity_home(&home, move |dir, slot| {
                redchat_core::identity::store(&identity, dir, slot)
            })
            .await?;
        Ok(IdentityInfo { key, storage })
    }

    /// What we know of `user`: safety number, keys, standing.
    ///
    /// # Errors
    /// `not_connected`, `invalid_username`.
    pub async fn contact(&self, user: &str) -> Result<Contact, IpcError> {
        let session = self.session(&*self.live.lock().await)?;
        Ok(session.contact(user).await?)
    }

    /// Marks `user`'s key as compared (or not).
    ///
    /// # Errors
    /// `not_connected`, `invalid_username`, `invalid_message` (no key known).
    pub async fn mark_verified(
        &self,
        user: &str,
        verified: bool,
        key: Option<&str>,
    ) -> Result<Contact, IpcError> {
        let session = self.session(&*self.live.lock().await)?;
        Ok(session.mark_verified(user, verified, key).await?)
    }

    /// Trusts the new key `user` signs with.
    ///
    /// # Errors
    /// `not_connected`, `invalid_username`, `invalid_message` (no new key).
    pub async fn accept_new_key(&self, user: &str, key: Option<&str>) -> Result<Contact, IpcError> {
        let session = self.session(&*self.live.lock().await)?;
        Ok(session.accept_new_key(user, key).await?)
    }

    /// Accepts, blocks or un-blocks `user`.
    ///
    /// # Errors
    /// `not_connected`, `invalid_username`.
    pub async fn set_standing(&self, user: &str, standing: Standing) -> Result<(), IpcError> {
        let session = self.session(&*self.live.lock().await)?;
        Ok(session.set_standing(user, standing).await?)
    }

    /// Our public key and where the private key is kept.
    ///
    /// # Errors
    /// `not_connected`.
    pub async fn identity_info(&self) -> Result<IdentityInfo, IpcError> {
        let session = self.session(&*self.live.lock().await)?;
        Ok(IdentityInfo {
            key: session.identity_key().to_string(),
            storage: session.key_storage().clone(),
        })
    }

    /// The live session, if any (also while it reconnects).
    pub(crate) async fn current_session(&self) -> Result<Session, IpcError> {
        self.session(&*self.live.lock().await)
    }

    fn session(&self, live: &Option<Live>) -> Result<Session, IpcError> {
        live.as_ref()
            .map(|l| l.session.clone())
            .ok_or_else(|| IpcError::from(redchat_core::Error::NotConnected))
    }

    /// Puts `text` for `conversation` (`@bob`, `#team`, `~messages`; or, when absent, for the
    /// `@name` / `#room` it starts with) in the outbox and returns the message; `outgoing`
    /// events report how it went.
    ///
    /// # Errors
    /// `not_connected` without a session, input errors (`invalid_message`,
    /// `invalid_username`, `invalid_room`, `message_too_large`) or `storage` (outbox file).
    pub async fn send(
        &self,
        conversation: Option<String>,
        text: &str,
    ) -> Result<ChatMessage, IpcError> {
        let draft = match conversation {
            Some(c) => Draft::in_conversation(ConversationId::parse(&c)?, text)?,
            None => redchat_core::parse_line(text)?,
        };
        let session = self.session(&*self.live.lock().await)?;
        Ok(session.submit(draft).await?)
    }

    /// Queues a failed message again.
    ///
    /// # Errors
    /// `not_connected`, `invalid_message` (no failed message with that id), `storage`.
    pub async fn retry_message(&self, id: &str) -> Result<(), IpcError> {
        let session = self.session(&*self.live.lock().await)?;
        Ok(session.retry(id).await?)
    }

    /// Reconnects now instead of waiting for the next attempt.
    ///
    /// # Errors
    /// `not_connected` without a session.
    pub async fn retry_now(&self) -> Result<(), IpcError> {
        self.session(&*self.live.lock().await)?.retry_now();
        Ok(())
    }

    /// A page of history of `conversation` (all direct conversations when absent).
    ///
    /// # Errors
    /// `invalid_username`, `invalid_room`, `not_connected` (no session, or the link is
    /// down), `timeout`.
    pub async fn history(
        &self,
        conversation: Option<String>,
        before: Option<HistoryCursor>,
        limit: usize,
    ) -> Result<HistoryPage, IpcError> {
        let conversation = conversation
            .map(|c| ConversationId::parse(&c))
            .transpose()?;
        let session = self.session(&*self.live.lock().await)?;
        Ok(session
            .history(conversation.as_ref(), before, limit)
            .await?)
    }

    /// Joins a room (`#team`, created if new) or a raw channel (`~messages`).
    ///
    /// # Errors
    /// `invalid_room`, `not_connected`, `redis`.
    pub async fn join(&self, name: &str) -> Result<String, IpcError> {
        let session = self.session(&*self.live.lock().await)?;
        Ok(session.join(name).await?.to_string())
    }

    /// Leaves a room or channel.
    ///
    /// # Errors
    /// `invalid_room`, `not_connected`, `redis`.
    pub async fn leave(&self, conversation: &str) -> Result<(), IpcError> {
        let conversation = ConversationId::parse(conversation)?;
        let session = self.session(&*self.live.lock().await)?;
        Ok(session.leave(&conversation).await?)
    }

    /// Marks a conversation read here and on our other devices.
    ///
    /// # Errors
    /// `invalid_username`, `invalid_room`, `not_connected`.
    pub async fn mark_read(&self, conversation: &str) -> Result<(), IpcError> {
        let conversation = ConversationId::parse(conversation)?;
        self.session(&*self.live.lock().await)?
            .mark_read(&conversation);
        Ok(())
    }

    /// We are typing in `conversation` (the core sends at most one signal per 3 s).
    ///
    /// # Errors
    /// `invalid_username`, `invalid_room`, `not_connected`.
    pub async fn typing(&self, conversation: &str) -> Result<(), IpcError> {
        let conversation = ConversationId::parse(conversation)?;
        self.session(&*self.live.lock().await)?
            .typing(&conversation);
        Ok(())
    }

    /// A room's members with presence.
    ///
    /// # Errors
    /// `invalid_room`, `not_connected`, `redis`.
    pub async fn members(&self, conversation: &str) -> Result<MemberList, IpcError> {
        let conversation = ConversationId::parse(conversation)?;
        let session = self.session(&*self.live.lock().await)?;
        let (members, unreadable) = session.members(&conversation).await?;
        Ok(MemberList {
            members,
            unreadable,
        })
    }

    /// Who is online (and recently seen).
    ///
    /// # Errors
    /// `not_connected`.
    pub async fn who(&self) -> Result<Vec<Member>, IpcError> {
        let session = self.session(&*self.live.lock().await)?;
        Ok(session.who().await?)
    }
}
