//! `audit report --html` rendered by a real browser: headless Chromium loads the page (its DOM
//! must hold the week's figures and no element made of an event's text), takes a screenshot
//! (a PNG of the requested size) and prints it to PDF, whose text (pdftotext) must hold the
//! figures, the keys, the verification status and the hostile text shown as text.
//!
//! Needs Debian's `chromium` and `poppler-utils` (.ci/run installs both). Without them the test
//! says so loudly and passes, except in CI (`CI=true`), where a missing tool fails it. Every
//! browser run is bounded ([`BROWSER_TIMEOUT`]). With `WARDEN_REPORT_ARTIFACTS=<folder>`, the
//! page, the screenshot and the PDF are kept there to be looked at.

mod report_data;

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use report_data::{BOT, SALES, SINCE, UNTIL, thousands};

/// Longest a browser run may take.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(90);

/// The screenshot's size.
const SHOT: (u32, u32) = (1280, 2200);

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// `name` on the PATH.
fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// A tool the test needs: found, or `None` after a loud message (outside CI), or a failure (in
/// CI).
fn tool(names: &[&str], package: &str) -> Option<PathBuf> {
    if let Some(found) = names.iter().find_map(|name| which(name)) {
        return Some(found);
    }
    let message = format!(
        "{} is not installed (Debian: apt-get install -y {package}); .ci/run installs it",
        names[0]
    );
    assert!(!in_ci(), "CI=true and {message}");
    // Straight to the process's stderr, not through eprintln!: the test harness captures what
    // the print macros write for a test that passes, and this must be seen.
    let _ = writeln!(
        std::io::stderr(),
        "\n==========================================================================\n\
         report_chromium: {message}.\n\
         THE REPORT WAS NOT RENDERED IN A BROWSER (skipped outside CI).\n\
         =========================================================================="
    );
    None
}

/// Runs `command` to its end within [`BROWSER_TIMEOUT`]; its stdout.
fn bounded(command: &mut Command, what: &str) -> String {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    // Read both pipes on threads so that a chatty child never blocks on a full pipe.
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > BROWSER_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{what} did not finish within {BROWSER_TIMEOUT:?}:\n{}",
                err.join().unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    assert!(status.success(), "{what} failed ({status}):\n{stderr}");
    stdout
}

/// Headless Chromium with a fresh profile, and without what reaches for the network (it would
/// wait for it on a closed network).
fn chromium(binary: &Path, profile: &Path) -> Command {
    let mut command = Command::new(binary);
    command.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
    ]);
    command.arg(format!("--user-data-dir={}", profile.display()));
    command
}

/// The width and height of a PNG, from its header.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert!(bytes.len() > 24, "not a PNG: {} bytes", bytes.len());
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&bytes[12..16], b"IHDR");
    let word = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
    (word(16), word(20))
}

/// Text with its whitespace runs made single spaces (pdftotext lays lines out with many).
fn squeeze(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn chromium_renders_the_report_with_its_figures() {
    let Some(browser) = tool(&["chromium", "chromium-browser"], "chromium") else {
        return;
    };
    let audit = tempfile::tempdir().unwrap();
    let x = report_data::write_week(audit.path());
    let work = tempfile::tempdir().unwrap();
    let page = work.path().join("report.html");
    let made = Command::new(env!("CARGO_BIN_EXE_odoo-warden"))
        .env_clear()
        .args(["audit", "report"])
        .arg(audit.path())
        .args(["--since", SINCE, "--until", UNTIL, "--html"])
        .arg(&page)
        .output()
        .expect("run odoo-warden");
    assert!(made.status.success(), "{made:?}");
    let url = format!("file://{}", page.display());

    // The DOM after the browser parsed the page.
    let profile = tempfile::tempdir().unwrap();
    let dom = bounded(
        chromium(&browser, profile.path()).args(["--dump-dom", &url]),
        "chromium --dump-dom",
    );
    assert!(dom.contains("<h1>Audit report</h1>"), "{dom:.400}");
    for (label, value) in [
        ("requests", x.requests),
        ("reads", x.reads),
        ("denied", x.denied),
        ("alerts", x.alerts),
        ("failed authentications", x.failed_authentications),
        ("events lost (gaps)", x.events_lost),
    ] {
        let cell = format!("data-figure=\"{label}\">{}</div>", thousands(value));
        assert!(dom.contains(&cell), "{cell} not in the rendered page");
    }
    assert!(dom.contains("data-verified=\"true\""));
    assert!(dom.contains("data-anchors=\"none\""));
    for (day, requests) in x.daily.iter().enumerate() {
        let bar = format!(
            "data-day=\"2026-12-0{}\" data-requests=\"{requests}\"",
            day + 1
        );
        assert!(dom.contains(&bar), "{bar} not in the chart");
    }
    // Hostile text stayed text: no element was made of it.
    assert!(
        !dom.contains("<b id=\"injected\">"),
        "an event's text became markup"
    );
    assert!(!dom.contains("<img"), "an event's text became an image");
    assert!(dom.contains("&lt;img src=x onerror=alert(1)&gt;"));

    // A screenshot.
    let profile = tempfile::tempdir().unwrap();
    let shot = work.path().join("report.png");
    bounded(
        chromium(&browser, profile.path())
            .arg(format!("--screenshot={}", shot.display()))
            .arg(format!("--window-size={},{}", SHOT.0, SHOT.1))
            .arg(&url),
        "chromium --screenshot",
    );
    let png = std::fs::read(&shot).expect("the screenshot");
    assert_eq!(png_size(&png), SHOT);
    assert!(
        png.len() > 20_000,
        "a blank screenshot? {} bytes",
        png.len()
    );

    // A PDF, as a compliance officer would print it.
    let profile = tempfile::tempdir().unwrap();
    let pdf = work.path().join("report.pdf");
    bounded(
        chromium(&browser, profile.path())
            .arg("--no-pdf-header-footer")
            .arg(format!("--print-to-pdf={}", pdf.display()))
            .arg(&url),
        "chromium --print-to-pdf",
    );
    let bytes = std::fs::read(&pdf).expect("the PDF");
    assert!(bytes.starts_with(b"%PDF-"), "not a PDF");

    if let Ok(folder) = std::env::var("WARDEN_REPORT_ARTIFACTS") {
        let folder = PathBuf::from(folder);
        std::fs::create_dir_all(&folder).expect("the artifacts folder");
        for file in [&page, &shot, &pdf] {
            let name = file.file_name().expect("a name");
            std::fs::copy(file, folder.join(name)).expect("keep an artifact");
        }
        eprintln!(
            "report_chromium: page, screenshot and PDF kept in {}",
            folder.display()
        );
    }

    let Some(pdftotext) = tool(&["pdftotext"], "poppler-utils") else {
        return;
    };
    let text = bounded(
        Command::new(pdftotext).arg("-layout").arg(&pdf).arg("-"),
        "pdftotext",
    );
    let pages = text.matches('\u{c}').count();
    assert!(
        (3..=12).contains(&pages),
        "{pages} pages: the sections should break onto a few pages"
    );
    let flat = squeeze(&text);
    for needle in [
        "Audit report".to_owned(),
        "Period 2026-12-01 00:00:00 to 2026-12-08 00:00:00 UTC".to_owned(),
        "VERIFIED: every chain is intact".to_owned(),
        "Anchors checked".to_owned(),
        format!("{} requests, 0 method calls", thousands(x.sales_requests)),
        SALES.to_owned(),
        BOT.to_owned(),
        "rate_limits.per_key_per_minute".to_owned(),
        // Shown as the text it is (the model's cell wraps it: its end alone).
        "<b id=\"injected\">boom</b>[U+202E]gnp.exe".to_owned(),
        "onerror=alert(1)>".to_owned(),
        "Reviewed by".to_owned(),
    ] {
        assert!(
            flat.contains(&needle),
            "{needle:?} not in the PDF's text:\n{text}"
        );
    }
    // The figures at a glance, each above its label.
    for (value, label) in [
        (x.requests, "requests"),
        (x.denied, "denied"),
        (x.writes, "writes (create, update, delete)"),
    ] {
        let pattern = thousands(value);
        assert!(
            flat.contains(&pattern) && flat.contains(label),
            "{pattern} / {label} not in the PDF"
        );
    }
    // The sales key's row (its id on the next line): requests, reads, writes, denied, failed,
    // alerts.
    let reads = x.sales_partner_reads;
    let row = format!(
        "{SALES} sales-agent {} {} {} {} {} 2",
        thousands(x.sales_requests),
        thousands(reads),
        thousands(x.writes),
        thousands(x.sales_denied),
        thousands(x.errors)
    );
    assert!(
        flat.contains(&row),
        "{row:?} not in the PDF's text:\n{text}"
    );
}
