//! `contact` (safety numbers, verification, accepting a new key, requests and blocks) and
//! `identity` (where your key is kept; moving it to another device).

use std::io::Read;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use redchat_core::{ConnectionSettings, Contact, KeyStorage, Namespace, Standing, Username};

use crate::connection::{self, Lifetime};
use crate::{ConnectionArgs, ContactAction};

pub async fn contact(
    args: &ConnectionArgs,
    user: &str,
    who: &str,
    action: &ContactAction,
    json: bool,
) -> Result<ExitCode> {
    // The people file is the running client's: this takes the data directory's lock, so
    // it is refused (clearly) while `chat`, `listen` or the app run as this user.
    let (session, _events) = connection::connect(args, user, Vec::new(), Lifetime::Tool)
        .await
        .context("opening your contacts")?;
    let result = async {
        if action.mark_verified {
            session.mark_verified(who, true, None).await?;
        }
        if action.unmark_verified {
            session.mark_verified(who, false, None).await?;
        }
        if action.accept_key {
            session.accept_new_key(who, None).await?;
        }
        if action.accept {
            session.set_standing(who, Standing::Contact).await?;
        }
        if action.block {
            session.set_standing(who, Standing::Blocked).await?;
        }
        if action.unblock {
            session.set_standing(who, Standing::Request).await?;
        }
        session.contact(who).await
    }
    .await;
    session.shutdown(Duration::from_secs(2)).await;
    let contact = result.with_context(|| format!("contact {who}"))?;
    if json {
        println!("{}", serde_json::to_string(&contact)?);
    } else {
        print_contact(&contact);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_contact(c: &Contact) {
    let standing = match c.standing {
        Standing::Contact => "contact",
        Standing::Request => "not a contact (their messages go to Requests)",
        Standing::Blocked => "blocked",
    };
    println!("{}: {standing}", c.user);
    match (&c.safety_number, &c.key) {
        (Some(number), Some(_)) => {
            println!("safety number: {number}");
            println!(
                "{}",
                if c.verified {
                    "verified: you compared this number with them"
                } else {
                    "not verified: compare this number with them in person or on a call, then run with --mark-verified"
                }
            );
        }
        (Some(number), None) => println!(
            "safety number (from the key they publish; no message from them yet): {number}"
        ),
        (None, _) => println!("no key known for them yet"),
    }
    if c.new_key.is_some() {
        println!(
            "WARNING: they signed with a NEW key. Their messages show as \"key changed\" until you accept it (--accept-key) after checking with them."
        );
    }
    if let (Some(pinned), Some(published)) = (&c.key, &c.published_key)
        && pinned != published
    {
        println!("note: the key published in Redis differs from the one you know");
    }
}

pub(crate) fn session_dir(args: &ConnectionArgs, user: &str) -> Result<std::path::PathBuf> {
    let parsed = ConnectionSettings::parse(&args.url).context("reading --url / REDCHAT_URL")?;
    let user = Username::parse(user).context("reading --user")?;
    let namespace = Namespace::parse(&args.namespace).context("reading --namespace")?;
    let Some(dir) = connection::data_dir(args) else {
        bail!("no data directory: set --data-dir or HOME");
    };
    Ok(redchat_core::session_dir(
        &dir,
        &parsed.settings,
        &namespace,
        &user,
    ))
}

pub fn identity(
    args: &ConnectionArgs,
    user: &str,
    export: bool,
    import: Option<&str>,
) -> Result<ExitCode> {
    let dir = session_dir(args, user)?;
    if let Some(source) = import {
        let mut text = String::new();
        if source == "-" {
            std::io::stdin()
                .read_to_string(&mut text)
                .context("reading the identity from stdin")?;
        } else {
            text = std::fs::read_to_string(source).with_context(|| format!("reading {source}"))?;
        }
        let identity = redchat_core::Identity::import(&text)?;
        redchat_core::identity::store(&identity, Some(&dir), None)?;
        println!(
            "imported: this device now signs as {}",
            identity.public_key()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let (identity, storage) = redchat_core::identity::load_or_create(Some(&dir), None)?;
    if export {
        println!("{}", identity.export().as_str());
        return Ok(ExitCode::SUCCESS);
    }
    println!("public key: {}", identity.public_key());
    match storage {
        KeyStorage::Keychain => println!("private key: in the system keychain"),
        KeyStorage::File { path } => println!(
            "private key: in {} (readable by you alone; no keychain for the command line)",
            path.display()
        ),
        KeyStorage::Memory => println!("private key: in memory only"),
    }
    Ok(ExitCode::SUCCESS)
}
