//! Test support shared by the HTTP tests: an app served on a loopback port, and a client.

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::time::Duration;

use warden_transport::http::{self, App, Backend};

/// An app being served on 127.0.0.1 until `stop` fires.
pub struct Served {
    /// The listener's address.
    pub addr: SocketAddr,
    /// Fire (or drop) to shut the server down gracefully.
    pub stop: tokio::sync::oneshot::Sender<()>,
    /// The serving task: the shutdown's outcome.
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Served {
    /// `http://127.0.0.1:PORT`.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.addr.port())
    }

    /// Stop and wait for the shutdown.
    pub async fn stop(self) -> std::io::Result<()> {
        let _ = self.stop.send(());
        self.task.await.expect("the server task")
    }
}

/// Serve `app` on a fresh loopback port with `header_timeout` (drain: 5 s).
pub async fn serve<B: Backend>(app: App<B>, header_timeout: Duration) -> Served {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listen");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(http::serve(
        app,
        listener,
        header_timeout,
        Duration::from_secs(5),
        async move {
            let _ = stopped.await;
        },
    ));
    Served { addr, stop, task }
}

/// An HTTP client (plain http to loopback; rustls with ring, as everywhere in the project).
pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}
