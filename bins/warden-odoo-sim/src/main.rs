//! The warden-odoo-sim binary: an Odoo-compatible server on loopback for demos and tests.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Parser;
use warden_odoo_sim::{OdooVersion, SimOptions, start};

/// Serve an in-memory Odoo demo database over XML-RPC, JSON-RPC, web sessions and (19) JSON-2.
#[derive(Debug, Parser)]
#[command(name = "warden-odoo-sim", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8069")]
    listen: SocketAddr,
    /// Allow a non-loopback listen address (the demo passwords are public).
    #[arg(long)]
    allow_remote: bool,
    /// Odoo version to pretend to be: 18 or 19.
    #[arg(long, default_value = "18", value_parser = ["18", "19"])]
    odoo_version: String,
    /// Database name.
    #[arg(long, default_value = "odoo")]
    database: String,
    /// Fixed API key for a demo user, as LOGIN=KEY (repeatable).
    #[arg(long = "api-key", value_name = "LOGIN=KEY")]
    api_keys: Vec<String>,
    /// Latency added before every answer, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    if !args.listen.ip().is_loopback() {
        if !args.allow_remote {
            bail!(
                "refusing to listen on non-loopback address {} (the demo passwords are public); pass --allow-remote to override",
                args.listen
            );
        }
        tracing::warn!(
            "LISTENING ON A NON-LOOPBACK ADDRESS {}: anyone who can reach it can log in with the public demo passwords",
            args.listen
        );
    }
    let mut api_keys = BTreeMap::new();
    for spec in &args.api_keys {
        let (login, key) = spec
            .split_once('=')
            .with_context(|| format!("--api-key expects LOGIN=KEY, got {spec:?}"))?;
        api_keys.insert(login.to_owned(), key.to_owned());
    }
    let options = SimOptions {
        version: if args.odoo_version == "19" {
            OdooVersion::V19
        } else {
            OdooVersion::V18
        },
        database: args.database,
        api_keys,
        latency: Duration::from_millis(args.latency_ms),
    };
    // The signal handlers are installed before the banner is printed, so a supervisor that sends
    // SIGTERM as soon as it has read the banner always gets a clean shutdown.
    let stop = shutdown_signal()?;
    let sim = start(args.listen, options)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let mut banner = format!(
        "warden-odoo-sim serving Odoo {} at {}\ndatabase: {}\n",
        args.odoo_version,
        sim.url(),
        sim.database()
    );
    for user in sim.demo_users() {
        banner.push_str(&format!(
            "user {:<13} password {:<13} uid {:<3} api key {}\n",
            user.login, user.login, user.uid, user.api_key
        ));
    }
    let mut out = std::io::stdout().lock();
    out.write_all(banner.as_bytes())?;
    out.flush()?;
    drop(out);
    stop.await;
    tracing::info!("shutting down");
    sim.shutdown().await;
    Ok(())
}

/// Installs the SIGTERM and Ctrl-C handlers now and returns a future that resolves on either.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term =
            signal(SignalKind::terminate()).context("cannot install the SIGTERM handler")?;
        let mut int =
            signal(SignalKind::interrupt()).context("cannot install the SIGINT handler")?;
        Ok(async move {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}
