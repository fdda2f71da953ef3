//! The real `redchat-cli` binary against a spawned redis-server.

mod chat;
mod scripts;
mod support;
