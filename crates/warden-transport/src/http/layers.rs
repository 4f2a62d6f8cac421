//! The tower layers of the HTTP stack that are ours: a guard that checks (and may annotate) a
//! request before the service behind it sees it, answering itself when the check fails. The
//! client-address, Host/Origin and authentication steps are guards; see [`super::app`] for the
//! order they are composed in.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper::body::Incoming;
use hyper::{Request, Response};
use tower::{Layer, Service};

use super::Body;

/// A boxed response future.
pub(crate) type BoxFuture =
    Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

/// The check a [`GuardLayer`] runs: `Ok` lets the request through (possibly with extensions
/// added), `Err` is the answer.
pub(crate) type Check =
    Arc<dyn Fn(&mut Request<Incoming>) -> Result<(), Response<Body>> + Send + Sync>;

/// A layer running `check` before the inner service.
#[derive(Clone)]
pub(crate) struct GuardLayer {
    check: Check,
}

impl GuardLayer {
    pub(crate) fn new(
        check: impl Fn(&mut Request<Incoming>) -> Result<(), Response<Body>> + Send + Sync + 'static,
    ) -> Self {
        Self {
            check: Arc::new(check),
        }
    }
}

impl<S> Layer<S> for GuardLayer {
    type Service = Guard<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Guard {
            inner,
            check: Arc::clone(&self.check),
        }
    }
}

/// The service of a [`GuardLayer`].
#[derive(Clone)]
pub(crate) struct Guard<S> {
    inner: S,
    check: Check,
}

impl<S> Service<Request<Incoming>> for Guard<S>
where
    S: Service<Request<Incoming>, Response = Response<Body>, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<Incoming>) -> Self::Future {
        match (self.check)(&mut request) {
            Ok(()) => Box::pin(self.inner.call(request)),
            Err(response) => Box::pin(async move { Ok(response) }),
        }
    }
}
