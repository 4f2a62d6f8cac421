//! Reloading the configuration without a restart: on SIGHUP, and when a file it was read from
//! changes (the configuration file or the key store).
//!
//! A reload reads and validates the whole configuration and builds its runtime first
//! ([`crate::setup::load`]); only then does the gateway serve new requests under it
//! ([`Gateway::reload`]). A configuration that does not load is refused with one error line and
//! the previous one keeps serving. Requests in flight finish under the runtime they started
//! with. Every outcome is logged: `info` for a reload, `error` for a refused one.
//!
//! Files are watched through their folders (so that an editor's or a deployment's
//! write-then-rename is seen), filtered by name, and changes are debounced: a reload starts once
//! no change has been seen for [`DEBOUNCE`].

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::Notify;
use warden_config::Environment;
use warden_gateway::engine::Gateway;

use crate::setup::{self, SetupError};

/// How long the watched files must stay unchanged before a reload starts.
pub const DEBOUNCE: Duration = Duration::from_millis(250);

/// Most debounce rounds before a reload starts anyway (a file rewritten without pause is still
/// picked up, about every ten seconds).
const MAX_DEBOUNCE_ROUNDS: u32 = 40;

/// Reloads the configuration of a running gateway. Watching stops when the handle is dropped.
pub struct ReloadHandle {
    shared: Arc<Shared>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for ReloadHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReloadHandle")
            .field("config_path", &self.shared.config_path)
            .field("reloads", &self.reloads())
            .finish_non_exhaustive()
    }
}

/// What the watcher task, the signal handler and [`ReloadHandle::reload_now`] share.
struct Shared {
    gateway: Gateway,
    config_path: PathBuf,
    env: Environment,
    /// Held for a whole reload, so that reloads never overlap (a slower, older one must not
    /// replace a newer one).
    watch: Mutex<WatchState>,
    /// The files whose changes trigger a reload, as the watcher reports them.
    targets: Arc<RwLock<HashSet<PathBuf>>>,
    /// Successful reloads so far.
    reloads: AtomicU64,
    /// The `[cluster]` settings the gateway's shared store was built from, when reloads apply
    /// `[cluster]` (HTTP; the stdio process ignores it).
    cluster: Option<Mutex<Option<warden_config::ClusterSettings>>>,
}

struct WatchState {
    watcher: Option<RecommendedWatcher>,
    /// The folders being watched.
    dirs: BTreeSet<PathBuf>,
}

/// What started a reload, for the log.
#[derive(Clone, Copy)]
enum Trigger {
    Hangup,
    FileChange,
    Request,
}

impl Trigger {
    fn as_str(self) -> &'static str {
        match self {
            Self::Hangup => "SIGHUP",
            Self::FileChange => "file change",
            Self::Request => "request",
        }
    }
}

/// Reload `gateway`'s configuration from `config_path` (with overrides and secrets from `env`)
/// on SIGHUP and whenever one of the files it is read from changes.
///
/// The files to watch are those the configuration at `config_path` names now. Call from within
/// a Tokio runtime with its I/O and time drivers enabled; without one, only
/// [`ReloadHandle::reload_now`] reloads (an error line says so).
pub fn spawn(gateway: Gateway, config_path: PathBuf, env: Environment) -> ReloadHandle {
    let files = match warden_config::Config::load(&config_path, &env) {
        Ok(config) => config.files,
        Err(error) => {
            tracing::warn!("watching only {}: {error}", config_path.display());
            vec![config_path.clone()]
        }
    };
    // Not built from this configuration: the gateway's fleet (if any) is the caller's.
    spawn_watching(gateway, config_path, env, &files, ClusterReload::Ignore)
}

/// [`spawn`] for a gateway whose fleet was built from `cluster` (the `[cluster]` settings of
/// the configuration at `config_path`, `None` when it has none): a reload that changes
/// `[cluster]` gives the gateway and its audit pipeline a new shared store and confirmation
/// key (or none); one that does not keeps the running connection. What `odoo-warden-http` does.
pub fn spawn_with_cluster(
    gateway: Gateway,
    config_path: PathBuf,
    env: Environment,
    cluster: Option<warden_config::ClusterSettings>,
) -> ReloadHandle {
    let files = match warden_config::Config::load(&config_path, &env) {
        Ok(config) => config.files,
        Err(error) => {
            tracing::warn!("watching only {}: {error}", config_path.display());
            vec![config_path.clone()]
        }
    };
    spawn_watching(
        gateway,
        config_path,
        env,
        &files,
        ClusterReload::Apply(cluster),
    )
}

/// What reloads do with `[cluster]`.
#[expect(clippy::large_enum_variant, reason = "one per process, moved once")]
pub(crate) enum ClusterReload {
    /// Ignore it (stdio, or a gateway whose fleet the caller owns).
    Ignore,
    /// Apply a change: the gateway's shared store was built from these settings (`None`: no
    /// `[cluster]` at start).
    Apply(Option<warden_config::ClusterSettings>),
}

/// [`spawn`], watching `files` (those the running configuration was read from).
pub(crate) fn spawn_watching(
    gateway: Gateway,
    config_path: PathBuf,
    env: Environment,
    files: &[PathBuf],
    cluster: ClusterReload,
) -> ReloadHandle {
    let cluster = match cluster {
        ClusterReload::Apply(settings) => Some(Mutex::new(settings)),
        ClusterReload::Ignore => None,
    };
    let changed = Arc::new(Notify::new());
    let targets = Arc::new(RwLock::new(HashSet::new()));
    let watcher = new_watcher(Arc::clone(&targets), Arc::clone(&changed));
    let shared = Arc::new(Shared {
        gateway,
        config_path,
        env,
        watch: Mutex::new(WatchState {
            watcher,
            dirs: BTreeSet::new(),
        }),
        targets,
        reloads: AtomicU64::new(0),
        cluster,
    });
    shared.watch_files(&mut shared.lock_watch(), files);

    let task = match tokio::runtime::Handle::try_current() {
        Ok(runtime) => {
            let hangup = hangup_signal();
            Some(runtime.spawn(watch_loop(Arc::clone(&shared), changed, hangup)))
        }
        Err(_) => {
            tracing::error!(
                "no async runtime: the configuration is reloaded neither on SIGHUP nor on file \
                 changes"
            );
            None
        }
    };
    ReloadHandle { shared, task }
}

impl ReloadHandle {
    /// Reload now, as SIGHUP does, and say how it went. Blocks while the configuration is read
    /// and built.
    pub fn reload_now(&self) -> Result<(), SetupError> {
        self.shared.reload(Trigger::Request)
    }

    /// How many reloads succeeded since [`spawn`].
    pub fn reloads(&self) -> u64 {
        self.shared.reloads.load(Ordering::SeqCst)
    }
}

impl Drop for ReloadHandle {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
        let mut state = self.shared.lock_watch();
        state.watcher = None;
        state.dirs.clear();
    }
}

impl Shared {
    fn lock_watch(&self) -> std::sync::MutexGuard<'_, WatchState> {
        self.watch.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn reload(&self, trigger: Trigger) -> Result<(), SetupError> {
        let mut state = self.lock_watch();
        match setup::load(&self.config_path, &self.env) {
            Ok(mut loaded) => {
                loaded.warn_risks();
                if let Err(error) = self.apply_cluster(loaded.cluster.take()) {
                    tracing::error!(
                        "configuration reload ({}) refused, the previous configuration keeps \
                         serving: {error}",
                        trigger.as_str()
                    );
                    return Err(error);
                }
                self.gateway.reload(loaded.runtime);
                self.reloads.fetch_add(1, Ordering::SeqCst);
                if state.watcher.is_some() {
                    self.watch_files(&mut state, &loaded.files);
                }
                tracing::info!(
                    "configuration reloaded ({}) from {}",
                    trigger.as_str(),
                    list(&loaded.files)
                );
                Ok(())
            }
            Err(error) => {
                tracing::error!(
                    "configuration reload ({}) refused, the previous configuration keeps \
                     serving: {error}",
                    trigger.as_str()
                );
                Err(error)
            }
        }
    }

    /// A changed `[cluster]`: a new store (and confirmation key) for the gateway and its alert
    /// windows, built before anything changes; the same settings keep the running connection.
    /// Ignored for stdio.
    fn apply_cluster(
        &self,
        settings: Option<warden_config::ClusterSettings>,
    ) -> Result<(), SetupError> {
        let Some(current) = &self.cluster else {
            return Ok(());
        };
        let mut current = current.lock().unwrap_or_else(PoisonError::into_inner);
        if *current == settings {
            return Ok(());
        }
        let fleet = match &settings {
            Some(settings) => {
                // The Redis client runs on the tokio runtime: build it within one.
                let Ok(runtime) = tokio::runtime::Handle::try_current() else {
                    return Err(SetupError::Cluster(
                        "[cluster] changed, and no async runtime runs here to connect: restart \
                         to apply it"
                            .to_owned(),
                    ));
                };
                let _entered = runtime.enter();
                Some(setup::build_fleet(settings)?)
            }
            None => None,
        };
        let (fleet, windows) = match fleet {
            Some((fleet, windows)) => (Some(fleet), Some(windows)),
            None => (None, None),
        };
        self.gateway.set_fleet(fleet);
        self.gateway.auditor().set_shared_alerts(windows);
        tracing::info!(
            "configuration reload: [cluster] changed: {}",
            if settings.is_some() {
                "new shared state store and confirmation key in use"
            } else {
                "this process keeps its state in memory from now on"
            }
        );
        *current = settings;
        Ok(())
    }

    /// Watch the folders of `files` (and no others), reporting changes to `files` only.
    fn watch_files(&self, state: &mut WatchState, files: &[PathBuf]) {
        let Some(watcher) = state.watcher.as_mut() else {
            return;
        };
        let mut targets = HashSet::new();
        let mut dirs = BTreeSet::new();
        for file in files {
            match watched_path(file) {
                Some((dir, path)) => {
                    dirs.insert(dir);
                    targets.insert(path);
                }
                None => tracing::warn!(
                    "cannot watch {}: its folder cannot be resolved; SIGHUP still reloads",
                    file.display()
                ),
            }
        }
        for dir in state.dirs.difference(&dirs) {
            // A folder that vanished is no longer watched anyway.
            let _ = watcher.unwatch(dir);
        }
        for dir in dirs.difference(&state.dirs) {
            if let Err(error) = watcher.watch(dir, RecursiveMode::NonRecursive) {
                tracing::warn!(
                    "cannot watch {}: {error}; SIGHUP still reloads",
                    dir.display()
                );
            }
        }
        state.dirs = dirs;
        *self.targets.write().unwrap_or_else(PoisonError::into_inner) = targets;
    }
}

/// The folder to watch for `file` and the path the watcher reports for it: both resolved, so
/// that they compare equal to the watcher's event paths.
fn watched_path(file: &Path) -> Option<(PathBuf, PathBuf)> {
    let name = file.file_name()?;
    let parent = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let dir = std::fs::canonicalize(parent).ok()?;
    let path = dir.join(name);
    Some((dir, path))
}

fn new_watcher(
    targets: Arc<RwLock<HashSet<PathBuf>>>,
    changed: Arc<Notify>,
) -> Option<RecommendedWatcher> {
    let handler = move |event: notify::Result<notify::Event>| match event {
        Ok(event) => {
            // Reading the files (a reload does) is not a change.
            if matches!(event.kind, EventKind::Access(_)) {
                return;
            }
            let targets = targets.read().unwrap_or_else(PoisonError::into_inner);
            if event.paths.iter().any(|p| targets.contains(p)) {
                changed.notify_one();
            }
        }
        Err(error) => tracing::warn!("watching the configuration files: {error}"),
    };
    match notify::recommended_watcher(handler) {
        Ok(watcher) => Some(watcher),
        Err(error) => {
            tracing::error!("cannot watch the configuration files ({error}); SIGHUP still reloads");
            None
        }
    }
}

#[cfg(unix)]
type Hangup = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangup = Option<std::convert::Infallible>;

#[cfg(unix)]
fn hangup_signal() -> Hangup {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::hangup()) {
        Ok(signal) => Some(signal),
        Err(error) => {
            tracing::error!("cannot handle SIGHUP ({error}); file changes still reload");
            None
        }
    }
}

#[cfg(not(unix))]
fn hangup_signal() -> Hangup {
    None
}

/// The next SIGHUP; never, without a handler.
#[cfg(unix)]
async fn next_hangup(hangup: &mut Hangup) {
    match hangup {
        Some(signal) => {
            if signal.recv().await.is_none() {
                *hangup = None;
                std::future::pending::<()>().await;
            }
        }
        None => std::future::pending().await,
    }
}

#[cfg(not(unix))]
async fn next_hangup(_: &mut Hangup) {
    std::future::pending().await
}

/// Waits until the watched files have been quiet for [`DEBOUNCE`].
async fn settle(changed: &Notify) {
    for _ in 0..MAX_DEBOUNCE_ROUNDS {
        tokio::select! {
            () = changed.notified() => {}
            () = tokio::time::sleep(DEBOUNCE) => return,
        }
    }
}

/// Serves reload triggers until the handle aborts it.
async fn watch_loop(shared: Arc<Shared>, changed: Arc<Notify>, mut hangup: Hangup) {
    loop {
        let trigger = tokio::select! {
            () = changed.notified() => {
                settle(&changed).await;
                Trigger::FileChange
            }
            () = next_hangup(&mut hangup) => Trigger::Hangup,
        };
        let shared = Arc::clone(&shared);
        // Reading files and building clients blocks; the outcome is logged by `reload`.
        let _ = tokio::task::spawn_blocking(move || shared.reload(trigger)).await;
    }
}

fn list(files: &[PathBuf]) -> String {
    files
        .iter()
        .map(|f| f.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
