//! Errors as they cross to TypeScript: `{ code, message }` with a closed set of codes,
//! mirrored in `ui/src/ipc.ts`. The UI decides on `code`, shows `message`, never parses it.

use redchat_core::Code;
use serde::Serialize;

/// An error for the page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IpcError {
    /// One of the closed set [`Code`] (core's, which the shell shares).
    pub code: Code,
    /// A sentence for the user. Never contains a password.
    pub message: String,
}

impl IpcError {
    /// An error with `code` and `message`.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        IpcError {
            code,
            message: message.into(),
        }
    }
}

impl From<redchat_core::Error> for IpcError {
    fn from(e: redchat_core::Error) -> Self {
        IpcError {
            code: e.code(),
            message: e.to_string(),
        }
    }
}

impl From<redchat_core::ParseError> for IpcError {
    fn from(e: redchat_core::ParseError) -> Self {
        redchat_core::Error::from(e).into()
    }
}

impl From<redchat_core::UsernameError> for IpcError {
    fn from(e: redchat_core::UsernameError) -> Self {
        redchat_core::Error::from(e).into()
    }
}
