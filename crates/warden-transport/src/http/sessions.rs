//! Legacy-era sessions: `initialize` over HTTP creates one, with a random `Mcp-Session-Id`
//! bound to the key that created it. Another key presenting the id gets 404, as does an ended or
//! expired session. Bounded in number (overall and per key) and in idle time.
//!
//! In a fleet (`[cluster]`), a session is also recorded in the shared store ([`Entry::shared`]),
//! which is then the authority: `super::mcp` asks it on every use, adopts a session another
//! replica opened, and forgets a local copy the store no longer has.

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
    /// Whether the fleet's store records the session (then it decides whether it still exists).
    pub(crate) shared: bool,
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

/// Whether `id` has the shape of an id [`new_id`] makes (64 lowercase hex digits): anything else
/// is unknown without asking the fleet's store.
pub(crate) fn well_formed(id: &str) -> bool {
    id.len() == 64 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
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

    /// The bounds: sessions overall, per key, and the idle time.
    pub(crate) fn bounds(&self) -> (usize, usize, Duration) {
        (self.max, self.max_per_key, self.idle)
    }

    /// Store `session` of `key` (`shared`: also recorded in the fleet's store): its id.
    pub(crate) fn insert(
        &self,
        key: &B::Principal,
        session: B::Session,
        version: &str,
        shared: bool,
    ) -> Result<String, Full> {
        let id = new_id();
        self.insert_as(&id, key, session, version, shared)?;
        Ok(id)
    }

    /// Serve here the session `id` of `key` another replica opened (recorded in the fleet's
    /// store): whether it ends.
    pub(crate) fn adopt(
        &self,
        id: &str,
        key: &B::Principal,
        session: B::Session,
        version: &str,
    ) -> Result<watch::Receiver<bool>, Full> {
        self.insert_as(id, key, session, version, true)?;
        self.lock()
            .get(id)
            .map(|entry| entry.ended.subscribe())
            .ok_or(Full::Server)
    }

    /// Forget the session `id` here (the fleet's store ended it); its streams close.
    pub(crate) fn forget(&self, id: &str) {
        if let Some(entry) = self.lock().remove(id) {
            let _ = entry.ended.send(true);
        }
    }

    /// The session `id` is served by this replica only (the fleet's store could not record it).
    pub(crate) fn keep_local(&self, id: &str) {
        if let Some(entry) = self.lock().get_mut(id) {
            entry.shared = false;
        }
    }

    fn insert_as(
        &self,
        id: &str,
        key: &B::Principal,
        session: B::Session,
        version: &str,
        shared: bool,
    ) -> Result<(), Full> {
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
        let (ended, _) = watch::channel(false);
        map.insert(
            id.to_owned(),
            Entry {
                key: key.clone(),
                session,
                version: version.to_owned(),
                last_seen: Instant::now(),
                shared,
                ended,
            },
        );
        Ok(())
    }

    /// The session `id` of `key` (touching it), or `None`: unknown, ended, expired, or another
    /// key's (which is not told apart, so ids of other keys cannot be probed).
    pub(crate) fn get(
        &self,
        id: &str,
        key: &B::Principal,
    ) -> Option<(B::Session, String, watch::Receiver<bool>, bool)> {
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
            entry.shared,
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
