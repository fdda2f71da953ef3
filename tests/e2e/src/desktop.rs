//! The desktop around the app, for tests: a private D-Bus session, a notification server on
//! it that records every `org.freedesktop.Notifications.Notify` call, and a real Secret
//! Service (gnome-keyring-daemon) on it.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// A session bus that lets everyone talk to everyone, and activates nothing.
const BUS_CONFIG: &str = r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:tmpdir=/tmp</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#;

/// A private session bus (`dbus-daemon`), killed on drop.
pub struct DbusSession {
    child: Child,
    /// Its address, for `DBUS_SESSION_BUS_ADDRESS`.
    pub address: String,
}

impl DbusSession {
    /// Starts one.
    ///
    /// # Panics
    /// Without `dbus-daemon` (Debian: `dbus-daemon`).
    pub fn start() -> DbusSession {
        // No service directories: nothing is started on demand (a keychain, the accessibility
        // bus), so a test has exactly the services it starts itself.
        let config = std::env::temp_dir().join(format!(
            "redchat-e2e-bus-{}-{}.conf",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        ));
        std::fs::write(&config, BUS_CONFIG).expect("bus config");
        let mut child = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--print-address=1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon not found: apt-get install dbus-daemon");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("dbus-daemon address");
        let address = line.trim().to_string();
        assert!(!address.is_empty(), "dbus-daemon printed no address");
        DbusSession { child, address }
    }
}

impl DbusSession {
    /// Waits until nobody owns `name` (an app on this bus has exited).
    ///
    /// # Panics
    /// After `limit`.
    pub fn wait_released(&self, name: &str, limit: Duration) {
        let connection = zbus::blocking::connection::Builder::address(self.address.as_str())
            .expect("bus address")
            .build()
            .expect("bus");
        let proxy = zbus::blocking::fdo::DBusProxy::new(&connection).expect("DBus proxy");
        let bus_name = zbus::names::BusName::try_from(name).expect("bus name");
        let deadline = Instant::now() + limit;
        while proxy.name_has_owner(bus_name.clone()).unwrap_or(false) {
            assert!(Instant::now() < deadline, "{name} still owned");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for DbusSession {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One `Notify` call as the desktop received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub app_name: String,
    pub summary: String,
    pub body: String,
    /// The actions offered (key, label, key, label…); `default` is a click on it.
    pub actions: Vec<String>,
    /// The id the server gave it.
    pub id: u32,
}

struct Server {
    seen: Arc<Mutex<Vec<Notification>>>,
    next: u32,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Server {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &mut self,
        app_name: String,
        _replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        actions: Vec<String>,
        _hints: std::collections::HashMap<String, zbus::zvariant::OwnedValue>,
        _expire_timeout: i32,
    ) -> u32 {
        self.next += 1;
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Notification {
                app_name,
                summary,
                body,
                actions,
                id: self.next,
            });
        self.next
    }

    fn get_capabilities(&self) -> Vec<String> {
        // As GNOME, KDE and dunst do: bodies are read as markup.
        vec!["body".into(), "body-markup".into(), "actions".into()]
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        (
            "redchat-test".into(),
            "redchat".into(),
            "1".into(),
            "1.2".into(),
        )
    }

    fn close_notification(&self, _id: u32) {}
}

/// A notification server on a [`DbusSession`]: what the app showed.
pub struct NotificationServer {
    connection: zbus::blocking::Connection,
    seen: Arc<Mutex<Vec<Notification>>>,
}

impl NotificationServer {
    /// Owns `org.freedesktop.Notifications` on `bus`.
    ///
    /// # Panics
    /// When the bus refuses.
    pub fn start(bus: &DbusSession) -> NotificationServer {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let server = Server {
            seen: Arc::clone(&seen),
            next: 0,
        };
        let connection = zbus::blocking::connection::Builder::address(bus.address.as_str())
            .expect("bus address")
            .name("org.freedesktop.Notifications")
            .expect("name")
            .serve_at("/org/freedesktop/Notifications", server)
            .expect("serve")
            .build()
            .expect("notification server on the test bus");
        NotificationServer { connection, seen }
    }

    /// Everything received so far.
    pub fn seen(&self) -> Vec<Notification> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Clicks `notification`, as the desktop reports it: the `default` action invoked.
    ///
    /// # Panics
    /// When the signal cannot be sent.
    pub fn click(&self, notification: &Notification) {
        self.connection
            .emit_signal(
                None::<&str>,
                "/org/freedesktop/Notifications",
                "org.freedesktop.Notifications",
                "ActionInvoked",
                &(notification.id, "default"),
            )
            .expect("ActionInvoked");
    }

    /// Waits until at least `n` notifications arrived, returning them all.
    ///
    /// # Panics
    /// After `limit`.
    pub fn wait_for(&self, n: usize, limit: Duration) -> Vec<Notification> {
        let deadline = Instant::now() + limit;
        loop {
            let seen = self.seen();
            if seen.len() >= n {
                return seen;
            }
            assert!(
                Instant::now() < deadline,
                "expected {n} notifications, got {seen:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// gnome-keyring-daemon (secrets component, unlocked) on a [`DbusSession`], with its keyring
/// files under `home`; killed on drop.
pub struct Keyring {
    child: Option<u32>,
}

impl Keyring {
    /// Starts it.
    ///
    /// # Panics
    /// Without `gnome-keyring-daemon` (Debian: `gnome-keyring`).
    pub fn start(bus: &DbusSession, home: &Path) -> Keyring {
        let runtime = home.join("runtime");
        std::fs::create_dir_all(&runtime).expect("runtime dir");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700));
        }
        let mut child = Command::new("gnome-keyring-daemon")
            .args(["--unlock", "--components=secrets", "--daemonize"])
            .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
            .env("HOME", home)
            .env("XDG_DATA_HOME", home.join("data"))
            .env("XDG_RUNTIME_DIR", &runtime)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("gnome-keyring-daemon not found: apt-get install gnome-keyring");
        // The login keyring's password, then EOF.
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(b"test-keyring-password\n")
            .expect("unlock password");
        let mut out = String::new();
        std::io::Read::read_to_string(&mut child.stdout.take().expect("stdout"), &mut out)
            .expect("daemon output");
        let _ = child.wait();
        // `GNOME_KEYRING_CONTROL=…` and `SSH_AUTH_SOCK=…`; the daemon's pid is not printed with
        // --daemonize, so it is found by the bus name's owner.
        let pid = owner_pid(bus, "org.freedesktop.secrets");
        Keyring { child: pid }
    }
}

/// The pid owning `name` on `bus`, once it is owned (waits a little).
fn owner_pid(bus: &DbusSession, name: &str) -> Option<u32> {
    let connection = zbus::blocking::connection::Builder::address(bus.address.as_str())
        .ok()?
        .build()
        .ok()?;
    let proxy = zbus::blocking::fdo::DBusProxy::new(&connection).ok()?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let bus_name = zbus::names::BusName::try_from(name).ok()?;
        if let Ok(pid) = proxy.get_connection_unix_process_id(bus_name) {
            return Some(pid);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Drop for Keyring {
    fn drop(&mut self) {
        if let Some(pid) = self.child {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
    }
}

/// Another application's window (ImageMagick's `display`), to move the keyboard focus away
/// from Redchat; closed on drop.
pub struct OtherWindow {
    child: Child,
    id: String,
}

impl OtherWindow {
    /// Opens it, off the visible screen (mapped, so it can take the focus).
    ///
    /// # Panics
    /// Without `display` (imagemagick) or `xdotool`.
    pub fn open() -> OtherWindow {
        let title = format!("redchat-e2e-other-{}", std::process::id());
        let child = Command::new("display")
            .args([
                "-size",
                "120x80",
                "-geometry",
                "+1100+680",
                "-title",
                &title,
                "xc:gray",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("display not found: apt-get install imagemagick");
        let out = Command::new("xdotool")
            .args([
                "search",
                "--sync",
                "--onlyvisible",
                "--name",
                &format!("^{title}$"),
            ])
            .output()
            .expect("xdotool not found: apt-get install xdotool");
        let id = String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .expect("the other window")
            .to_string();
        // Off the visible screen (display keeps its window on screen by itself).
        xdotool(&["windowmove", &id, "5000", "5000"]);
        OtherWindow { child, id }
    }

    /// Gives it the keyboard focus (Redchat loses it).
    pub fn focus(&self) {
        xdotool(&["windowfocus", "--sync", &self.id]);
    }
}

impl Drop for OtherWindow {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Gives Redchat's window (the only one on the display) the keyboard focus.
pub fn focus_redchat() {
    let out = Command::new("xdotool")
        .args(["search", "--sync", "--onlyvisible", "--class", "redchat"])
        .output()
        .expect("xdotool not found: apt-get install xdotool");
    let text = String::from_utf8_lossy(&out.stdout);
    let id = text.lines().next().expect("Redchat's window");
    xdotool(&["windowfocus", "--sync", id]);
}

fn xdotool(args: &[&str]) {
    let status = Command::new("xdotool")
        .args(args)
        .status()
        .expect("xdotool not found: apt-get install xdotool");
    assert!(status.success(), "xdotool {args:?} failed");
}

/// A StatusNotifierWatcher on a [`DbusSession`]: what a desktop panel runs to show tray icons.
/// The app's tray icon (libayatana-appindicator) registers with it; the test then reads the
/// icon's properties and clicks its menu over D-Bus, as the panel would.
pub struct TrayHost {
    connection: zbus::blocking::Connection,
    items: Arc<Mutex<Vec<(String, String)>>>,
}

struct Watcher {
    items: Arc<Mutex<Vec<(String, String)>>>,
}

#[zbus::interface(name = "org.kde.StatusNotifierWatcher")]
impl Watcher {
    fn register_status_notifier_item(
        &mut self,
        service: String,
        #[zbus(header)] header: zbus::message::Header<'_>,
    ) {
        let sender = header.sender().map(ToString::to_string).unwrap_or_default();
        self.items
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((sender, service));
    }

    fn register_status_notifier_host(&mut self, _service: String) {}

    #[zbus(property)]
    fn registered_status_notifier_items(&self) -> Vec<String> {
        self.items
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(_, s)| s.clone())
            .collect()
    }

    #[zbus(property)]
    fn is_status_notifier_host_registered(&self) -> bool {
        true
    }

    #[zbus(property)]
    fn protocol_version(&self) -> i32 {
        0
    }
}

/// A registered tray icon: its bus name and object path.
#[derive(Debug, Clone)]
pub struct TrayItem {
    pub name: String,
    pub path: String,
}

/// One dbusmenu layout node: id, properties, children.
type Layout = (
    i32,
    std::collections::HashMap<String, zbus::zvariant::OwnedValue>,
    Vec<zbus::zvariant::OwnedValue>,
);

impl TrayHost {
    /// Owns `org.kde.StatusNotifierWatcher` on `bus`.
    ///
    /// # Panics
    /// When the bus refuses.
    pub fn start(bus: &DbusSession) -> TrayHost {
        let items = Arc::new(Mutex::new(Vec::new()));
        let connection = zbus::blocking::connection::Builder::address(bus.address.as_str())
            .expect("bus address")
            .name("org.kde.StatusNotifierWatcher")
            .expect("name")
            .serve_at(
                "/StatusNotifierWatcher",
                Watcher {
                    items: Arc::clone(&items),
                },
            )
            .expect("serve")
            .build()
            .expect("tray host on the test bus");
        TrayHost { connection, items }
    }

    /// The first tray icon to register.
    ///
    /// # Panics
    /// When none registers within `limit`.
    pub fn wait_item(&self, limit: Duration) -> TrayItem {
        let deadline = Instant::now() + limit;
        loop {
            if let Some((sender, service)) = self
                .items
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .first()
                .cloned()
            {
                return if service.starts_with('/') {
                    TrayItem {
                        name: sender,
                        path: service,
                    }
                } else {
                    TrayItem {
                        name: service,
                        path: "/StatusNotifierItem".into(),
                    }
                };
            }
            assert!(Instant::now() < deadline, "no tray icon registered");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A property of the icon (`org.kde.StatusNotifierItem`).
    ///
    /// # Panics
    /// When the icon does not answer.
    pub fn property(&self, item: &TrayItem, name: &str) -> zbus::zvariant::OwnedValue {
        let proxy = zbus::blocking::fdo::PropertiesProxy::builder(&self.connection)
            .destination(item.name.as_str())
            .expect("destination")
            .path(item.path.as_str())
            .expect("path")
            .build()
            .expect("properties proxy");
        proxy
            .get(
                zbus::names::InterfaceName::try_from("org.kde.StatusNotifierItem")
                    .expect("interface"),
                name,
            )
            .unwrap_or_else(|e| panic!("tray property {name}: {e}"))
    }

    /// The icon's menu entries: (id, label).
    ///
    /// # Panics
    /// When the menu does not answer.
    pub fn menu(&self, item: &TrayItem) -> Vec<(i32, String)> {
        let path = self.menu_path(item);
        let reply = self
            .connection
            .call_method(
                Some(item.name.as_str()),
                path.as_str(),
                Some("com.canonical.dbusmenu"),
                "GetLayout",
                &(0i32, -1i32, Vec::<String>::new()),
            )
            .expect("GetLayout");
        let (_revision, root): (u32, Layout) = reply.body().deserialize().expect("layout");
        let mut out = Vec::new();
        walk(&root, &mut out);
        out
    }

    /// Clicks the menu entry labelled `label`.
    ///
    /// # Panics
    /// When there is none.
    pub fn click(&self, item: &TrayItem, label: &str) {
        let id = self
            .menu(item)
            .into_iter()
            .find(|(_, l)| l.replace('_', "") == label)
            .unwrap_or_else(|| panic!("no tray menu entry {label}"))
            .0;
        let path = self.menu_path(item);
        self.connection
            .call_method(
                Some(item.name.as_str()),
                path.as_str(),
                Some("com.canonical.dbusmenu"),
                "Event",
                &(id, "clicked", zbus::zvariant::Value::from(0i32), 0u32),
            )
            .expect("menu Event");
    }

    fn menu_path(&self, item: &TrayItem) -> String {
        let menu = self.property(item, "Menu");
        let path: zbus::zvariant::ObjectPath<'_> = menu.downcast_ref().expect("menu path");
        path.to_string()
    }
}

fn walk(node: &Layout, out: &mut Vec<(i32, String)>) {
    if let Some(label) = node.1.get("label")
        && let Ok(label) = <&str>::try_from(label)
    {
        out.push((node.0, label.to_string()));
    }
    for child in &node.2 {
        if let Ok(child) = child
            .try_clone()
            .map_err(|_| ())
            .and_then(|c| Layout::try_from(c).map_err(|_| ()))
        {
            walk(&child, out);
        }
    }
}
