//! `odoo-warden audit report`: the period's figures per key and profile, the denials and alerts,
//! and the chains' verification, as one self-contained HTML page for a compliance officer
//! (`--html FILE`), one JSON object for scripts (`--json`), or a short summary on stdout.
//!
//! The figures come from `warden_audit::report` (which streams over the files of the period);
//! the folder, the time options and the seal key are read as `audit search` and `audit verify`
//! read them.

use std::path::PathBuf;
use std::time::SystemTime;

use anyhow::{Context, Result};
use clap::Args;
use warden_audit::report::{self, AuditReport, ReportOptions, html};
use warden_audit::verify::VerifyOptions;

use crate::common::{self, EXIT_FAIL, EXIT_OK, usage};

use super::{VerifyArgs, folder, parse_time, plural, public_key, seal_key, unreadable};

/// Most events `--list` may ask for, of each kind (they are held in memory).
const MAX_LIST: u64 = 10_000;

/// Options of `audit report`.
#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    /// The folder, the keys and anchors file verify takes, and --json (the report's figures as
    /// one JSON object).
    #[command(flatten)]
    verify: VerifyArgs,
    /// The period's start: RFC 3339 (2026-11-01T00:00:00Z), a day (2026-11-01) or a duration
    /// ago (30d, 12h).
    #[arg(long, value_name = "TIME", default_value = "30d")]
    since: String,
    /// The period's end, excluded (default: now).
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
    /// Only this key (id or name).
    #[arg(long, value_name = "KEY")]
    key: Option<String>,
    /// Write the report as a self-contained HTML page to FILE (replaced atomically, mode 0600);
    /// `-` for stdout.
    #[arg(long, value_name = "FILE", conflicts_with = "json")]
    html: Option<PathBuf>,
    /// How many denied requests, alerts and gaps to list (the earliest, at most 10000); the rest
    /// are counted.
    #[arg(long, value_name = "N", default_value_t = report::DEFAULT_LISTED as u64,
          value_parser = clap::value_parser!(u64).range(..=MAX_LIST))]
    list: u64,
}

/// Runs `audit report`; the exit status on success.
pub(crate) fn run(args: &ReportArgs) -> Result<u8> {
    let now = SystemTime::now();
    let since = parse_time("--since", &args.since, now)?;
    let until = match &args.until {
        Some(text) => parse_time("--until", text, now)?,
        None => now,
    };
    if since >= until {
        return Err(usage("--since must be before --until"));
    }
    let seal = seal_key(&args.verify)?;
    let public_key = public_key(&args.verify)?;
    let target = super::pg::target(&args.verify.folder)?;
    if args.verify.stream.is_some() {
        return Err(usage("--stream applies to audit verify only"));
    }
    let dir = match &target {
        Some(target) => PathBuf::from(target.display()),
        None => folder(&args.verify.folder)?,
    };
    let anchors = match super::anchors(&args.verify) {
        Ok(anchors) => anchors,
        Err(status) => return Ok(status),
    };
    let mut options = ReportOptions::new(since, until);
    options.key.clone_from(&args.key);
    options.listed = usize::try_from(args.list).unwrap_or(report::DEFAULT_LISTED);
    options.verify = VerifyOptions {
        seal,
        public_key,
        anchors,
    };
    options.now = now;
    options.generator = concat!("odoo-warden ", env!("CARGO_PKG_VERSION")).to_owned();
    let report = match &target {
        Some(target) => {
            let mut reader = match super::pg::open(target) {
                Ok(reader) => reader,
                Err(status) => return Ok(status),
            };
            match reader.report(&options) {
                Ok(report) => report,
                Err(error) => return Ok(super::pg::unreadable(&error)),
            }
        }
        None => match report::build(&dir, &options) {
            Ok(report) => report,
            Err(error) => return Ok(unreadable(&dir, &error)),
        },
    };
    if args.verify.json {
        common::out(&format!("{}\n", serde_json::to_string_pretty(&report)?))?;
    } else if let Some(path) = &args.html {
        let page = html::render(&report);
        if path.as_os_str() == "-" {
            common::out(&page)?;
        } else {
            common::write_atomic(path, &page)
                .with_context(|| format!("cannot write the report to {}", path.display()))?;
            common::note(&format!("report written to {}\n", path.display()));
        }
    } else {
        common::out(&summary(&report))?;
    }
    let verification = &report.verification;
    if verification.chains.streams.is_empty() {
        common::note(&format!(
            "odoo-warden: no audit files in {}: nothing is verified\n",
            dir.display()
        ));
        return Ok(EXIT_FAIL);
    }
    if !verification.ok {
        let streams = &verification.chains.streams;
        let broken = streams.iter().filter(|s| s.problem.is_some()).count();
        common::note(&if broken > 0 {
            format!(
                "odoo-warden: the audit chain is broken in {broken} of {} {}: the report says where\n",
                streams.len(),
                plural(streams.len() as u64, "stream", "streams")
            )
        } else {
            "odoo-warden: the anchors file does not verify: the report says why\n".to_owned()
        });
        return Ok(EXIT_FAIL);
    }
    Ok(EXIT_OK)
}

/// The report in a few lines, for a terminal.
fn summary(report: &AuditReport) -> String {
    let f = &report.totals.figures;
    let v = &report.verification;
    let mut text = format!(
        "audit report {} to {} (UTC, end excluded), folder {}\n",
        report.period.since,
        report.period.until,
        report.dir.display()
    );
    let streams = v.chains.streams.len() as u64;
    text.push_str(&if streams == 0 {
        "chains: NOT VERIFIED, the folder holds no audit files\n".to_owned()
    } else if v.ok {
        let anchors = v
            .chains
            .anchors
            .as_ref()
            .map(|a| format!(", anchors file verified ({} checkpoints)", a.checkpoints))
            .unwrap_or_default();
        format!(
            "chains: verified, {streams} {}, {} events{}{}{anchors}\n",
            plural(streams, "stream", "streams"),
            v.chains.events(),
            if v.seal_checked {
                ", seals checked"
            } else {
                ""
            },
            if v.signatures_checked {
                ", signatures checked"
            } else {
                ""
            },
        )
    } else {
        "chains: BROKEN (audit verify names the first broken event)\n".to_owned()
    });
    text.push_str(&format!(
        "{} requests: {} reads, {} writes, {} method calls, {} denied, {} failed; {} alerts, {} gaps ({} events lost)\n",
        f.requests,
        f.reads,
        f.writes,
        f.method_calls,
        f.denied,
        f.errors,
        f.alerts,
        report.totals.gaps,
        report.totals.events_lost
    ));
    for key in &report.keys {
        let name = match &key.name {
            Some(name) if *name != key.id => format!("{name} ({})", key.id),
            _ => key.id.clone(),
        };
        text.push_str(&format!(
            "  key {name}: {} requests, {} reads, {} writes, {} denied, {} alerts\n",
            key.figures.requests,
            key.figures.reads,
            key.figures.writes,
            key.figures.denied,
            key.figures.alerts
        ));
    }
    text.push_str("the full report: --html FILE (a page to print or attach) or --json\n");
    text
}
