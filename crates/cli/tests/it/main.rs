//! The real `redchat-cli` binary against a spawned redis-server.

mod chat;
mod outbox;
mod scripts;
mod support;
