//! `odoo-warden-stdio`: odoo-warden for one agent over stdio. Thin: the configuration path and the
//! environment, then [`warden_transport::stdio::run`] until stdin closes. stdout carries only MCP
//! messages; logs go to stderr. A configuration error prints one line naming the key and exits
//! with status 64; a missing, invalid or refused `WARDEN_KEY` prints one line (never the key) and
//! exits with status 77.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use warden_transport::stdio::RunError;

/// Serve MCP over stdin/stdout for one API key (WARDEN_KEY), reaching Odoo as the Odoo user of
/// the key's profile. SIGHUP reloads the configuration.
#[derive(Debug, Parser)]
#[command(
    name = "odoo-warden-stdio",
    version,
    after_help = "Example:\n  WARDEN_KEY=owk_... ODOO_SALES_KEY=... odoo-warden-stdio --config /etc/odoo-warden/warden.toml\n\n\
                  WARDEN_KEY is the agent's API key (`odoo-warden keys create`); the Odoo \
                  secrets are the variables the configuration names."
)]
struct Args {
    /// The configuration file (TOML).
    #[arg(long, env = "WARDEN_CONFIG", value_name = "PATH")]
    config: PathBuf,
}

/// Configuration errors (EX_USAGE, as sysexits.h names it).
const EXIT_CONFIG: u8 = 64;
/// A missing, invalid or refused key (EX_NOPERM).
const EXIT_NOPERM: u8 = 77;
/// Log filter when `RUST_LOG` is not set: warnings, and every reload's outcome.
const DEFAULT_LOG: &str = "warn,warden_transport::reload=info";

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| DEFAULT_LOG.into()),
        )
        .init();
    let env = std::env::vars().collect();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            report(&format!(
                "odoo-warden-stdio: cannot start the runtime: {error}"
            ));
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(warden_transport::stdio::run(&args.config, env));
    // A blocked read of stdin must not keep the process alive once serving is over.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            report(&format!("odoo-warden-stdio: {error}"));
            match error {
                RunError::Setup(_) => ExitCode::from(EXIT_CONFIG),
                e if e.is_key_error() => ExitCode::from(EXIT_NOPERM),
                _ => ExitCode::FAILURE,
            }
        }
    }
}

#[allow(clippy::print_stderr)] // the one line a person reads when the process cannot start
fn report(line: &str) {
    eprintln!("{line}");
}
