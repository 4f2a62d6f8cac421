//! The sink interface, and the stream sink (JSON lines on stdout or stderr).
//!
//! A sink runs on a thread of its own, fed by the pipeline ([`crate::Auditor`]): it may block
//! (write a file, fsync, wait for a receiver) without holding up requests. An embedding service
//! adds its own by implementing [`Sink`].

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use crate::event::AuditEvent;

/// Why a sink could not record events. The message is for the operator's log: no secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SinkError(pub String);

impl SinkError {
    /// An error with `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl From<std::io::Error> for SinkError {
    fn from(error: std::io::Error) -> Self {
        Self(error.to_string())
    }
}

/// How the pipeline hands events to a sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batching {
    /// Most events in one [`Sink::write`].
    pub max_events: usize,
    /// Under load (the previous write held more than one event), the shortest time between two
    /// writes: events that arrive sooner are gathered until then. A lone event is written at
    /// once.
    pub max_wait: Duration,
}

impl Batching {
    /// One event per write, written as soon as it arrives.
    pub const ONE: Self = Self {
        max_events: 1,
        max_wait: Duration::ZERO,
    };
}

impl Default for Batching {
    /// What is already queued (up to 256 events), without waiting for more.
    fn default() -> Self {
        Self {
            max_events: 256,
            max_wait: Duration::ZERO,
        }
    }
}

/// Where events go. Called from the sink's own thread, one call at a time.
pub trait Sink: Send + 'static {
    /// A short name for logs, metrics and gap events (e.g. `file`, `webhook`).
    fn name(&self) -> &str;

    /// Record `events`, in order. `Ok` means recorded as durably as the sink promises (for the
    /// JSONL sink: written and, per its durability setting, synced); a request waiting on the
    /// event is answered only then. On `Err` nothing of the batch may count as recorded: the
    /// sink undoes a partial write, and the pipeline retries or counts the batch as dropped.
    fn write(&mut self, events: &[Arc<AuditEvent>]) -> Result<(), SinkError>;

    /// How events are batched for [`Sink::write`].
    fn batching(&self) -> Batching {
        Batching::default()
    }

    /// Make everything written durable (shutdown, and [`crate::Auditor::flush`]).
    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }

    /// The pipeline stops: flush, and write whatever closes the record.
    fn close(&mut self) -> Result<(), SinkError> {
        self.flush()
    }

    /// Whether this sink makes events for the other sinks ([`Sink::take_emitted`]: the file
    /// sink's checkpoints). The pipeline then flushes and closes it before the others, so that
    /// what it makes last still reaches them.
    fn emits(&self) -> bool {
        false
    }

    /// The events this sink made since the last call, for the other sinks of the pipeline
    /// (those that make no events themselves). Called after every write, flush, tick and close.
    fn take_emitted(&mut self) -> Vec<Arc<AuditEvent>> {
        Vec::new()
    }

    /// How often [`Sink::tick`] is called while no event arrives (`None`: never).
    fn tick_interval(&self) -> Option<Duration> {
        None
    }

    /// Time passes: work that is due without an event (the file sink's periodic checkpoint).
    fn tick(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

/// Which standard stream a [`StreamSink`] writes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output (never with the stdio transport, whose stdout is the protocol).
    Stdout,
    /// Standard error.
    Stderr,
}

/// One JSON event per line on stdout or stderr, for container log collectors.
pub struct StreamSink {
    name: String,
    out: Box<dyn Write + Send>,
}

impl StreamSink {
    /// A sink writing to `stream`.
    pub fn new(stream: Stream) -> Self {
        let (name, out): (&str, Box<dyn Write + Send>) = match stream {
            Stream::Stdout => ("stdout", Box::new(std::io::stdout())),
            Stream::Stderr => ("stderr", Box::new(std::io::stderr())),
        };
        Self::with_writer(name, out)
    }

    /// A sink writing to `out` (tests, pipes).
    pub fn with_writer(name: impl Into<String>, out: Box<dyn Write + Send>) -> Self {
        Self {
            name: name.into(),
            out,
        }
    }
}

impl Sink for StreamSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn write(&mut self, events: &[Arc<AuditEvent>]) -> Result<(), SinkError> {
        let mut buffer = Vec::with_capacity(events.len() * 512);
        for event in events {
            serde_json::to_writer(&mut buffer, event.as_ref())
                .map_err(|e| SinkError::new(e.to_string()))?;
            buffer.push(b'\n');
        }
        self.out.write_all(&buffer)?;
        self.out.flush()?;
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.out.flush()?;
        Ok(())
    }
}
