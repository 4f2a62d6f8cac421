//! The orders service, guarded by warden-policy and recorded by warden-audit.
//!
//! ```sh
//! cd examples/embed-policy
//! cargo run -p embed-policy -- create-key --name alice --profile clerk   # prints the secret once
//! cargo run -p embed-policy -- serve                                     # 127.0.0.1:8080
//! curl -H "Authorization: Bearer owk_…" http://127.0.0.1:8080/partners
//! curl -H "Authorization: Bearer owk_…" 'http://127.0.0.1:8080/partners?fields=name,email'  # 403
//! curl -H "Authorization: Bearer owk_…" -d '{"partner_id": 2, "note": "Chairs"}' http://127.0.0.1:8080/orders
//! odoo-warden audit verify audit
//! ```

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use embed_policy::{App, Data};
use warden_policy::KeyStoreFile;

/// An orders API guarded by warden-policy and recorded by warden-audit.
#[derive(Debug, Parser)]
struct Cli {
    /// The policy: [network], [rate_limits] and [profiles.NAME].
    #[arg(long, default_value = "policy.toml", global = true)]
    policy: PathBuf,
    /// The key store (hashes only).
    #[arg(long, default_value = "keys.toml", global = true)]
    keys: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a key bound to a profile; its secret is printed once.
    CreateKey {
        /// A name for people.
        #[arg(long)]
        name: String,
        /// The profile the key acts under.
        #[arg(long)]
        profile: String,
        /// Validity, e.g. 90d.
        #[arg(long, default_value = "90d")]
        expires: String,
    },
    /// Serve the API until Ctrl-C.
    Serve {
        /// Where to listen.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// The audit folder.
        #[arg(long, default_value = "audit")]
        audit: PathBuf,
    },
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Writes the key store readable by its owner only.
fn write_private(path: &Path, text: &str) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .and_then(|mut file| file.write_all(text.as_bytes()))
        .with_context(|| format!("cannot write {}", path.display()))
}

fn out(text: &str) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(())
}

fn create_key(cli: &Cli, name: &str, profile: &str, expires: &str) -> Result<()> {
    let policy = read(&cli.policy)?;
    let mut store = match std::fs::read_to_string(&cli.keys) {
        Ok(text) => KeyStoreFile::from_toml(&text)?,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => KeyStoreFile::default(),
        Err(error) => return Err(error).context(format!("cannot read {}", cli.keys.display())),
    };
    let validity = warden_policy::keys::parse_duration(expires)?;
    let (_, secret) =
        warden_policy::keys::create(&mut store, name, profile, Some(validity), SystemTime::now())?;
    let text = store.to_toml();
    // Refuse a store the service would not load (an unknown profile, for one).
    embed_policy::compile_policy(&policy, &text)?;
    write_private(&cli.keys, &text)?;
    out(&format!("{secret}\n"))
}

async fn serve(cli: &Cli, listen: SocketAddr, audit: &Path) -> Result<()> {
    let policy = embed_policy::compile_policy(&read(&cli.policy)?, &read(&cli.keys)?)?;
    let auditor = embed_policy::open_auditor(audit)?;
    let app = Arc::new(App::new(policy, auditor.clone(), Data::sample()));
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    out(&format!(
        "orders API on http://{}; audit log in {}\n",
        listener.local_addr()?,
        audit.display()
    ))?;
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    embed_policy::serve(app, listener, stop).await?;
    if !auditor.shutdown(Duration::from_secs(5)).await {
        anyhow::bail!("the audit log did not close in time");
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    match &cli.command {
        Command::CreateKey {
            name,
            profile,
            expires,
        } => create_key(&cli, name, profile, expires),
        Command::Serve { listen, audit } => serve(&cli, *listen, audit).await,
    }
}
