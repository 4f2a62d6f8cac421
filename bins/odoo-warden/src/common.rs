//! What the commands share: loading the configuration, exit statuses, writing files privately
//! and atomically, and the two output streams (stdout for results, stderr for everything a
//! person reads alongside).

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use warden_config::{Config, ConfigError, Environment, KeyAdmin};

/// Success.
pub(crate) const EXIT_OK: u8 = 0;
/// A denial (`policy explain`) or a failure that is not the caller's input.
pub(crate) const EXIT_FAIL: u8 = 1;
/// Warnings (`config check`).
pub(crate) const EXIT_WARNINGS: u8 = 2;
/// A usage or configuration error (EX_USAGE, as sysexits.h names it).
pub(crate) const EXIT_USAGE: u8 = 64;
/// Odoo cannot be reached (`--online`; EX_UNAVAILABLE).
pub(crate) const EXIT_UNAVAILABLE: u8 = 69;

/// Bad input on the command line: exit status 64.
#[derive(Debug)]
pub(crate) struct UsageError(pub(crate) String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// A usage error, as an `anyhow::Error`.
pub(crate) fn usage(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UsageError(message.into()))
}

/// Odoo could not be reached: exit status 69.
#[derive(Debug)]
pub(crate) struct Unavailable(pub(crate) String);

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unavailable {}

/// The exit status for a failed command: 64 for the caller's input (command line,
/// configuration, key store), 69 when Odoo is unreachable, 1 otherwise.
pub(crate) fn exit_status(error: &anyhow::Error) -> ExitCode {
    let usage = error.chain().any(|cause| {
        cause.is::<UsageError>()
            || cause.is::<ConfigError>()
            || cause.is::<warden_policy::PolicyError>()
    });
    if usage {
        ExitCode::from(EXIT_USAGE)
    } else if error
        .chain()
        .any(<dyn std::error::Error + 'static>::is::<Unavailable>)
    {
        ExitCode::from(EXIT_UNAVAILABLE)
    } else {
        ExitCode::from(EXIT_FAIL)
    }
}

/// The process environment: configuration overrides and the secrets the file names.
pub(crate) fn environment() -> Environment {
    std::env::vars().collect()
}

/// Loads and validates the configuration and its key store.
pub(crate) fn load_config(path: &Path) -> Result<Config> {
    Ok(Config::load(path, &environment())?)
}

/// What key administration needs of the configuration (no secret is read); a key store that
/// does not exist yet counts as empty when `allow_missing` (for `keys create`, which creates it).
pub(crate) fn load_key_admin(path: &Path, allow_missing: bool) -> Result<KeyAdmin> {
    let env = environment();
    match KeyAdmin::load(path, &env) {
        Err(ConfigError::KeyStore { path: store, .. }) if allow_missing && !store.exists() => {
            Ok(KeyAdmin::load_with_keys(path, "", &env)?)
        }
        other => Ok(other?),
    }
}

/// Writes a file only its owner can read (it holds or points at a secret), replacing it.
pub(crate) fn write_private(path: &Path, contents: &str) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(contents.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Replaces `path` with `contents` atomically: a new file (mode 0600) in the same folder,
/// written and synced, then renamed over `path`. A reader sees the old file or the new one,
/// never a partial one; on failure `path` is untouched.
pub(crate) fn write_atomic(path: &Path, contents: &str) -> Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .with_context(|| format!("{} is not a file path", path.display()))?
        .to_string_lossy()
        .into_owned();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let temp = dir.join(format!(".{name}.{}.{nanos}.tmp", std::process::id()));
    let result = write_new_synced(&temp, contents).and_then(|()| {
        std::fs::rename(&temp, path).with_context(|| format!("cannot replace {}", path.display()))
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
        return result;
    }
    sync_dir(dir);
    Ok(())
}

fn write_new_synced(path: &Path, contents: &str) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(contents.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Makes the rename durable (best effort: not every platform can open a folder).
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(handle) = std::fs::File::open(dir) {
        let _ = handle.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// Writes `text` to stdout (the command's result).
pub(crate) fn out(text: &str) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(())
}

/// Writes `text` to stderr (what a person reads alongside the result).
pub(crate) fn note(text: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(text.as_bytes());
    let _ = stderr.flush();
}

/// Installs the SIGTERM and Ctrl-C handlers now and returns a future that resolves on either.
pub(crate) fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term =
            signal(SignalKind::terminate()).context("cannot install the SIGTERM handler")?;
        let mut int =
            signal(SignalKind::interrupt()).context("cannot install the SIGINT handler")?;
        Ok(async move {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}
