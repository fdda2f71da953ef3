//! The real `redchat-cli` binary against a spawned redis-server.

mod chat;
mod outbox;
mod rooms;
mod scripts;
mod support;
mod trust;
