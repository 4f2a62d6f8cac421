//! The binary refuses a non-loopback listen address unless --allow-remote is given, prints its
//! startup block on loopback, and exits cleanly on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn refuses_non_loopback_listen_without_allow_remote() -> anyhow::Result<()> {
    let out = Command::new(env!("CARGO_BIN_EXE_warden-odoo-sim"))
        .args(["--listen", "0.0.0.0:0"])
        .output()?;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--allow-remote"), "{stderr}");
    Ok(())
}

#[test]
fn prints_the_startup_block_on_loopback() -> anyhow::Result<()> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_warden-odoo-sim"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--api-key",
            "admin=0123456789abcdef0123456789abcdef01234567",
        ])
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
    while seen.len() < 5 && started.elapsed() < Duration::from_secs(20) {
        match lines.next() {
            Some(line) => seen.push(line?),
            None => break,
        }
    }
    // SIGTERM stops it cleanly (exit status 0) and promptly.
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
        "the simulator did not exit cleanly on SIGTERM: {status:?}"
    );
    let text = seen.join("\n");
    assert!(text.contains("http://127.0.0.1:"), "{text}");
    assert!(
        text.contains("admin") && text.contains("0123456789abcdef0123456789abcdef01234567"),
        "{text}"
    );
    assert!(
        text.contains("sales_agent") && text.contains("uid 8"),
        "{text}"
    );
    Ok(())
}
