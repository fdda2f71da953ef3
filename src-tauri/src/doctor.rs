//! The connection doctor for the settings form, and the TLS files of a connect request.

use std::path::PathBuf;

use redchat_core::{Code, ConnectionSettings, Namespace, TlsOptions, Username};
use serde::Serialize;

use crate::state::{AppState, ConnectRequest, account, plain_password_allowed};

/// The TLS files of a request (empty fields are none).
pub(crate) fn tls_options(request: &ConnectRequest) -> TlsOptions {
    let path = |p: &Option<String>| {
        p.as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
    };
    TlsOptions {
        ca_file: path(&request.tls_ca),
        cert_file: path(&request.tls_cert),
        key_file: path(&request.tls_key),
        server_name: None,
    }
}

/// The doctor's report with its text form (what "Copy report" copies).
#[derive(Debug, Clone, Serialize)]
pub struct DoctorView {
    /// The report's fields.
    #[serde(flatten)]
    pub report: redchat_core::doctor::Report,
    /// The report as text.
    pub text: String,
}

impl AppState {
    /// The doctor's report for the form's settings (the keychain's password when the form
    /// has none). Never fails: a string that does not parse is a problem in the report.
    pub async fn doctor(&self, request: ConnectRequest) -> DoctorView {
        use redchat_core::doctor::{self, Report};
        let report = match ConnectionSettings::parse(&request.connection) {
            Err(e) => Report::unparsable(&e),
            Ok(parsed) => {
                let mut settings = parsed.settings;
                if settings.password.is_none() {
                    settings.password =
                        match request.password.clone().filter(|p| !p.expose().is_empty()) {
                            Some(p) => Some(p),
                            None => self.secrets.get(&account(&settings)).await,
                        };
                }
                settings.tls_options = TlsOptions {
                    server_name: settings.tls_options.server_name.clone(),
                    ..tls_options(&request)
                };
                let user = Username::parse(&request.username).ok();
                let namespace = Namespace::parse(&request.namespace).unwrap_or_default();
                // The same rule as connecting: no password over plain TCP unacknowledged.
                if !plain_password_allowed(&settings, &self.profile.load(), &request) {
                    let mut report = Report::of_settings(&settings, &parsed.notes);
                    report.problems.push(doctor::Problem {
                        code: Code::PlaintextPassword.as_str().into(),
                        message: format!(
                            "the password for {} would cross the network unencrypted (plain TCP): not sent; use rediss:// if the server offers TLS, or connect and acknowledge it once",
                            settings.addr()
                        ),
                    });
                    report
                } else {
                    doctor::examine(&settings, &parsed.notes, user.as_ref(), &namespace).await
                }
            }
        };
        DoctorView {
            text: report.to_text(),
            report,
        }
    }
}
