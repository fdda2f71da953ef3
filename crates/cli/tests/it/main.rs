//! The real `redchat-cli` binary against a spawned redis-server.

mod chat;
mod cluster;
mod company;
mod doctor;
mod local_redis;
mod outbox;
mod rooms;
mod scripts;
mod sentinel;
mod store;
mod support;
mod trust;
