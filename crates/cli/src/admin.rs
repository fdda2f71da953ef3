//! `doctor` (why a connection fails) and `admin acl` (the recipe confining a user).

use std::process::ExitCode;

use anyhow::{Context, Result};
use redchat_core::doctor::{self, Report};
use redchat_core::{ConnectionSettings, Keys, Namespace, Username};

use crate::ConnectionArgs;
use crate::connection::settings_from;

/// `redchat-cli doctor`: 0 when no problem was found, 1 otherwise.
pub async fn doctor(
    args: &ConnectionArgs,
    user: Option<&str>,
    json: bool,
    no_connect: bool,
) -> Result<ExitCode> {
    let user = user
        .map(Username::parse)
        .transpose()
        .context("reading --user")?;
    let namespace = Namespace::parse(&args.namespace).context("reading --namespace")?;
    let report = match settings_from(args) {
        Err(e) => Report::unparsable(&e),
        Ok((settings, notes)) if no_connect => {
            let mut report = Report::of_settings(&settings, &notes);
            check_files(&settings, &mut report);
            report
        }
        Ok((settings, notes)) => {
            doctor::examine(&settings, &notes, user.as_ref(), &namespace).await
        }
    };
    if json {
        println!(
            "{}",
            serde_json::to_string(&report).context("report as JSON")?
        );
    } else {
        print!("{}", crate::output::terminal_safe(&report.to_text()));
    }
    Ok(if report.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Without connecting, the TLS files can still be checked: they must exist.
fn check_files(settings: &ConnectionSettings, report: &mut Report) {
    let o = &settings.tls_options;
    for (what, path) in [
        ("CA file", &o.ca_file),
        ("client certificate", &o.cert_file),
        ("client key", &o.key_file),
    ] {
        if let Some(path) = path
            && let Err(e) = std::fs::metadata(path)
        {
            report.problems.push(doctor::Problem {
                code: "tls_files".into(),
                message: format!("cannot read the {what} {}: {e}", path.display()),
            });
        }
    }
}

/// `redchat-cli admin acl USER`: one line for redis-cli.
pub fn acl(args: &ConnectionArgs, user: &str) -> Result<ExitCode> {
    let user = Username::parse(user).context("reading USER")?;
    let namespace = Namespace::parse(&args.namespace).context("reading --namespace")?;
    let line = redchat_core::acl::setuser_command(&Keys::new(&namespace), &user)
        .map_err(anyhow::Error::msg)?;
    println!("{line}");
    Ok(ExitCode::SUCCESS)
}
