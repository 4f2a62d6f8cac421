//! `odoo-warden-http`: odoo-warden for many agents over MCP Streamable HTTP. Thin: the
//! configuration path and the environment, then [`warden_transport::http::run`] until SIGTERM or
//! SIGINT (then it drains requests in flight, ends the sessions and flushes the audit log). A
//! configuration error, or a setting that would expose the gateway unsafely, prints one line
//! naming the key and exits with status 64; a listener that cannot be opened exits with 69.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use warden_transport::http::RunError;

/// Serve MCP over HTTP (default http://127.0.0.1:8765/mcp) for the API keys of the key store;
/// every request names its key as `Authorization: Bearer <key>`. SIGHUP reloads the configuration.
#[derive(Debug, Parser)]
#[command(
    name = "odoo-warden-http",
    version,
    after_help = "Example:\n  ODOO_SALES_KEY=... odoo-warden-http --config /etc/odoo-warden/warden.toml\n\n\
                  The [http] section says where it listens (loopback by default; behind a reverse \
                  proxy, list it in http.trusted_proxies). Exit status: 0 stopped by a signal, 64 \
                  configuration error, 69 cannot listen, 1 other failure."
)]
struct Args {
    /// The configuration file (TOML).
    #[arg(long, env = "WARDEN_CONFIG", value_name = "PATH")]
    config: PathBuf,
}

/// Configuration errors (EX_USAGE).
const EXIT_CONFIG: u8 = 64;
/// The listener cannot be opened (EX_UNAVAILABLE).
const EXIT_UNAVAILABLE: u8 = 69;
/// Log filter when `RUST_LOG` is not set: warnings, reloads, and the address served.
const DEFAULT_LOG: &str = "warn,warden_transport::reload=info,warden_transport::http=info";

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
                "odoo-warden-http: cannot start the runtime: {error}"
            ));
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(warden_transport::http::run(&args.config, env, announce));
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            report(&format!("odoo-warden-http: {error}"));
            match error {
                RunError::Setup(_) | RunError::Unsafe { .. } | RunError::Tls(_) => {
                    ExitCode::from(EXIT_CONFIG)
                }
                RunError::Bind { .. } => ExitCode::from(EXIT_UNAVAILABLE),
                _ => ExitCode::FAILURE,
            }
        }
    }
}

/// One line on stdout once the listener is open, e.g. `odoo-warden-http listening on
/// http://127.0.0.1:8765/mcp` (scripts and tests read the port from it).
#[allow(clippy::print_stdout)] // the address a person or a script needs, once
fn announce(url: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "odoo-warden-http listening on {url}");
    let _ = out.flush();
}

#[allow(clippy::print_stderr)] // the one line a person reads when the process cannot start
fn report(line: &str) {
    eprintln!("{line}");
}
