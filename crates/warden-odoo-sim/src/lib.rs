//! An in-memory Odoo stand-in for odoo-warden's tests and demo.
//!
//! It serves Odoo 18's XML-RPC (`/xmlrpc/2/*` and the legacy `/xmlrpc/*`), JSON-RPC
//! (`/jsonrpc`), the web-session routes (`/web/session/*`, `/web/dataset/call_kw`) and, when
//! pretending to be Odoo 19, JSON-2 (`/json/2/<model>/<method>`), with the wire formats, statuses
//! and error bodies of a real server, over a demo database with access rights, record rules and
//! field groups. Faults and latency can be injected to test clients.
//!
//! The demo database is the one of the Odoo 18 test kit (`../shared/odoo`): the same ids, values
//! and users, and the behaviours a gateway's security depends on, each checked against the kit's
//! server by `crates/warden-odoo/tests/fidelity.rs`.

mod db;
mod domain;
mod error;
mod model;
mod orm;
mod rpc;
mod search;
mod seed;
mod values;
mod xmlrpc;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Which Odoo the simulator pretends to be. V18 is the default (the recordings' server);
/// V19 additionally serves JSON-2 (`/json/2/...`) and reports version 19.0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OdooVersion {
    /// Odoo 18.0.
    #[default]
    V18,
    /// Odoo 19.0 (adds JSON-2).
    V19,
}

/// How to start a simulator.
#[derive(Clone, Debug)]
pub struct SimOptions {
    /// Which Odoo to pretend to be; default V18.
    pub version: OdooVersion,
    /// The one database's name; default "odoo".
    pub database: String,
    /// login -> API key; logins not listed get a random 40-hex key.
    pub api_keys: BTreeMap<String, String>,
    /// Added before every answer; default zero.
    pub latency: Duration,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            version: OdooVersion::V18,
            database: "odoo".to_owned(),
            api_keys: BTreeMap::new(),
            latency: Duration::ZERO,
        }
    }
}

/// A fault injected into every following request until changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Fault {
    /// Answer normally.
    #[default]
    None,
    /// Answer only after this delay.
    Delay(Duration),
    /// Close the connection without answering.
    DropConnection,
    /// HTTP 500, text/html body.
    Http500,
    /// HTTP 200 with the usual content type and a body that does not parse.
    Garbage,
}

/// A demo user that can log in (its password equals its login).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DemoUser {
    /// Login, which is also the password.
    pub login: String,
    /// User id.
    pub uid: i64,
    /// Display name.
    pub name: String,
    /// The user's API key on this simulator.
    pub api_key: String,
}

/// State shared by the connections of one simulator.
pub(crate) struct Shared {
    pub(crate) version: OdooVersion,
    pub(crate) database: String,
    pub(crate) api_keys: BTreeMap<String, String>,
    pub(crate) db: Mutex<db::Db>,
    pub(crate) sessions: Mutex<HashMap<String, i64>>,
    pub(crate) fault: Mutex<Fault>,
    pub(crate) latency: Mutex<Duration>,
    pub(crate) requests: AtomicU64,
}

/// A running simulator.
#[derive(Debug)]
pub struct SimHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("version", &self.version)
            .field("database", &self.database)
            .finish_non_exhaustive()
    }
}

fn random_key() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..40)
        .map(|_| char::from_digit(rng.random_range(0..16), 16).unwrap_or('0'))
        .collect()
}

/// Start a simulator on an already-bound listener (tests bind 127.0.0.1:0).
// Async, like `start`, so that callers need not change if setting up ever waits.
#[allow(clippy::unused_async)]
pub async fn serve(listener: TcpListener, options: SimOptions) -> std::io::Result<SimHandle> {
    let addr = listener.local_addr()?;
    let mut api_keys = BTreeMap::new();
    for user in seed::USERS {
        let key = options
            .api_keys
            .get(user.login)
            .cloned()
            .unwrap_or_else(random_key);
        api_keys.insert(user.login.to_owned(), key);
    }
    let shared = Arc::new(Shared {
        version: options.version,
        database: options.database,
        api_keys,
        db: Mutex::new(seed::seed()),
        sessions: Mutex::new(HashMap::new()),
        fault: Mutex::new(Fault::None),
        latency: Mutex::new(options.latency),
        requests: AtomicU64::new(0),
    });
    let (stop, stop_rx) = watch::channel(false);
    let task = tokio::spawn(accept_loop(listener, Arc::clone(&shared), stop_rx));
    tracing::info!(%addr, "odoo simulator listening");
    Ok(SimHandle {
        addr,
        shared,
        stop,
        task,
    })
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let shared = Arc::clone(&shared);
                connections.spawn(async move {
                    let service = service_fn(move |req| rpc::handle(Arc::clone(&shared), req));
                    if let Err(e) = hyper::server::conn::http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), service)
                        .await
                    {
                        tracing::debug!(%peer, error = %e, "connection ended");
                    }
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.shutdown().await;
}

/// Convenience: bind `addr` and serve.
pub async fn start(addr: SocketAddr, options: SimOptions) -> std::io::Result<SimHandle> {
    serve(TcpListener::bind(addr).await?, options).await
}

impl SimHandle {
    /// The address the simulator listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL, e.g. `http://127.0.0.1:8069`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The database name.
    pub fn database(&self) -> &str {
        &self.shared.database
    }

    /// The API key of a demo user.
    pub fn api_key(&self, login: &str) -> Option<String> {
        self.shared.api_keys.get(login).cloned()
    }

    /// The demo users (login = password, uid, name, API key).
    pub fn demo_users(&self) -> Vec<DemoUser> {
        seed::USERS
            .iter()
            .map(|u| DemoUser {
                login: u.login.to_owned(),
                uid: u.uid,
                name: u.name.to_owned(),
                api_key: self.api_key(u.login).unwrap_or_default(),
            })
            .collect()
    }

    /// Inject a fault into every following request.
    pub fn set_fault(&self, fault: Fault) {
        *self
            .shared
            .fault
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = fault;
    }

    /// Change the latency added before every answer.
    pub fn set_latency(&self, latency: Duration) {
        *self
            .shared
            .latency
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = latency;
    }

    /// Every web session becomes unknown (code 100 on the next call).
    pub fn expire_sessions(&self) {
        self.shared
            .sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// HTTP requests received so far.
    pub fn request_count(&self) -> u64 {
        self.shared
            .requests
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Stop accepting and close every connection.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}
