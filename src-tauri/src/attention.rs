//! Getting the user's attention, the way a desktop app people keep open all day does: native
//! notifications, the unread count on the taskbar badge and the tray icon, do-not-disturb.
//!
//! The page decides *what* deserves a notification (direct messages and mentions, muted
//! conversations, one summary per flood: `ui/src/notify.ts`); the shell has the last word on
//! *whether* one is shown: never while the window has focus or do-not-disturb is on, whatever
//! the page asked. Do-not-disturb lives here because the tray menu toggles it while the page
//! may be busy; the page hears of changes on the channel it gave [`Attention::watch`].
//!
//! Notifications are plain text: control and direction characters are removed and lengths
//! capped again here (the page already does), and neither their text nor a message's is
//! logged.
//!
//! Platform notes (reviewed, not all testable here):
//! - Linux: notifications go over D-Bus (`org.freedesktop.Notifications.Notify`); the badge
//!   is the Unity launcher count, shown by docks that read it (GNOME with Dash to Dock, KDE);
//!   the tray icon needs an AppIndicator / StatusNotifier host (stock GNOME has none).
//! - macOS: the badge is the Dock tile's label; the tray is the menu bar.
//! - Windows: no badge count API (the title and tray tooltip carry the count); unpackaged
//!   builds' notifications are attributed to PowerShell until installed.
//! - Clicking a notification brings the window forward and opens its conversation where the
//!   notification server reports clicks (Linux servers that offer the `default` action,
//!   macOS, Windows while the toast is on screen; not once it is in the Action Center).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, Ordering};

use serde::Serialize;
use tauri::ipc::Channel;

/// Longest notification title and body sent to the desktop, in characters.
pub const TITLE_MAX: usize = 120;
pub const BODY_MAX: usize = 200;

/// What the page hears from the shell (not from a session).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum ShellEvent {
    /// Do-not-disturb is now `on` (from the tray, or from another call).
    #[serde(rename_all = "camelCase")]
    DoNotDisturb { on: bool },
    /// A notification about `conversation` was clicked: show it.
    #[serde(rename_all = "camelCase")]
    Open { conversation: String },
}

/// Why a notification was not shown, or that it was.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum Shown {
    Shown,
    DoNotDisturb,
    Focused,
    Failed,
}

/// The shell's attention state: do-not-disturb, the unread total, who to tell of changes.
#[derive(Default)]
pub struct Attention {
    dnd: AtomicBool,
    unread: AtomicU32,
    watchers: Mutex<Vec<Channel<ShellEvent>>>,
    /// The conversation of each recent notification, by notification id (newest last).
    shown: Mutex<VecDeque<(i32, String)>>,
    next_id: AtomicI32,
}

/// Pages told of shell events at most (the window has one; reloads leave old channels).
const WATCHERS: usize = 4;

/// Notifications whose click still opens their conversation.
const REMEMBERED: usize = 64;

impl Attention {
    /// Whether do-not-disturb is on.
    pub fn do_not_disturb(&self) -> bool {
        self.dnd.load(Ordering::SeqCst)
    }

    /// Sets do-not-disturb, telling every watcher; returns whether it changed.
    pub fn set_do_not_disturb(&self, on: bool) -> bool {
        let changed = self.dnd.swap(on, Ordering::SeqCst) != on;
        if changed {
            tracing::info!("do not disturb {}", if on { "on" } else { "off" });
            self.tell(&ShellEvent::DoNotDisturb { on });
        }
        changed
    }

    /// Adds a watcher and tells it the current state at once.
    pub fn watch(&self, channel: Channel<ShellEvent>) {
        // Under the lock: a toggle cannot fall between telling the state and being told of
        // changes. A reloaded page leaves its channel behind: only the newest few are kept.
        let mut watchers = self.watchers.lock().unwrap_or_else(|e| e.into_inner());
        let _ = channel.send(ShellEvent::DoNotDisturb {
            on: self.do_not_disturb(),
        });
        watchers.push(channel);
        let excess = watchers.len().saturating_sub(WATCHERS);
        watchers.drain(..excess);
    }

    fn tell(&self, event: &ShellEvent) {
        // A page that went away (reloaded) has a dead channel: drop it.
        self.watchers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|c| c.send(event.clone()).is_ok());
    }

    /// An id for a new notification about `conversation` (remembered for its click).
    pub fn remember(&self, conversation: Option<&str>) -> i32 {
        let id = self.next_id.fetch_add(1, Ordering::SeqCst) + 1;
        if let Some(c) = conversation {
            let mut shown = self.shown.lock().unwrap_or_else(|e| e.into_inner());
            shown.push_back((id, c.to_string()));
            while shown.len() > REMEMBERED {
                shown.pop_front();
            }
        }
        id
    }

    /// Notification `id` was clicked: the page opens its conversation, if it had one.
    pub fn clicked(&self, id: i32) {
        let conversation = self
            .shown
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, c)| c.clone());
        if let Some(conversation) = conversation {
            self.tell(&ShellEvent::Open { conversation });
        }
    }

    /// Records the unread total; returns the previous one.
    pub fn set_unread(&self, total: u32) -> u32 {
        self.unread.swap(total, Ordering::SeqCst)
    }

    pub fn unread(&self) -> u32 {
        self.unread.load(Ordering::SeqCst)
    }
}

/// `text` as plain text for the desktop: control, format (bidi, zero-width) and line/paragraph
/// separator characters become spaces, runs of whitespace one space, at most `max` characters.
pub fn plain(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max * 4));
    let mut space = false;
    let mut count = 0;
    for c in text.chars() {
        let blank = c.is_whitespace() || c.is_control() || is_format(c);
        if blank {
            space = !out.is_empty();
            continue;
        }
        if count + usize::from(space) + 1 > max {
            out.push('…');
            return out;
        }
        if space {
            out.push(' ');
            count += 1;
            space = false;
        }
        out.push(c);
        count += 1;
    }
    out
}

/// `text` for a notification body on a server that reads markup (the Desktop Notifications
/// `body-markup` capability: GNOME, KDE, dunst): `&`, `<` and `>` escaped, so a message's
/// `<b>` or `<a href>` is shown, never applied.
pub fn escape_markup(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Unicode "format" characters that change how text around them shows (Cf): bidi controls,
/// zero-width joiners and spaces, the BOM, invisible operators.
fn is_format(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}')
}

/// The tooltip of the tray icon for `unread` messages.
pub fn tray_tooltip(unread: u32, dnd: bool) -> String {
    let count = match unread {
        0 => "no unread messages".to_string(),
        1 => "1 unread message".to_string(),
        n => format!("{n} unread messages"),
    };
    if dnd {
        format!("Redchat — {count} (do not disturb)")
    } else {
        format!("Redchat — {count}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_drops_control_and_direction_characters() {
        assert_eq!(
            plain("hi\u{202E}txt.exe\n\tthere\u{200B}!", 100),
            "hi txt.exe there !"
        );
        assert_eq!(plain("  \u{7}  ", 100), "");
    }

    #[test]
    fn markup_in_a_notification_body_is_escaped() {
        assert_eq!(
            escape_markup("<b>hi</b> & <a href=\"x\">"),
            "&lt;b&gt;hi&lt;/b&gt; &amp; &lt;a href=\"x\"&gt;"
        );
    }

    #[test]
    fn plain_caps_the_length_with_an_ellipsis() {
        assert_eq!(plain("abcdef", 4), "abcd…");
        assert_eq!(plain("abcd", 4), "abcd");
        assert_eq!(plain("ab cd ef", 5), "ab cd…");
    }

    #[test]
    fn the_tooltip_counts_unread_and_says_do_not_disturb() {
        assert_eq!(tray_tooltip(0, false), "Redchat — no unread messages");
        assert_eq!(tray_tooltip(1, false), "Redchat — 1 unread message");
        assert_eq!(
            tray_tooltip(12, true),
            "Redchat — 12 unread messages (do not disturb)"
        );
    }

    #[test]
    fn do_not_disturb_reports_changes_only() {
        let a = Attention::default();
        assert!(!a.do_not_disturb());
        assert!(a.set_do_not_disturb(true));
        assert!(!a.set_do_not_disturb(true));
        assert!(a.do_not_disturb());
        assert_eq!(a.set_unread(3), 0);
        assert_eq!(a.unread(), 3);
    }

    #[test]
    fn only_recent_notifications_are_remembered_for_their_click() {
        let a = Attention::default();
        let first = a.remember(Some("@bob"));
        let none = a.remember(None);
        assert_ne!(first, none);
        for _ in 0..REMEMBERED {
            a.remember(Some("#team"));
        }
        let shown = a.shown.lock().unwrap();
        assert_eq!(shown.len(), REMEMBERED);
        assert!(shown.iter().all(|(i, _)| *i != first));
    }
}
