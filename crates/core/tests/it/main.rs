//! Core integration tests against a real redis-server spawned per test on a free port.

mod support;

mod acl;
mod archive;
mod cluster;
mod faults;
mod history;
mod identity;
mod presence;
mod regression;
mod rooms;
mod secrets;
mod sentinel;
mod session;
mod tls;
