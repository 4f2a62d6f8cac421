//! The asynchronous, bounded pipeline between requests and sinks.
//!
//! Each sink has its own bounded queue and its own thread, so a slow webhook never holds up the
//! file. What happens when a sink cannot keep up or cannot write is the sink's
//! [`FailurePolicy`]:
//! - [`FailurePolicy::Block`] (fail closed): [`Auditor::record`] waits until the event is
//!   recorded, at most the policy's timeout, and fails otherwise, so the request fails with a
//!   clear error; [`Auditor::ready`] refuses new requests while the sink is failing, before they
//!   reach Odoo. A batch that failed is kept and retried with backoff: nothing is dropped
//!   unless the queue overflows, and that is counted as below.
//! - [`FailurePolicy::Drop`]: the request goes on; events that do not fit in the queue or that
//!   the sink failed to write are counted ([`SinkStats::dropped`]) and, as soon as the sink
//!   writes again, a [`Gap`] event records how many were lost, since when, and why.
//!
//! A sink may make events for the others ([`Sink::emits`]: the file sink's checkpoints); its
//! thread queues them to every sink that does not make events itself, without waiting (a full queue counts them as
//! dropped, as above). Such sinks are flushed and closed first, so that the checkpoint they make
//! at shutdown still reaches the others.
//!
//! [`Auditor::shutdown`] flushes every queue and closes every sink.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::oneshot;

use crate::alerts::{AlertConfig, AlertDetector, Check, CheckKind, MAX_IPS_PER_KEY, SharedWindows};
use crate::event::{AuditEvent, Gap, format_time};
use crate::sink::{Sink, SinkError};

/// What a sink does when it cannot keep up or cannot write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailurePolicy {
    /// Fail closed: a request fails if its event is not recorded within `timeout`.
    Block {
        /// How long a request waits for its event to be recorded.
        timeout: Duration,
    },
    /// Go on, count what is lost, and record a gap event when the sink recovers.
    Drop,
}

/// The options of one sink in the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SinkOptions {
    /// What happens when the sink cannot keep up or cannot write.
    pub policy: FailurePolicy,
    /// Events queued for the sink at most (default 4,096).
    pub queue_capacity: usize,
}

impl Default for SinkOptions {
    fn default() -> Self {
        Self {
            policy: FailurePolicy::Block {
                timeout: Duration::from_secs(2),
            },
            queue_capacity: 4096,
        }
    }
}

/// Why an event could not be recorded (fail-closed sinks only). The message is what a client
/// may be told: it names the sink, never a path or a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// A fail-closed sink is failing: new requests are refused until it recovers.
    #[error("the audit log ({sink}) cannot be written; requests are refused until it recovers")]
    Unavailable {
        /// The sink.
        sink: String,
    },
    /// The event was not recorded within the sink's timeout.
    #[error("the audit log ({sink}) did not record the request in time")]
    Timeout {
        /// The sink.
        sink: String,
    },
    /// The pipeline has been shut down.
    #[error("the audit log is shut down")]
    Closed,
}

/// Counters of one sink, for metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SinkStats {
    /// The sink's name.
    pub name: String,
    /// Events waiting in its queue.
    pub queued: u64,
    /// Events it recorded (gap events included).
    pub written: u64,
    /// Events it lost (queue full, or a failed write under [`FailurePolicy::Drop`]).
    pub dropped: u64,
    /// Writes that failed.
    pub failures: u64,
    /// Whether its last write failed.
    pub failing: bool,
}

type Ack = oneshot::Sender<Result<(), String>>;

enum Message {
    Event(Arc<AuditEvent>, Option<Ack>),
    Flush(oneshot::Sender<()>),
    /// Write what is queued before it, close the sink, end.
    Close(oneshot::Sender<()>),
}

#[derive(Default)]
struct Counters {
    queued: AtomicU64,
    written: AtomicU64,
    dropped: AtomicU64,
    failures: AtomicU64,
    failing: AtomicBool,
    /// Dropped events not yet reported by a gap event, with the time and reason of the first.
    pending_gap: Mutex<Option<PendingGap>>,
}

struct PendingGap {
    dropped: u64,
    since: SystemTime,
    reason: String,
}

impl Counters {
    fn drop_events(&self, count: u64, reason: &str) {
        self.dropped.fetch_add(count, Ordering::Relaxed);
        let mut pending = self
            .pending_gap
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match pending.as_mut() {
            Some(gap) => gap.dropped += count,
            None => {
                *pending = Some(PendingGap {
                    dropped: count,
                    since: SystemTime::now(),
                    reason: reason.to_owned(),
                });
            }
        }
    }
}

struct SinkHandle {
    name: String,
    options: SinkOptions,
    tx: SyncSender<Message>,
    counters: Arc<Counters>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// Whether the sink makes events for the others ([`Sink::emits`]).
    emits: bool,
}

/// Another sink's queue, where an emitting sink's thread puts what it made.
#[derive(Clone)]
struct Target {
    tx: SyncSender<Message>,
    counters: Arc<Counters>,
}

struct Inner {
    sinks: Vec<SinkHandle>,
    alerts: Option<Mutex<AlertDetector>>,
    /// A fleet's shared alert windows, and the bound on the checks waiting for them.
    shared: std::sync::RwLock<Option<SharedAlerts>>,
    closed: AtomicBool,
}

fn shared_alerts(windows: Arc<dyn SharedWindows>) -> SharedAlerts {
    (
        windows,
        Arc::new(tokio::sync::Semaphore::new(MAX_SHARED_CHECKS)),
    )
}

/// A fleet's shared alert windows and the bound on the checks waiting for them.
type SharedAlerts = (Arc<dyn SharedWindows>, Arc<tokio::sync::Semaphore>);

/// Alert checks waiting for a fleet's shared windows at the same time, at most; beyond, an
/// event's alerts are decided by this process's own windows.
const MAX_SHARED_CHECKS: usize = 256;

/// The audit pipeline: a cheap, cloneable handle. With no sink it records nothing and never
/// fails ([`Auditor::disabled`]).
#[derive(Clone)]
pub struct Auditor {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Auditor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auditor")
            .field(
                "sinks",
                &self.inner.sinks.iter().map(|s| &s.name).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// Builds an [`Auditor`].
#[derive(Default)]
pub struct AuditorBuilder {
    sinks: Vec<(Box<dyn Sink>, SinkOptions)>,
    alerts: Option<AlertConfig>,
    shared: Option<Arc<dyn SharedWindows>>,
}

impl AuditorBuilder {
    /// Add a sink with its options.
    #[must_use]
    pub fn sink(mut self, sink: impl Sink, options: SinkOptions) -> Self {
        self.sinks.push((Box::new(sink), options));
        self
    }

    /// Add a boxed sink with its options.
    #[must_use]
    pub fn boxed_sink(mut self, sink: Box<dyn Sink>, options: SinkOptions) -> Self {
        self.sinks.push((sink, options));
        self
    }

    /// Detect alerts on the recorded requests with `config`.
    #[must_use]
    pub fn alerts(mut self, config: AlertConfig) -> Self {
        self.alerts = Some(config);
        self
    }

    /// Decide the alerts' windows with a fleet's `windows` (see [`SharedWindows`]), falling back
    /// to this process's own when they do not answer. Needs a tokio runtime when events are
    /// recorded; without one, this process's windows decide.
    #[must_use]
    pub fn shared_alerts(mut self, windows: Arc<dyn SharedWindows>) -> Self {
        self.shared = Some(windows);
        self
    }

    /// Start one thread per sink.
    pub fn build(self) -> Result<Auditor, SinkError> {
        // Every queue exists before any thread starts: an emitting sink's thread gets the
        // queues of the sinks that do not emit. (Not those of other emitting sinks: two threads
        // holding each other's queues would keep both open for ever.)
        let emits: Vec<bool> = self.sinks.iter().map(|(sink, _)| sink.emits()).collect();
        let queues: Vec<_> = self
            .sinks
            .iter()
            .map(|(_, options)| {
                let (tx, rx) = sync_channel(options.queue_capacity.max(1));
                (tx, rx, Arc::new(Counters::default()))
            })
            .collect();
        let targets: Vec<Target> = queues
            .iter()
            .zip(&emits)
            .filter(|(_, emits)| !**emits)
            .map(|((tx, _, counters), _)| Target {
                tx: tx.clone(),
                counters: Arc::clone(counters),
            })
            .collect();
        let relays: Vec<Vec<Target>> = emits
            .iter()
            .map(|emits| if *emits { targets.clone() } else { Vec::new() })
            .collect();
        drop(targets);
        let mut sinks = Vec::with_capacity(self.sinks.len());
        for (((sink, options), (tx, rx, counters)), relay) in
            self.sinks.into_iter().zip(queues).zip(relays)
        {
            let name = sink.name().to_owned();
            let emits = sink.emits();
            let worker = Worker {
                sink,
                rx,
                counters: Arc::clone(&counters),
                policy: options.policy,
                relay,
            };
            let thread = std::thread::Builder::new()
                .name(format!("audit-{name}"))
                .spawn(move || worker.run())
                .map_err(|e| SinkError::new(format!("cannot start the {name} sink: {e}")))?;
            sinks.push(SinkHandle {
                name,
                options,
                tx,
                counters,
                thread: Mutex::new(Some(thread)),
                emits,
            });
        }
        Ok(Auditor {
            inner: Arc::new(Inner {
                sinks,
                alerts: self.alerts.map(|c| Mutex::new(AlertDetector::new(c))),
                shared: std::sync::RwLock::new(self.shared.map(shared_alerts)),
                closed: AtomicBool::new(false),
            }),
        })
    }
}

impl Auditor {
    /// A pipeline.
    pub fn builder() -> AuditorBuilder {
        AuditorBuilder::default()
    }

    /// A pipeline with no sink: records nothing.
    pub fn disabled() -> Self {
        Self {
            inner: Arc::new(Inner {
                sinks: Vec::new(),
                alerts: None,
                shared: std::sync::RwLock::new(None),
                closed: AtomicBool::new(false),
            }),
        }
    }

    /// Whether any sink is configured.
    pub fn is_enabled(&self) -> bool {
        !self.inner.sinks.is_empty()
    }

    /// Whether a new request may start: `Err` when a fail-closed sink is failing or its queue
    /// is full, so the request is refused before it reaches Odoo.
    pub fn ready(&self) -> Result<(), AuditError> {
        if self.inner.closed.load(Ordering::Acquire) && self.is_enabled() {
            return Err(AuditError::Closed);
        }
        for sink in &self.inner.sinks {
            if let FailurePolicy::Block { .. } = sink.options.policy {
                let full = sink.counters.queued.load(Ordering::Relaxed)
                    >= sink.options.queue_capacity as u64;
                if sink.counters.failing.load(Ordering::Relaxed) || full {
                    return Err(AuditError::Unavailable {
                        sink: sink.name.clone(),
                    });
                }
            }
        }
        Ok(())
    }

    /// Record `event` in every sink, and any alert it raises. Waits for the fail-closed sinks
    /// (each at most its timeout) and fails if one did not record it; never waits for the
    /// others.
    pub async fn record(&self, event: AuditEvent) -> Result<(), AuditError> {
        let alerts = self.detect(&event);
        let result = self.send(Arc::new(event), true).await;
        for alert in alerts {
            let _ = self.send(Arc::new(alert), false).await;
        }
        result
    }

    /// Record `event` without waiting for any sink (an event whose request is refused anyway,
    /// such as a failed authentication). A full queue counts it as dropped.
    pub fn record_nowait(&self, event: AuditEvent) {
        let alerts = self.detect(&event);
        for event in std::iter::once(event).chain(alerts) {
            let event = Arc::new(event);
            for sink in &self.inner.sinks {
                enqueue_now(sink, Message::Event(Arc::clone(&event), None));
            }
        }
    }

    /// The alerts `event` raises now. In a fleet, the checks the shared windows decide are
    /// sent to them in the background and their alerts recorded when they answer (this
    /// process's own decision when they do not).
    fn detect(&self, event: &AuditEvent) -> Vec<AuditEvent> {
        let Some(detector) = &self.inner.alerts else {
            return Vec::new();
        };
        let checks = detector
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .checks(event);
        let shared = self
            .inner
            .shared
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let Some((windows, bound)) = shared else {
            return checks.into_iter().filter_map(|c| c.local).collect();
        };
        let (shared, local): (Vec<Check>, Vec<Check>) =
            checks.into_iter().partition(|c| c.kind != CheckKind::Local);
        let mut now: Vec<AuditEvent> = local.into_iter().filter_map(|c| c.local).collect();
        if shared.is_empty() {
            return now;
        }
        let permit = bound.try_acquire_owned();
        match (tokio::runtime::Handle::try_current(), permit) {
            (Ok(runtime), Ok(permit)) => {
                let auditor = self.clone();
                runtime.spawn(async move {
                    for check in shared {
                        let raised = match &check.kind {
                            CheckKind::Burst(threshold) => windows
                                .hit(check.name, &check.who, *threshold)
                                .await
                                .map(|count| count.map(|n| check.shared_alert(Some(n)))),
                            CheckKind::NewAddress { address } => windows
                                .new_address(&check.who, address, MAX_IPS_PER_KEY)
                                .await
                                .map(|new| new.then(|| check.shared_alert(None))),
                            CheckKind::Local => Ok(check.local.clone()),
                        };
                        if let Some(alert) = raised.unwrap_or(check.local) {
                            auditor.enqueue_nowait(alert);
                        }
                    }
                    drop(permit);
                });
            }
            _ => now.extend(shared.into_iter().filter_map(|c| c.local)),
        }
        now
    }

    /// Decide the alerts' windows with a fleet's `windows` from now on, or with this process's
    /// own (`None`): what a reload does when `[cluster]` changed.
    pub fn set_shared_alerts(&self, windows: Option<Arc<dyn SharedWindows>>) {
        *self
            .inner
            .shared
            .write()
            .unwrap_or_else(PoisonError::into_inner) = windows.map(shared_alerts);
    }

    /// Queue `event` in every sink without waiting and without looking for alerts.
    fn enqueue_nowait(&self, event: AuditEvent) {
        let event = Arc::new(event);
        for sink in &self.inner.sinks {
            enqueue_now(sink, Message::Event(Arc::clone(&event), None));
        }
    }

    async fn send(&self, event: Arc<AuditEvent>, wait: bool) -> Result<(), AuditError> {
        if self.inner.closed.load(Ordering::Acquire) {
            return if self.is_enabled() {
                Err(AuditError::Closed)
            } else {
                Ok(())
            };
        }
        let mut waits = Vec::new();
        for sink in &self.inner.sinks {
            match sink.options.policy {
                FailurePolicy::Block { timeout } if wait => {
                    let deadline = Instant::now() + timeout;
                    let (ack_tx, ack_rx) = oneshot::channel();
                    let queued = enqueue_until(
                        sink,
                        Message::Event(Arc::clone(&event), Some(ack_tx)),
                        deadline,
                    )
                    .await;
                    if !queued {
                        sink.counters.drop_events(1, "queue full");
                        return Err(AuditError::Timeout {
                            sink: sink.name.clone(),
                        });
                    }
                    waits.push((sink, deadline, ack_rx));
                }
                _ => enqueue_now(sink, Message::Event(Arc::clone(&event), None)),
            }
        }
        let mut first_error = None;
        for (sink, deadline, ack) in waits {
            let left = deadline.saturating_duration_since(Instant::now());
            let error = match tokio::time::timeout(left, ack).await {
                Ok(Ok(Ok(()))) => continue,
                Ok(Ok(Err(_))) => AuditError::Unavailable {
                    sink: sink.name.clone(),
                },
                Ok(Err(_)) => AuditError::Closed,
                Err(_) => AuditError::Timeout {
                    sink: sink.name.clone(),
                },
            };
            first_error.get_or_insert(error);
        }
        match first_error {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// Wait until every sink has handled what was queued before the call (written and flushed
    /// it, or failed to and applied its failure policy: a `block` sink's failure is reported to
    /// the requests waiting for their events, a `drop` sink's losses are counted in
    /// [`Auditor::stats`]), at most `timeout`. Returns whether all sinks got that far in time;
    /// `true` does not mean that every write succeeded.
    pub async fn flush(&self, timeout: Duration) -> bool {
        self.tell_all(Message::Flush, timeout).await
    }

    /// Flush and stop: no event is accepted afterwards; every sink writes what is queued and is
    /// closed, within `timeout`. Returns whether all finished in time.
    pub async fn shutdown(&self, timeout: Duration) -> bool {
        self.inner.closed.store(true, Ordering::Release);
        self.tell_all(Message::Close, timeout).await
    }

    /// Queue `message` (made with its acknowledgement) behind what every sink has queued, and
    /// wait for all acknowledgements, at most `timeout` in all. The sinks that emit events for
    /// the others go first, so that what they make on the way is queued before the others get
    /// the message.
    async fn tell_all(
        &self,
        message: fn(oneshot::Sender<()>) -> Message,
        timeout: Duration,
    ) -> bool {
        let deadline = Instant::now() + timeout;
        let mut all = true;
        for emitting in [true, false] {
            let mut waits = Vec::new();
            let mut told = 0usize;
            for sink in self.inner.sinks.iter().filter(|s| s.emits == emitting) {
                told += 1;
                let (tx, rx) = oneshot::channel();
                if enqueue_until(sink, message(tx), deadline).await {
                    waits.push(rx);
                }
            }
            all &= waits.len() == told;
            let left = deadline.saturating_duration_since(Instant::now());
            all &= tokio::time::timeout(left, async {
                for rx in waits {
                    let _ = rx.await;
                }
            })
            .await
            .is_ok();
        }
        all
    }

    /// Stop from a synchronous context (a binary's last lines): flush, close every sink and
    /// wait for its thread, at most `timeout` in all.
    pub fn shutdown_blocking(&self, timeout: Duration) -> bool {
        self.inner.closed.store(true, Ordering::Release);
        let deadline = Instant::now() + timeout;
        let mut all = true;
        // The emitting sinks first (see `tell_all`).
        let ordered = self
            .inner
            .sinks
            .iter()
            .filter(|s| s.emits)
            .chain(self.inner.sinks.iter().filter(|s| !s.emits));
        for sink in ordered {
            let (tx, mut rx) = oneshot::channel();
            if !enqueue_blocking(sink, Message::Close(tx), deadline) {
                all = false;
                continue;
            }
            loop {
                match rx.try_recv() {
                    // Done, or the worker is gone (nothing more will be written).
                    Ok(()) | Err(oneshot::error::TryRecvError::Closed) => break,
                    Err(oneshot::error::TryRecvError::Empty) if Instant::now() >= deadline => {
                        all = false;
                        break;
                    }
                    Err(oneshot::error::TryRecvError::Empty) => {
                        std::thread::sleep(Duration::from_millis(2));
                    }
                }
            }
        }
        all
    }

    /// The counters of every sink.
    pub fn stats(&self) -> Vec<SinkStats> {
        self.inner
            .sinks
            .iter()
            .map(|sink| SinkStats {
                name: sink.name.clone(),
                queued: sink.counters.queued.load(Ordering::Relaxed),
                written: sink.counters.written.load(Ordering::Relaxed),
                dropped: sink.counters.dropped.load(Ordering::Relaxed),
                failures: sink.counters.failures.load(Ordering::Relaxed),
                failing: sink.counters.failing.load(Ordering::Relaxed),
            })
            .collect()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The last handle is gone: the queues close, each worker writes what is left, closes
        // its sink and ends. Joining here makes sure the record is complete when the process
        // goes on to exit. The emitting sinks end first: their threads hold the others' queues
        // (which stay open until then) and may still queue to them on the way out.
        let sinks = std::mem::take(&mut self.sinks);
        let (emitting, others): (Vec<SinkHandle>, Vec<SinkHandle>) =
            sinks.into_iter().partition(|s| s.emits);
        for group in [emitting, others] {
            let threads: Vec<JoinHandle<()>> = group
                .into_iter()
                .filter_map(|sink| {
                    drop(sink.tx);
                    sink.thread
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .take()
                })
                .collect();
            for thread in threads {
                let _ = thread.join();
            }
        }
    }
}

/// One attempt to queue `message`, keeping the queue-depth counter right: `Err(Some(message))`
/// when the queue is full, `Err(None)` when the sink's thread is gone.
fn try_enqueue(sink: &SinkHandle, message: Message) -> Result<(), Option<Message>> {
    try_send(&sink.tx, &sink.counters, message)
}

fn try_send(
    tx: &SyncSender<Message>,
    counters: &Counters,
    message: Message,
) -> Result<(), Option<Message>> {
    counters.queued.fetch_add(1, Ordering::Relaxed);
    tx.try_send(message).map_err(|error| {
        counters.queued.fetch_sub(1, Ordering::Relaxed);
        match error {
            TrySendError::Full(back) => Some(back),
            TrySendError::Disconnected(_) => None,
        }
    })
}

/// Queue `message` if there is room; a full queue counts it as dropped.
fn enqueue_now(sink: &SinkHandle, message: Message) {
    if let Err(Some(_)) = try_enqueue(sink, message) {
        sink.counters.drop_events(1, "queue full");
    }
}

/// Queue `message`, waiting for room until `deadline` without blocking the runtime.
async fn enqueue_until(sink: &SinkHandle, mut message: Message, deadline: Instant) -> bool {
    let mut pause = Duration::from_micros(200);
    loop {
        match try_enqueue(sink, message) {
            Ok(()) => return true,
            Err(Some(back)) if Instant::now() < deadline => {
                message = back;
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(20));
            }
            Err(_) => return false,
        }
    }
}

/// [`enqueue_until`] from a synchronous context.
fn enqueue_blocking(sink: &SinkHandle, mut message: Message, deadline: Instant) -> bool {
    loop {
        match try_enqueue(sink, message) {
            Ok(()) => return true,
            Err(Some(back)) if Instant::now() < deadline => {
                message = back;
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(_) => return false,
        }
    }
}

struct Worker {
    sink: Box<dyn Sink>,
    rx: Receiver<Message>,
    counters: Arc<Counters>,
    policy: FailurePolicy,
    /// The queues of the sinks that make no events, for what this sink makes
    /// ([`Sink::take_emitted`]); empty for a sink that makes nothing.
    relay: Vec<Target>,
}

/// Longest pause between two attempts of a failing sink.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

impl Worker {
    fn run(mut self) {
        let batching = self.sink.batching();
        let max_events = batching.max_events.max(1);
        let mut backoff = Duration::from_millis(50);
        let mut carried: Vec<(Arc<AuditEvent>, Option<Ack>)> = Vec::new();
        let mut flushes: Vec<oneshot::Sender<()>> = Vec::new();
        let mut open = true;
        let mut last_write: Option<(Instant, usize)> = None;
        let mut closer: Option<oneshot::Sender<()>> = None;
        let tick = self.sink.tick_interval();
        while open || !carried.is_empty() {
            let mut batch = std::mem::take(&mut carried);
            if batch.is_empty() {
                match self.next_message(tick) {
                    Ok(Message::Event(event, ack)) => {
                        self.counters.queued.fetch_sub(1, Ordering::Relaxed);
                        batch.push((event, ack));
                    }
                    Ok(Message::Flush(done)) => {
                        self.counters.queued.fetch_sub(1, Ordering::Relaxed);
                        self.flush(done);
                        continue;
                    }
                    Ok(Message::Close(done)) => {
                        self.counters.queued.fetch_sub(1, Ordering::Relaxed);
                        closer = Some(done);
                        break;
                    }
                    Err(_) => break,
                }
            }
            // Gather more, up to the batch size. A busy sink (its previous write had company)
            // waits until `max_wait` after that write, gathering what arrives meanwhile; a quiet
            // one writes at once, so a lone request never waits for the interval.
            let now = Instant::now();
            let deadline = match last_write {
                Some((at, events)) if events > 1 => (at + batching.max_wait).max(now),
                _ => now,
            };
            while open && batch.len() < max_events && flushes.is_empty() {
                let left = deadline.saturating_duration_since(Instant::now());
                let next = if left.is_zero() {
                    self.rx.try_recv().map_err(|e| match e {
                        std::sync::mpsc::TryRecvError::Empty => RecvTimeoutError::Timeout,
                        std::sync::mpsc::TryRecvError::Disconnected => {
                            RecvTimeoutError::Disconnected
                        }
                    })
                } else {
                    self.rx.recv_timeout(left)
                };
                match next {
                    Ok(Message::Event(event, ack)) => {
                        self.counters.queued.fetch_sub(1, Ordering::Relaxed);
                        batch.push((event, ack));
                    }
                    Ok(Message::Flush(done)) => {
                        self.counters.queued.fetch_sub(1, Ordering::Relaxed);
                        flushes.push(done);
                    }
                    Ok(Message::Close(done)) => {
                        self.counters.queued.fetch_sub(1, Ordering::Relaxed);
                        closer = Some(done);
                        open = false;
                    }
                    Err(RecvTimeoutError::Timeout) => break,
                    Err(RecvTimeoutError::Disconnected) => open = false,
                }
            }
            let gap = self.take_gap();
            let mut events: Vec<Arc<AuditEvent>> = Vec::with_capacity(batch.len() + 1);
            if let Some(gap) = &gap {
                events.push(Arc::clone(gap));
            }
            events.extend(batch.iter().map(|(event, _)| Arc::clone(event)));
            let result = self.sink.write(&events);
            self.relay_emitted();
            last_write = Some((Instant::now(), batch.len()));
            match result {
                Ok(()) => {
                    backoff = Duration::from_millis(50);
                    if self.counters.failing.swap(false, Ordering::Relaxed) {
                        tracing::info!(sink = self.sink.name(), "audit sink recovered");
                    }
                    self.counters
                        .written
                        .fetch_add(events.len() as u64, Ordering::Relaxed);
                    for (_, ack) in batch {
                        if let Some(ack) = ack {
                            let _ = ack.send(Ok(()));
                        }
                    }
                }
                Err(error) => {
                    self.counters.failures.fetch_add(1, Ordering::Relaxed);
                    if !self.counters.failing.swap(true, Ordering::Relaxed) {
                        tracing::error!(sink = self.sink.name(), %error, "audit sink cannot write");
                    }
                    if let Some(gap) = gap {
                        self.restore_gap(&gap);
                    }
                    match self.policy {
                        FailurePolicy::Block { .. } if open => {
                            // Keep the batch; tell the waiting requests it failed; retry later.
                            let mut kept = Vec::with_capacity(batch.len());
                            for (event, ack) in batch {
                                if let Some(ack) = ack {
                                    let _ = ack.send(Err(error.to_string()));
                                }
                                kept.push((event, None));
                            }
                            carried = kept;
                        }
                        _ => {
                            let count = batch.len() as u64;
                            for (_, ack) in batch {
                                if let Some(ack) = ack {
                                    let _ = ack.send(Err(error.to_string()));
                                }
                            }
                            self.counters
                                .drop_events(count, &format!("write failed: {error}"));
                            if !open {
                                tracing::error!(
                                    sink = self.sink.name(),
                                    lost = count,
                                    "audit events lost at shutdown: the sink cannot write"
                                );
                            }
                        }
                    }
                    if open {
                        std::thread::sleep(backoff);
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                    }
                }
            }
            for done in flushes.drain(..) {
                self.flush(done);
            }
        }
        if let Err(error) = self.sink.close() {
            tracing::error!(sink = self.sink.name(), %error, "audit sink did not close cleanly");
        }
        self.relay_emitted();
        if let Some(done) = closer {
            let _ = done.send(());
        }
    }

    /// The next message; while none arrives, the sink's ticks (if it asks for them).
    fn next_message(&mut self, tick: Option<Duration>) -> Result<Message, ()> {
        let Some(every) = tick else {
            return self.rx.recv().map_err(|_| ());
        };
        loop {
            match self.rx.recv_timeout(every) {
                Ok(message) => return Ok(message),
                Err(RecvTimeoutError::Timeout) => {
                    if let Err(error) = self.sink.tick() {
                        tracing::error!(sink = self.sink.name(), %error, "audit sink tick failed");
                    }
                    self.relay_emitted();
                }
                Err(RecvTimeoutError::Disconnected) => return Err(()),
            }
        }
    }

    /// Queue what the sink made to the sinks that make nothing, without waiting.
    fn relay_emitted(&mut self) {
        let emitted = self.sink.take_emitted();
        for event in emitted {
            for target in &self.relay {
                let message = Message::Event(Arc::clone(&event), None);
                if let Err(Some(_)) = try_send(&target.tx, &target.counters, message) {
                    target.counters.drop_events(1, "queue full");
                }
            }
        }
    }

    fn flush(&mut self, done: oneshot::Sender<()>) {
        if let Err(error) = self.sink.flush() {
            tracing::error!(sink = self.sink.name(), %error, "audit sink cannot flush");
        }
        self.relay_emitted();
        let _ = done.send(());
    }

    fn take_gap(&self) -> Option<Arc<AuditEvent>> {
        let pending = self
            .counters
            .pending_gap
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()?;
        tracing::warn!(
            sink = self.sink.name(),
            lost = pending.dropped,
            reason = %pending.reason,
            "audit events were lost; a gap event records it"
        );
        Some(Arc::new(AuditEvent::gap(
            SystemTime::now(),
            Gap {
                sink: self.sink.name().to_owned(),
                dropped: pending.dropped,
                since: format_time(pending.since),
                reason: pending.reason,
            },
        )))
    }

    fn restore_gap(&self, gap: &AuditEvent) {
        let Some(info) = &gap.gap else { return };
        let since = humantime::parse_rfc3339(&info.since).unwrap_or_else(|_| SystemTime::now());
        let mut pending = self
            .counters
            .pending_gap
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match pending.as_mut() {
            Some(newer) => {
                newer.dropped += info.dropped;
                newer.since = since;
                newer.reason.clone_from(&info.reason);
            }
            None => {
                *pending = Some(PendingGap {
                    dropped: info.dropped,
                    since,
                    reason: info.reason.clone(),
                });
            }
        }
    }
}
