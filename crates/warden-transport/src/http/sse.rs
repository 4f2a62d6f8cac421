//! Server-Sent Events: the stream answering one request (its progress notifications, the
//! confirmation the legacy server asks for, then the response) when the backend sends anything
//! before the response, and the idle stream of a legacy session's GET.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Frame;
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot, watch};

use super::{Backend, Body};

/// A body fed by a channel: each item is one chunk; the body ends when the sender is dropped.
pub(crate) struct ChannelBody {
    rx: mpsc::Receiver<Bytes>,
}

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.rx
            .poll_recv(cx)
            .map(|chunk| chunk.map(|c| Ok(Frame::data(c))))
    }
}

fn event(message: &Value) -> Bytes {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"event: message\ndata: ");
    // Compact JSON holds no newline: one data line per event.
    let _ = serde_json::to_writer(&mut out, message);
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

fn stream_response(rx: mpsc::Receiver<Bytes>) -> Response<Body> {
    let mut response = Response::new(ChannelBody { rx }.boxed());
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// How a request is answered: one JSON value (the response, or nothing), or a stream.
pub(crate) enum Started {
    /// The response came before anything else: plain JSON (the status is the caller's to pick).
    Json(Option<Value>),
    /// The backend sent messages on the way: an SSE stream of them, then the response.
    Stream(Response<Body>),
}

/// Answer one request of a client that takes an event stream. Plain JSON when the response
/// comes before any other message (and the client takes JSON); otherwise a stream of what the
/// backend sends meanwhile, then the response. The request runs to its end whatever the client
/// does (so it is recorded); once the client has gone away, or stopped reading for longer than
/// `stall`, the backend's outbound channel is closed, so it knows nobody is listening.
pub(crate) async fn respond<B: Backend>(
    backend: B,
    session: B::Session,
    message: Bytes,
    stall: Duration,
    json_ok: bool,
) -> Started {
    let (mut start_tx, start_rx) = oneshot::channel::<Started>();
    tokio::spawn(async move {
        let (out_tx, mut out_rx) = mpsc::channel::<Value>(16);
        let work = async move { backend.handle(&session, &message, &out_tx).await };
        tokio::pin!(work);
        let mut done: Option<Option<Value>> = None;
        let mut first: Option<Value> = None;
        tokio::select! {
            biased;
            response = &mut work => done = Some(response),
            Some(sent) = out_rx.recv() => first = Some(sent),
            () = start_tx.closed() => {
                out_rx.close();
                let _ = (&mut work).await;
                return;
            }
        }
        if first.is_none() {
            first = out_rx.try_recv().ok();
        }
        if let (Some(response), None, true) = (&mut done, &first, json_ok) {
            let _ = start_tx.send(Started::Json(response.take()));
            return;
        }
        let (body_tx, body_rx) = mpsc::channel::<Bytes>(32);
        let mut gone = start_tx
            .send(Started::Stream(stream_response(body_rx)))
            .is_err();
        if let Some(sent) = first
            && !gone
        {
            gone = !deliver(&body_tx, event(&sent), stall).await;
        }
        while done.is_none() {
            if gone {
                out_rx.close();
            }
            tokio::select! {
                biased;
                response = &mut work => done = Some(response),
                Some(sent) = out_rx.recv(), if !gone => {
                    gone = !deliver(&body_tx, event(&sent), stall).await;
                }
                () = body_tx.closed(), if !gone => gone = true,
            }
        }
        while let Ok(sent) = out_rx.try_recv() {
            if gone || !deliver(&body_tx, event(&sent), stall).await {
                gone = true;
                break;
            }
        }
        if let (Some(Some(response)), false) = (done, gone) {
            let _ = deliver(&body_tx, event(&response), stall).await;
        }
    });
    start_rx.await.unwrap_or(Started::Json(None))
}

/// Hand `chunk` to the body within `stall`; whether the client took it.
async fn deliver(tx: &mpsc::Sender<Bytes>, chunk: Bytes, stall: Duration) -> bool {
    matches!(
        tokio::time::timeout(stall, tx.send(chunk)).await,
        Ok(Ok(()))
    )
}

/// A stream with nothing but keep-alive comments every `every`, until `ended` turns true or the
/// client goes away.
pub(crate) fn idle_stream(mut ended: watch::Receiver<bool>, every: Duration) -> Response<Body> {
    let (body_tx, body_rx) = mpsc::channel::<Bytes>(4);
    tokio::spawn(async move {
        if body_tx
            .send(Bytes::from_static(b": stream open\n\n"))
            .await
            .is_err()
        {
            return;
        }
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    // A client that does not read is not waited for: the comment is skipped.
                    if let Err(mpsc::error::TrySendError::Closed(_)) =
                        body_tx.try_send(Bytes::from_static(b": keep-alive\n\n"))
                    {
                        return;
                    }
                }
                changed = ended.changed() => {
                    if changed.is_err() || *ended.borrow() {
                        return;
                    }
                }
                () = body_tx.closed() => return,
            }
        }
    });
    stream_response(body_rx)
}
