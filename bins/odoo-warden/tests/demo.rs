//! `odoo-warden demo` writes a private configuration and key file, prints the client entry, and
//! stops cleanly on SIGTERM even when it arrives right after the banner.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn demo_writes_private_files_and_stops_on_sigterm() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut child = Command::new(env!("CARGO_BIN_EXE_odoo-warden"))
        .args(["demo", "--login", "readonly_bot", "--dir"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
    let mut lines = BufReader::new(stdout).lines();
    let started = Instant::now();
    let mut seen = Vec::new();
    while started.elapsed() < Duration::from_secs(20) {
        match lines.next() {
            Some(line) => {
                let line = line?;
                let done = line.contains("Press Ctrl-C");
                seen.push(line);
                if done {
                    break;
                }
            }
            None => break,
        }
    }
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()?;
    assert!(term.success(), "kill -TERM failed");
    let stopping = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if stopping.elapsed() > Duration::from_secs(10) {
            child.kill()?;
            child.wait()?;
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        status.is_some_and(|s| s.success()),
        "demo did not exit cleanly on SIGTERM: {status:?}"
    );

    let text = seen.join("\n");
    assert!(text.contains("\"mcpServers\""), "{text}");
    assert!(text.contains("readonly_bot"), "{text}");
    let config = std::fs::read_to_string(dir.path().join("warden.toml"))?;
    assert!(config.contains("login = \"readonly_bot\""), "{config}");
    assert!(config.contains("write = false"), "{config}");
    let key = std::fs::read_to_string(dir.path().join("odoo-api-key"))?;
    assert_eq!(key.len(), 40, "the key file holds the 40-character key");
    assert!(
        !text.contains(&key),
        "the banner never prints the key itself"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for name in ["warden.toml", "odoo-api-key"] {
            let mode = std::fs::metadata(dir.path().join(name))?
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "{name} is readable by others: {mode:o}");
        }
    }
    Ok(())
}
