//! `odoo-warden-stdio`: odoo-warden for one agent over stdio. Thin: read the configuration, then
//! [`warden_transport::stdio::run`] until stdin closes. stdout carries only MCP messages; logs go
//! to stderr. A configuration error prints one line naming the key and exits with status 64.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// Serve MCP over stdin/stdout, reaching Odoo as the configured user.
#[derive(Debug, Parser)]
#[command(
    name = "odoo-warden-stdio",
    version,
    after_help = "Example:\n  ODOO_API_KEY=... odoo-warden-stdio --config /etc/odoo-warden/warden.toml"
)]
struct Args {
    /// The configuration file (TOML).
    #[arg(long, env = "WARDEN_CONFIG", value_name = "PATH")]
    config: PathBuf,
}

/// Configuration errors (EX_USAGE, as sysexits.h names it).
const EXIT_CONFIG: u8 = 64;

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let env = std::env::vars().collect();
    let config = match warden_config::Config::load(&args.config, &env) {
        Ok(config) => config,
        Err(error) => {
            report(&format!("odoo-warden-stdio: {error}"));
            return ExitCode::from(EXIT_CONFIG);
        }
    };
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
    let outcome = runtime.block_on(warden_transport::stdio::run(config));
    // A blocked read of stdin must not keep the process alive once serving is over.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            report(&format!("odoo-warden-stdio: {error}"));
            ExitCode::FAILURE
        }
    }
}

#[allow(clippy::print_stderr)] // the one line a person reads when the process cannot start
fn report(line: &str) {
    eprintln!("{line}");
}
