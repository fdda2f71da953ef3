//! Exports of stored messages: JSON lines, CSV and Markdown, written as they are read.
//!
//! Every byte of a message is someone else's: a CSV cell that would start a spreadsheet
//! formula gets a leading `'`, and Markdown escapes every ASCII punctuation character so a
//! message cannot become a link, an image, HTML or a heading in the exported file.

use std::io::{self, Write};
use std::str::FromStr;

use serde::Serialize;

use super::Archive;
use crate::conversation::ConversationId;
use crate::error::{Error, Result};
use crate::wire::ChatMessage;

/// An export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line.
    Json,
    /// RFC 4180 CSV with a header row.
    Csv,
    /// A readable Markdown transcript.
    Markdown,
}

impl FromStr for Format {
    type Err = Error;

    fn from_str(s: &str) -> Result<Format> {
        match s.to_ascii_lowercase().as_str() {
            "json" | "jsonl" | "ndjson" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            "md" | "markdown" => Ok(Format::Markdown),
            other => Err(Error::InvalidSearch(format!(
                "unknown export format \"{other}\": use json, csv or md"
            ))),
        }
    }
}

impl Format {
    /// The usual file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Json => "jsonl",
            Format::Csv => "csv",
            Format::Markdown => "md",
        }
    }
}

/// One exported message (the JSON lines' objects; CSV has the same columns).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Record<'a> {
    id: &'a str,
    conversation: String,
    sender: &'a str,
    to: Option<&'a str>,
    room: Option<&'a str>,
    content: &'a str,
    sent_at: Option<&'a str>,
    received_at: &'a str,
    trust: &'a str,
    mine: bool,
    request: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    sender_issue: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lookalike: Option<&'a str>,
}

impl<'a> Record<'a> {
    fn of(m: &'a ChatMessage) -> Record<'a> {
        Record {
            id: &m.id,
            conversation: m.conversation.to_string(),
            sender: &m.sender,
            to: m.to.as_deref(),
            room: m.room.as_deref(),
            content: &m.content,
            sent_at: m.sent_at.as_deref(),
            received_at: &m.received_at,
            trust: m.trust.as_str(),
            mine: m.mine,
            request: m.request,
            sender_issue: m.sender_issue.as_deref(),
            lookalike: m.lookalike.as_deref(),
        }
    }
}

/// The CSV header (the JSON objects' fields, in this order).
pub const CSV_HEADER: &str =
    "id,conversation,sender,to,room,sentAt,receivedAt,trust,mine,request,content";

/// A CSV cell: quoted when needed, and a leading `= + - @` (or tab, CR) made inert.
fn csv_cell(out: &mut impl Write, text: &str) -> io::Result<()> {
    let formula = text.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let quote = formula || text.contains([',', '"', '\n', '\r']) || text.trim() != text;
    if !quote {
        return out.write_all(text.as_bytes());
    }
    out.write_all(b"\"")?;
    if formula {
        out.write_all(b"'")?;
    }
    out.write_all(text.replace('"', "\"\"").as_bytes())?;
    out.write_all(b"\"")
}

/// Markdown text that renders as exactly these characters.
fn md_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            c if c.is_ascii_punctuation() => {
                out.push('\\');
                out.push(c);
            }
            // No raw control characters (bidi overrides included) in a transcript.
            c if c.is_control() && c != '\n' => out.push('\u{fffd}'),
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

fn trust_label(m: &ChatMessage) -> String {
    let mut label = m.trust.as_str().to_string();
    if m.request {
        label.push_str(", request");
    }
    if m.sender_issue.is_some() || m.lookalike.is_some() {
        label.push_str(", suspicious name");
    }
    label
}

/// Writes messages in `format` to `out`, one at a time.
pub struct Exporter<W: Write> {
    format: Format,
    out: W,
    conversation: Option<String>,
}

impl<W: Write> Exporter<W> {
    /// Starts an export (writes the CSV header or the Markdown title).
    ///
    /// # Errors
    /// Writing to `out`.
    pub fn new(format: Format, mut out: W) -> io::Result<Exporter<W>> {
        match format {
            Format::Json => {}
            Format::Csv => writeln!(out, "{CSV_HEADER}")?,
            Format::Markdown => writeln!(out, "# Redchat export")?,
        }
        Ok(Exporter {
            format,
            out,
            conversation: None,
        })
    }

    /// Writes one message.
    ///
    /// # Errors
    /// Writing to `out`.
    pub fn write(&mut self, m: &ChatMessage) -> io::Result<()> {
        let r = Record::of(m);
        match self.format {
            Format::Json => {
                serde_json::to_writer(&mut self.out, &r)?;
                self.out.write_all(b"\n")
            }
            Format::Csv => {
                let out = &mut self.out;
                for (i, cell) in [
                    r.id,
                    &r.conversation,
                    r.sender,
                    r.to.unwrap_or(""),
                    r.room.unwrap_or(""),
                    r.sent_at.unwrap_or(""),
                    r.received_at,
                    r.trust,
                    if r.mine { "true" } else { "false" },
                    if r.request { "true" } else { "false" },
                    r.content,
                ]
                .into_iter()
                .enumerate()
                {
                    if i > 0 {
                        out.write_all(b",")?;
                    }
                    csv_cell(out, cell)?;
                }
                out.write_all(b"\r\n")
            }
            Format::Markdown => {
                if self.conversation.as_deref() != Some(r.conversation.as_str()) {
                    writeln!(self.out, "\n## {}\n", md_escape(&r.conversation))?;
                    self.conversation = Some(r.conversation.clone());
                }
                let sender = if r.sender.is_empty() {
                    "(plain text)"
                } else {
                    r.sender
                };
                let when = r.sent_at.unwrap_or(r.received_at);
                writeln!(
                    self.out,
                    "- **{}** · {} · {}  ",
                    md_escape(sender),
                    md_escape(when),
                    md_escape(&trust_label(m))
                )?;
                for line in md_escape(r.content).split('\n') {
                    writeln!(self.out, "  {line}  ")?;
                }
                Ok(())
            }
        }
    }

    /// Flushes and returns the writer.
    ///
    /// # Errors
    /// Flushing `out`.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// A new (or emptied) file for an export, readable by the user alone: exports are private
/// messages.
///
/// # Errors
/// Creating the file.
pub fn private_file(path: &std::path::Path) -> io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

impl Archive {
    /// Exports the stored messages of `conversation` (everything when `None`) to `out`.
    /// Returns how many were written.
    ///
    /// # Errors
    /// [`Error::Storage`] when the store cannot be read or `out` cannot be written.
    pub fn export(
        &self,
        conversation: Option<&ConversationId>,
        format: Format,
        out: impl Write,
    ) -> Result<u64> {
        let io = |e: io::Error| Error::Storage(format!("cannot write the export: {e}"));
        let mut exporter = Exporter::new(format, out).map_err(io)?;
        let n = self.for_each(conversation, |m| exporter.write(m))?;
        exporter.finish().map_err(io)?;
        Ok(n)
    }
}
