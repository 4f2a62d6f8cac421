//! An MCP server built on warden-mcp and warden-transport's HTTP stack, serving the fixtures of
//! the official MCP conformance suite (`@modelcontextprotocol/conformance`), so that the suite
//! checks the transport odoo-warden ships: the same tower stack, Host and Origin checks, session
//! handling, 2026-07-28 envelope checks and SSE as `odoo-warden-http`, over a [`Backend`] that
//! serves the suite's tools, resources and prompts instead of Odoo.
//!
//! `conformance-server [--listen 127.0.0.1:0]` prints `conformance-server listening on URL`
//! once it serves, and stops on SIGTERM or Ctrl-C. It takes no credentials (the suite sends
//! none), so it only ever binds a loopback address.

mod fixtures;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::mpsc;
use warden_transport::http::{self, AuthFailure, Backend, Caller, HttpOptions};

use fixtures::{FixtureSession, Fixtures};

/// The suite's fixtures as a [`Backend`]: every request is anonymous (there is no credential to
/// check), and a presented token is refused rather than ignored.
#[derive(Clone)]
struct Conformance {
    fixtures: Arc<Fixtures>,
}

impl Backend for Conformance {
    type Principal = ();
    type Session = FixtureSession;

    fn authenticate(&self, _token: &str, caller: &Caller) -> Result<(), AuthFailure> {
        Err(self.reject_credential(caller, "credential presented"))
    }

    fn anonymous(&self, _caller: &Caller) -> Option<()> {
        Some(())
    }

    fn reject_credential(&self, _caller: &Caller, reason: &str) -> AuthFailure {
        AuthFailure {
            message: "this server takes no credentials".to_owned(),
            retry_after: None,
            reason: reason.to_owned(),
        }
    }

    fn session(&self, _caller: Caller, _principal: ()) -> FixtureSession {
        self.fixtures.session()
    }

    async fn handle(
        &self,
        session: &FixtureSession,
        message: &[u8],
        outbound: &mpsc::Sender<Value>,
    ) -> Option<Value> {
        session.handle(message, outbound).await
    }

    async fn ready(&self) -> bool {
        true
    }
}

/// The address to listen on: `--listen ADDR` (loopback only), default `127.0.0.1:0`.
fn listen_addr() -> Result<SocketAddr, String> {
    let mut args = std::env::args().skip(1);
    let mut addr: SocketAddr = ([127, 0, 0, 1], 0).into();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => {
                let value = args.next().ok_or("--listen needs an address")?;
                addr = value
                    .parse()
                    .map_err(|_| format!("--listen: {value:?} is not an address"))?;
            }
            other => return Err(format!("unknown argument {other:?} (usage: --listen ADDR)")),
        }
    }
    if !addr.ip().is_loopback() {
        return Err(format!(
            "{addr} is not a loopback address: this server takes no credentials"
        ));
    }
    Ok(addr)
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let addr = match listen_addr() {
        Ok(addr) => addr,
        Err(message) => {
            let _ = writeln!(std::io::stderr(), "conformance-server: {message}");
            return std::process::ExitCode::from(64);
        }
    };
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(error) => {
            let _ = writeln!(
                std::io::stderr(),
                "conformance-server: cannot listen on {addr}: {}",
                error.kind()
            );
            return std::process::ExitCode::from(69);
        }
    };
    let Ok(local) = listener.local_addr() else {
        return std::process::ExitCode::from(69);
    };
    let port = local.port();
    // A page served from this very address may call it (the suite checks that localhost
    // origins are accepted and others refused); no other origin.
    let options = HttpOptions {
        allowed_origins: vec![
            format!("http://127.0.0.1:{port}"),
            format!("http://localhost:{port}"),
            format!("http://[::1]:{port}"),
        ],
        ..HttpOptions::default()
    };
    let (header_timeout, drain_timeout) = (options.header_timeout, options.drain_timeout);
    let app = http::app(
        Conformance {
            fixtures: Arc::new(Fixtures::new()),
        },
        options,
    );
    // Installed before anything is announced: a supervisor may stop us as soon as it reads it.
    let stop = http::stop_signal();
    let _ = writeln!(
        std::io::stdout(),
        "conformance-server listening on http://{local}/mcp"
    );
    let _ = std::io::stdout().flush();
    let served = http::serve(app, listener, header_timeout, drain_timeout, stop).await;
    match served {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            let _ = writeln!(std::io::stderr(), "conformance-server: {error}");
            std::process::ExitCode::from(74)
        }
    }
}
