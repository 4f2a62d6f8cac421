//! `odoo-warden demo` writes a private configuration, Odoo key file and key store, prints the
//! client entry with the agent's key, and stops cleanly on SIGTERM even when it arrives right
//! after the banner.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

/// Runs the demo with `args` until its banner is printed, stops it with SIGTERM, and returns
/// the banner's lines.
fn run_demo(dir: &std::path::Path, args: &[&str]) -> anyhow::Result<Vec<String>> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_odoo-warden"))
        .arg("demo")
        .args(args)
        .arg("--dir")
        .arg(dir)
        .args(["--listen", "127.0.0.1:0"])
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
    // The gateway is up while the banner is shown: an MCP request with the printed key is served.
    let banner = seen.join("\n");
    http_check(&banner)?;
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
    Ok(seen)
}

/// The printed URL and key work: a 2026-07-28 `tools/list` over HTTP is answered; without the
/// key it is refused.
fn http_check(banner: &str) -> anyhow::Result<()> {
    use std::io::{Read, Write};
    let url = banner
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:") && w.ends_with("/mcp") || w.ends_with("/mcp."))
        .ok_or_else(|| anyhow::anyhow!("no gateway URL: {banner}"))?
        .trim_end_matches('.');
    let addr = url
        .strip_prefix("http://")
        .and_then(|rest| rest.strip_suffix("/mcp"))
        .ok_or_else(|| anyhow::anyhow!("odd URL {url}"))?;
    let key = warden_key(banner)?;
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}"#;
    let ask = |authorization: &str| -> anyhow::Result<String> {
        let mut stream = std::net::TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        write!(
            stream,
            "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n{authorization}Content-Type: application/json\r\n\
             Accept: application/json\r\nMCP-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/list\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )?;
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        Ok(answer)
    };
    let served = ask(&format!("Authorization: Bearer {key}\r\n"))?;
    assert!(served.starts_with("HTTP/1.1 200"), "{served}");
    assert!(served.contains("search_records"), "{served}");
    let refused = ask("")?;
    assert!(refused.starts_with("HTTP/1.1 401"), "{refused}");
    Ok(())
}

/// The `WARDEN_KEY` of the printed Claude Desktop (stdio) entry.
fn warden_key(banner: &str) -> anyhow::Result<String> {
    let from = banner
        .find("Claude Desktop")
        .ok_or_else(|| anyhow::anyhow!("no Claude Desktop entry: {banner}"))?;
    let rest = &banner[from..];
    let start = rest
        .find('{')
        .ok_or_else(|| anyhow::anyhow!("no entry: {banner}"))?;
    let end = rest
        .find("\n}")
        .ok_or_else(|| anyhow::anyhow!("no entry: {banner}"))?
        + 1;
    let entry: serde_json::Value = serde_json::from_str(&rest[start..=end])?;
    entry["mcpServers"]["odoo-warden"]["env"]["WARDEN_KEY"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("no WARDEN_KEY in {entry}"))
}

#[test]
fn demo_writes_private_files_and_stops_on_sigterm() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let seen = run_demo(dir.path(), &["--login", "readonly_bot"])?;
    let text = seen.join("\n");
    assert!(text.contains("\"mcpServers\""), "{text}");
    assert!(text.contains("readonly_bot"), "{text}");
    let config = std::fs::read_to_string(dir.path().join("warden.toml"))?;
    assert!(config.contains("login = \"readonly_bot\""), "{config}");
    assert!(config.contains("write = false"), "{config}");
    assert!(config.contains("[profiles.demo-reader]"), "{config}");
    assert!(config.contains("[profiles.demo-writer]"), "{config}");

    // The key in the entry authenticates, under demo-reader, and only its hash is stored.
    let secret = warden_key(&text)?;
    let store_text = std::fs::read_to_string(dir.path().join("keys.toml"))?;
    assert!(
        !store_text.contains(&secret),
        "the key store holds the secret"
    );
    let loaded = warden_config::Config::load(&dir.path().join("warden.toml"), &Default::default())?;
    let principal = loaded
        .policy
        .authenticate(&secret, SystemTime::now())
        .map_err(|e| anyhow::anyhow!("the demo key does not authenticate: {e}"))?;
    let profile = &principal.profile;
    assert_eq!(profile.name(), "demo-reader");
    assert!(profile.field_readable("res.partner", "name"));
    for hidden in ["email", "phone", "mobile"] {
        assert!(
            !profile.field_readable("res.partner", hidden),
            "{hidden} is readable"
        );
    }
    assert!(!profile.any_model_allows(warden_policy::Operation::Write));

    let key = std::fs::read_to_string(dir.path().join("odoo-api-key"))?;
    assert_eq!(key.len(), 40, "the key file holds the 40-character key");
    assert!(
        !text.contains(&key),
        "the banner never prints the key itself"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for name in ["warden.toml", "odoo-api-key", "keys.toml"] {
            let mode = std::fs::metadata(dir.path().join(name))?
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "{name} is readable by others: {mode:o}");
        }
    }
    Ok(())
}

#[test]
fn demo_writer_profile_turns_write_tools_on_with_confirmation() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let seen = run_demo(dir.path(), &["--profile", "demo-writer"])?;
    let text = seen.join("\n");
    let config = std::fs::read_to_string(dir.path().join("warden.toml"))?;
    assert!(config.contains("login = \"sales_agent\""), "{config}");
    assert!(config.contains("write = true"), "{config}");
    let loaded = warden_config::Config::load(&dir.path().join("warden.toml"), &Default::default())?;
    let principal = loaded
        .policy
        .authenticate(&warden_key(&text)?, SystemTime::now())
        .map_err(|e| anyhow::anyhow!("the demo key does not authenticate: {e}"))?;
    let profile = &principal.profile;
    assert_eq!(profile.name(), "demo-writer");
    assert!(profile.confirm_writes());
    use warden_policy::Operation::{Create, Delete, Write};
    assert!(profile.operation_allowed("res.partner", Create));
    assert!(profile.operation_allowed("sale.order", Write));
    assert!(!profile.operation_allowed("sale.order", Delete));
    assert!(!profile.operation_allowed("account.move", Write));
    assert!(profile.field_writable("res.partner", "name"));
    assert!(
        !profile.field_writable("res.partner", "email"),
        "a hidden field is writable"
    );
    assert!(
        !profile.field_readable("res.partner", "email"),
        "inherited read deny"
    );
    Ok(())
}

#[test]
fn demo_refuses_an_unknown_profile() {
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_odoo-warden"))
        .args(["demo", "--profile", "admin", "--dir"])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(64));
    assert!(!dir.path().join("warden.toml").exists());
}
