//! Legacy-era sessions: `initialize` over HTTP creates one, with a random `Mcp-Session-Id`
//! bound to the key that created it. Another key presenting the id gets 404, as does an ended or
//! expired session. Bounded in number (overall and per key) and in idle time.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::Backend;
use tokio::sync::watch;

/// One open session.
pub(crate) struct Entry<B: Backend> {
    pub(crate) key: B::Principal,
    pub(crate) session: B::Session,
    pub(crate) version: String,
    last_seen: Instant,
    /// Flips to `true` when the session ends (DELETE, expiry, shutdown): open GET streams close.
    ended: watch::Sender<bool>,
}

/// Why a session could not be created.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Full {
    /// The server holds its maximum of sessions.
    Server,
}

/// The open sessions.
pub(crate) struct Sessions<B: Backend> {
    map: Mutex<HashMap<String, Entry<B>>>,
    max: usize,
    max_per_key: usize,
    idle: Duration,
}

/// A fresh session id: 32 bytes from the operating system's CSPRNG (via rand's thread RNG,
/// reseeded ChaCha), hex.
fn new_id() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl<B: Backend> Sessions<B> {
    pub(crate) fn new(max: usize, max_per_key: usize, idle: Duration) -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
            max,
            max_per_key,
            idle,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry<B>>> {
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Store `session` of `key`: its id.
    pub(crate) fn insert(
        &self,
        key: &B::Principal,
        session: B::Session,
        version: &str,
    ) -> Result<String, Full> {
        let mut map = self.lock();
        Self::expire(&mut map, self.idle);
        // A key at its maximum gives up its least recently used session: clients that reconnect
        // without ending their sessions (DELETE) are not locked out, and the bound holds.
        let of_key = map.values().filter(|e| e.key == *key).count();
        if of_key >= self.max_per_key {
            let oldest = map
                .iter()
                .filter(|(_, e)| e.key == *key)
                .min_by_key(|(_, e)| e.last_seen)
                .map(|(id, _)| id.clone());
            if let Some(entry) = oldest.and_then(|id| map.remove(&id)) {
                let _ = entry.ended.send(true);
            }
        } else if map.len() >= self.max {
            return Err(Full::Server);
        }
        let id = new_id();
        let (ended, _) = watch::channel(false);
        map.insert(
            id.clone(),
            Entry {
                key: key.clone(),
                session,
                version: version.to_owned(),
                last_seen: Instant::now(),
                ended,
            },
        );
        Ok(id)
    }

    /// The session `id` of `key` (touching it), or `None`: unknown, ended, expired, or another
    /// key's (which is not told apart, so ids of other keys cannot be probed).
    pub(crate) fn get(
        &self,
        id: &str,
        key: &B::Principal,
    ) -> Option<(B::Session, String, watch::Receiver<bool>)> {
        let mut map = self.lock();
        let idle = self.idle;
        let entry = map.get_mut(id)?;
        if entry.key != *key {
            return None;
        }
        if entry.last_seen.elapsed() > idle {
            if let Some(entry) = map.remove(id) {
                let _ = entry.ended.send(true);
            }
            return None;
        }
        entry.last_seen = Instant::now();
        Some((
            entry.session.clone(),
            entry.version.clone(),
            entry.ended.subscribe(),
        ))
    }

    /// End the session `id` of `key`; whether there was one.
    pub(crate) fn remove(&self, id: &str, key: &B::Principal) -> bool {
        let mut map = self.lock();
        if map.get(id).is_some_and(|e| e.key == *key)
            && let Some(entry) = map.remove(id)
        {
            let _ = entry.ended.send(true);
            return true;
        }
        false
    }

    /// End every session (shutdown).
    pub(crate) fn clear(&self) {
        for (_, entry) in self.lock().drain() {
            let _ = entry.ended.send(true);
        }
    }

    /// Sessions open.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// Remove the sessions idle for longer than the limit.
    pub(crate) fn sweep(&self) {
        Self::expire(&mut self.lock(), self.idle);
    }

    fn expire(map: &mut HashMap<String, Entry<B>>, idle: Duration) {
        map.retain(|_, entry| {
            let keep = entry.last_seen.elapsed() <= idle;
            if !keep {
                let _ = entry.ended.send(true);
            }
            keep
        });
    }
}
