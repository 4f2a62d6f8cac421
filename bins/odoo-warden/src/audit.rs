//! `odoo-warden audit`: check the hash chains of an audit folder (`verify`, with the seal key,
//! the public key and the anchors file when given), look through its events (`search`), show the
//! latest ones, optionally following new ones as they are written (`tail`), make the Ed25519 key
//! pair that signs the log (`keygen`), and report on a period for a compliance officer
//! (`report`, in `audit/report.rs`).
//!
//! The folder is the positional `DIR`, or the one the configuration names (`--config`, or
//! `WARDEN_CONFIG`; only its `[audit]` section is read, so no secret is needed). Results go to
//! stdout, one event per line as found (never gathered in memory); what a person reads alongside
//! (summaries, progress, warnings) goes to stderr.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::File;
use std::io::{BufRead, BufReader, IsTerminal, Read, Seek, SeekFrom, StdoutLock, Write};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::Value;
use warden_audit::chain::SealKey;
use warden_audit::checkpoint::Anchors;
use warden_audit::jsonl::{StreamFile, stream_files};
use warden_audit::search::{self, EventView, Filter, OutcomeFilter, RecordRef};
use warden_audit::signing::{PublicKey, SigningKey};
use warden_audit::verify::{self, Report, StreamReport, VerifyOptions};

use crate::common::{self, EXIT_FAIL, EXIT_OK, usage};

mod pg;
mod report;

/// The folder cannot be read (EX_IOERR, as sysexits.h names it).
const EXIT_IOERR: u8 = 74;

/// Above this total size, `search` shows its progress (when stderr is a terminal).
const PROGRESS_ABOVE_BYTES: u64 = 64 * 1024 * 1024;

/// How often `tail --follow` looks for new lines and files.
const FOLLOW_INTERVAL: Duration = Duration::from_millis(250);

/// The members of a stored line that belong to the chain, not to the event.
const CHAIN_MEMBERS: [&str; 4] = ["seq", "prev", "mac", "sig"];

/// The `audit` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Check every stream's hash chain; name the first broken event of a stream and why.
    #[command(after_help = "\
Prints, per stream, the files and events checked and the hash of the last line (record it
elsewhere to detect a later rewrite); for a broken stream, the first broken event: its file,
line, seq, event id and why. A folder without audit files fails: a missing log must not look
verified. So does a stream without its head file, or whose newest file ends with the close
record of a rotation (the next file is missing).

With --seal-key-env/--seal-key-file, every seal is checked (HMAC: whoever checks holds the
secret). With --public-key, every line's signature, the head's and the checkpoints' are checked
with the public key alone (Ed25519: whoever checks cannot sign). With --anchors, every stream
must still reach every checkpoint of the anchors file (the line with its seq has its hash, or a
retention record accounts for it): this is what shows a folder rolled back to an older copy.

A postgres://ROLE@HOST:PORT/DATABASE address in place of DIR verifies the table the
[audit.postgres] sink writes: every stream (or --stream NAME), row by row in seq order, with the
same keys and anchors file (the checkpoints of the table's streams in it); the rows' search
columns must match their lines; rows removed by retention must be accounted for by a retention
record. The password comes from --password-env VAR or PGPASSWORD,
TLS is verify-full unless --tls says otherwise (disable: a loopback host only).

Exit status: 0 every stream verifies, 1 a chain is broken, a checkpoint is not reached or is
forged (or the folder holds no audit files), 64 usage or configuration error (a key that
cannot be read), 74 the folder, the anchors file or the database cannot be read.

Examples:
  odoo-warden audit verify /var/lib/odoo-warden/audit
  odoo-warden audit verify --config /etc/odoo-warden/warden.toml --seal-key-env WARDEN_SEAL_KEY
  odoo-warden audit verify /srv/copy/audit --public-key audit-signing.pub \\
      --anchors /srv/anchors/warden-anchors.jsonl
  odoo-warden audit verify ./audit --public-key audit-signing.pub --anchors siem-export.jsonl
  odoo-warden audit verify ./audit --json | jq '.streams[] | select(.problem)'
  PGPASSWORD=... odoo-warden audit verify postgres://auditor@db.internal/warden --seal-key-env K")]
    Verify(VerifyArgs),
    /// Print the events that match a filter, oldest first, as they are found.
    #[command(after_help = "\
Every filter given must match. TIME is an RFC 3339 instant in UTC (2026-12-01T10:00:00Z) or a
duration meaning that long ago (15m, 2h, 7d); --until is exclusive. Chain records (file starts,
closes, retention) are left out unless --kind chain. The output is one JSON event per line
(without the chain members seq, prev, mac and sig) or, by default on a terminal, a table. A summary
goes to stderr.

Exit status: 0 (even when nothing matches), 64 usage or configuration error, 74 the folder
cannot be read.

--record MODEL:ID finds who read or changed one record, and when: the events on MODEL whose
record_ids hold ID. An event lists at most the first 100 ids of the records it named or
returned; the summary counts the events that named more, none of the listed ones the record,
since it may be among the rest.

Examples:
  odoo-warden audit search --config warden.toml --key claude-alice --since 2h
  odoo-warden audit search ./audit --outcome denied --since 2026-12-01T00:00:00Z --format table
  odoo-warden audit search ./audit --model hr.employee --tool update_record --limit 20
  odoo-warden audit search ./audit --record res.partner:42 --since 90d --format table
  odoo-warden audit search postgres://auditor@db.internal/warden --password-env PG_AUDITOR \\
      --key claude-alice --since 7d")]
    Search(SearchArgs),
    /// Print the latest events that match a filter; with --follow, keep printing new ones.
    #[command(after_help = "\
Takes the last N matching events of the newest files of every stream, in time order. With
--follow, looks for new lines every 250 ms, also in new files (rotation) and new streams, until
interrupted (Ctrl-C or SIGTERM: exit status 0). Same filters and output as `audit search`.

Exit status: 0, 64 usage or configuration error, 74 the folder cannot be read.

Examples:
  odoo-warden audit tail --config warden.toml -n 20
  odoo-warden audit tail ./audit -f --outcome denied --format table")]
    Tail(TailArgs),
    /// Make the Ed25519 key pair that signs the audit log: the private key (0600) and the
    /// public key.
    #[command(after_help = "\
Writes the private key to PRIVATE (PKCS#8 PEM, mode 0600; refused if the file exists, unless
--force) and the public key to PRIVATE.pub or --public (SubjectPublicKeyInfo PEM). Prints the
public key and its id; never prints the private key. Both are the formats of openssl: `openssl
pkey -in PRIVATE -pubout` gives the same public key.

Point [audit] signing_key_file (or signing_key_env) at the private key, keep it away from the
audit folder, and give the public key to whoever verifies the log (`audit verify
--public-key`).

Exit status: 0, 64 usage error (PRIVATE exists), 74 a file cannot be written.

Examples:
  odoo-warden audit keygen /etc/odoo-warden/secrets/audit-signing.key
  odoo-warden audit keygen ./audit-signing.key --public ./for-the-auditor/audit-signing.pub")]
    Keygen(KeygenArgs),
    /// Report on a period: the chains' verification, figures per key and profile, denials and
    /// alerts, as a self-contained HTML page to print or attach, or as JSON.
    #[command(after_help = "\
The page holds the period, each stream's verification status and head hash, the period's
figures per key and per profile (requests, reads, distinct records read per model, writes,
denials by rule, alerts, top models), a daily activity chart, and the earliest denied requests,
alerts and gaps (the rest counted). It loads nothing and runs no script: open it in a browser,
print it to PDF, attach it. --json gives the same figures as one JSON object. Without --html or
--json, a summary is printed.

It verifies the folder with verify's options (--seal-key-*, --public-key, --anchors) and shows
what they checked, anchored checkpoints included.

Exit status: 0 the report was made and every chain verifies, 1 it was made but a chain is
broken, the anchors file does not verify or the folder holds no audit files, 64 usage or
configuration error, 74 the folder or the anchors file cannot be read.

Examples:
  odoo-warden audit report --config warden.toml --since 30d --html audit-report.html
  odoo-warden audit report ./audit --since 2026-11-01 --until 2026-12-01 --key sales --html nov.html
  odoo-warden audit report ./audit --since 7d --json | jq '.keys[] | {id, denied: .denied}'
  odoo-warden audit report ./audit --public-key audit-signing.pub --anchors anchors.jsonl --html r.html
  chromium --headless --no-pdf-header-footer --print-to-pdf=report.pdf audit-report.html")]
    Report(report::ReportArgs),
}

/// Where the audit files are.
#[derive(Debug, Args)]
pub(crate) struct FolderArgs {
    /// The audit folder (default: the one the configuration names), or the PostgreSQL database
    /// of [audit.postgres]: postgres://ROLE@HOST:PORT/DATABASE (verify, search, report).
    #[arg(value_name = "DIR")]
    dir: Option<PathBuf>,
    /// The configuration file whose `[audit] dir` names the folder (only `[audit]` is read).
    #[arg(long, env = "WARDEN_CONFIG", value_name = "PATH")]
    config: Option<PathBuf>,
    #[command(flatten)]
    pg: pg::PgArgs,
}

/// Options of `audit verify`.
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    #[command(flatten)]
    folder: FolderArgs,
    /// Also check every line's seal with the key in this environment variable.
    #[arg(long, value_name = "VAR", conflicts_with = "seal_key_file")]
    seal_key_env: Option<String>,
    /// Also check every line's seal with the key in this file.
    #[arg(long, value_name = "PATH")]
    seal_key_file: Option<PathBuf>,
    /// Also check every line's signature, the head's and the checkpoints' with this Ed25519
    /// public key (PEM, as `audit keygen` writes it).
    #[arg(long, value_name = "FILE")]
    public_key: Option<PathBuf>,
    /// Also check that every stream reaches every checkpoint in this file (the anchors file the
    /// gateway appends to, or checkpoint events exported from the webhook's receiver).
    #[arg(long, value_name = "FILE")]
    anchors: Option<PathBuf>,
    /// With a postgres:// source: verify only this stream (default: every stream of the table).
    #[arg(long, value_name = "NAME")]
    stream: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Options of `audit keygen`.
#[derive(Debug, Args)]
pub(crate) struct KeygenArgs {
    /// Where to write the private key (created 0600).
    #[arg(value_name = "PRIVATE")]
    private: PathBuf,
    /// Where to write the public key (default: PRIVATE.pub).
    #[arg(long, value_name = "FILE")]
    public: Option<PathBuf>,
    /// Replace existing files (the key they hold is lost: lines it signed can then be checked
    /// only with its public key, kept elsewhere).
    #[arg(long)]
    force: bool,
}

/// The event filters `search` and `tail` share.
#[derive(Debug, Args)]
pub(crate) struct FilterArgs {
    /// The key's id or name.
    #[arg(long, value_name = "KEY")]
    key: Option<String>,
    /// The Odoo model, e.g. res.partner.
    #[arg(long, value_name = "MODEL")]
    model: Option<String>,
    /// One record, MODEL:ID (res.partner:42): who read or changed it, and when. An event lists
    /// at most its first 100 record ids.
    #[arg(long, value_name = "MODEL:ID", value_parser = parse_record, conflicts_with = "model")]
    record: Option<RecordRef>,
    /// The tool, e.g. search_records.
    #[arg(long, value_name = "TOOL")]
    tool: Option<String>,
    /// The MCP method, e.g. tools/call.
    #[arg(long, value_name = "METHOD")]
    method: Option<String>,
    /// ok: allowed and successful; error: failed or denied; denied; allowed.
    #[arg(long, value_enum, value_name = "OUTCOME")]
    outcome: Option<OutcomeArg>,
    /// The client's address.
    #[arg(long, value_name = "IP")]
    ip: Option<String>,
    /// The event kind.
    #[arg(long, value_enum, value_name = "KIND")]
    kind: Option<KindArg>,
    /// From this time on: RFC 3339 (2026-12-01T10:00:00Z) or a duration ago (15m, 2h, 7d).
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Before this time: RFC 3339 or a duration ago.
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
}

/// `--outcome`.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum OutcomeArg {
    /// Allowed and successful.
    Ok,
    /// Failed, denied requests included.
    Error,
    /// Denied by a rule.
    #[value(alias = "deny")]
    Denied,
    /// Allowed, whatever the outcome.
    #[value(alias = "allow")]
    Allowed,
}

/// `--kind`.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum KindArg {
    /// Requests, allowed or denied.
    Request,
    /// Alerts.
    Alert,
    /// Events a sink could not record.
    Gap,
    /// The chain's own records (file starts, closes, retention).
    Chain,
}

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// One JSON event per line.
    Json,
    /// Aligned columns for people.
    Table,
}

/// Options of `audit search`.
#[derive(Debug, Args)]
pub(crate) struct SearchArgs {
    #[command(flatten)]
    folder: FolderArgs,
    #[command(flatten)]
    filter: FilterArgs,
    /// Stop after this many matching events.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    limit: Option<u64>,
    /// The output (default: table on a terminal, json otherwise).
    #[arg(long, value_enum, value_name = "FORMAT")]
    format: Option<Format>,
}

/// Options of `audit tail`.
#[derive(Debug, Args)]
pub(crate) struct TailArgs {
    #[command(flatten)]
    folder: FolderArgs,
    #[command(flatten)]
    filter: FilterArgs,
    /// How many of the latest matching events to print first.
    #[arg(short = 'n', long = "lines", value_name = "N", default_value_t = 10)]
    lines: usize,
    /// Keep printing new matching events as they are written, until interrupted.
    #[arg(short, long)]
    follow: bool,
    /// The output (default: table on a terminal, json otherwise).
    #[arg(long, value_enum, value_name = "FORMAT")]
    format: Option<Format>,
}

/// Runs an `audit` subcommand; the exit status on success.
pub(crate) fn run(command: AuditCommand) -> Result<u8> {
    match command {
        AuditCommand::Verify(args) => verify(&args),
        AuditCommand::Search(args) => search(&args),
        AuditCommand::Tail(args) => tail(&args),
        AuditCommand::Keygen(args) => keygen(&args),
        AuditCommand::Report(args) => report::run(&args),
    }
}

/// The folder to read: `DIR`, else the configuration's.
fn folder(args: &FolderArgs) -> Result<PathBuf> {
    if let Some(dir) = &args.dir {
        return Ok(dir.clone());
    }
    match &args.config {
        Some(config) => Ok(warden_config::audit_dir(config, &common::environment())?),
        None => Err(usage(
            "no audit folder: give DIR, or --config FILE (or WARDEN_CONFIG) to use the folder the configuration names",
        )),
    }
}

/// Why an I/O operation failed, in a few lowercase words.
fn io_reason(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::NotFound => "it does not exist".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        std::io::ErrorKind::NotADirectory => "it is not a folder".to_owned(),
        _ => {
            let text = error.to_string();
            match text.split_once(" (os error") {
                Some((reason, _)) => reason.to_lowercase(),
                None => text.to_lowercase(),
            }
        }
    }
}

/// Reports that the folder cannot be read: exit status 74.
fn unreadable(dir: &Path, error: &std::io::Error) -> u8 {
    common::note(&format!(
        "odoo-warden: cannot read the audit folder {}: {}\n",
        dir.display(),
        io_reason(error)
    ));
    EXIT_IOERR
}

fn seal_key(args: &VerifyArgs) -> Result<Option<SealKey>> {
    let (option, text) = match (&args.seal_key_env, &args.seal_key_file) {
        (Some(var), _) => {
            let value = std::env::var(var).map_err(|_| {
                usage(format!(
                    "--seal-key-env: the environment variable {var} is not set (or not UTF-8)"
                ))
            })?;
            ("--seal-key-env", value)
        }
        (None, Some(path)) => {
            let value = std::fs::read_to_string(path).map_err(|e| {
                usage(format!(
                    "--seal-key-file: cannot read {}: {}",
                    path.display(),
                    io_reason(&e)
                ))
            })?;
            ("--seal-key-file", value)
        }
        (None, None) => return Ok(None),
    };
    // Trimmed, as the configuration's seal_key_env and seal_key_file are.
    let key = SealKey::new(text.trim().as_bytes().to_vec())
        .map_err(|e| usage(format!("{option}: {e}")))?;
    Ok(Some(key))
}

fn public_key(args: &VerifyArgs) -> Result<Option<PublicKey>> {
    let Some(path) = &args.public_key else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        usage(format!(
            "--public-key: cannot read {}: {}",
            path.display(),
            io_reason(&e)
        ))
    })?;
    let key = PublicKey::from_text(&text)
        .map_err(|e| usage(format!("--public-key: {}: {e}", path.display())))?;
    Ok(Some(key))
}

/// The anchors file `--anchors` names, read; `Err` is the exit status (74) after saying why it
/// cannot be read.
pub(crate) fn anchors(args: &VerifyArgs) -> std::result::Result<Option<Anchors>, u8> {
    let Some(path) = &args.anchors else {
        return Ok(None);
    };
    Anchors::read(path).map(Some).map_err(|error| {
        common::note(&format!(
            "odoo-warden: cannot read the anchors file {}: {}\n",
            path.display(),
            io_reason(&error)
        ));
        EXIT_IOERR
    })
}

fn verify(args: &VerifyArgs) -> Result<u8> {
    let seal = seal_key(args)?;
    let public_key = public_key(args)?;
    let target = pg::target(&args.folder)?;
    if target.is_none() && args.stream.is_some() {
        return Err(usage("--stream applies to a postgres:// source only"));
    }
    if let Some(target) = target {
        let anchors = match anchors(args) {
            Ok(anchors) => anchors,
            Err(status) => return Ok(status),
        };
        let options = VerifyOptions {
            seal,
            public_key,
            anchors,
        };
        let mut reader = match pg::open(&target) {
            Ok(reader) => reader,
            Err(status) => return Ok(status),
        };
        return match reader.verify(args.stream.as_deref(), &options) {
            Ok(report) => verify_output(args, &report, &target.display()),
            Err(error) => Ok(pg::unreadable(&error)),
        };
    }
    let dir = folder(&args.folder)?;
    let anchors = match anchors(args) {
        Ok(anchors) => anchors,
        Err(status) => return Ok(status),
    };
    let options = VerifyOptions {
        seal,
        public_key,
        anchors,
    };
    let report = match verify::verify_dir(&dir, &options) {
        Ok(report) => report,
        Err(error) => return Ok(unreadable(&dir, &error)),
    };
    verify_output(args, &report, &dir.display().to_string())
}

/// Print `report`; the exit status.
fn verify_output(args: &VerifyArgs, report: &Report, source: &str) -> Result<u8> {
    if args.json {
        common::out(&format!("{}\n", serde_json::to_string_pretty(report)?))?;
    } else {
        common::out(&verify_text(report))?;
    }
    if report.streams.is_empty() {
        common::note(&format!("odoo-warden: no audit files in {source}\n"));
        return Ok(EXIT_FAIL);
    }
    if report.ok() {
        return Ok(EXIT_OK);
    }
    let broken = report
        .streams
        .iter()
        .filter(|s| s.problem.is_some())
        .count();
    if broken > 0 {
        common::note(&format!(
            "odoo-warden: the audit chain is broken in {broken} of {} {}\n",
            report.streams.len(),
            plural(report.streams.len() as u64, "stream", "streams")
        ));
    } else {
        common::note("odoo-warden: the anchors file does not verify\n");
    }
    Ok(EXIT_FAIL)
}

fn plural<'a>(count: u64, one: &'a str, many: &'a str) -> &'a str {
    if count == 1 { one } else { many }
}

/// The report for people.
fn verify_text(report: &Report) -> String {
    let source = report.dir.display().to_string();
    let mut text = if source.starts_with("postgres://") {
        format!("audit table warden_audit_events in {source}\n")
    } else {
        format!("audit folder {source}\n")
    };
    if let Some(anchors) = &report.anchors {
        text.push_str(&format!(
            "anchors {}: {} {}, signatures {}\n",
            anchors.file.display(),
            anchors.checkpoints,
            plural(anchors.checkpoints, "checkpoint", "checkpoints"),
            if anchors.signatures_checked {
                "checked"
            } else {
                "not checked"
            }
        ));
        for problem in &anchors.problems {
            text.push_str(&format!("  problem: {problem}\n"));
        }
        for warning in &anchors.warnings {
            text.push_str(&format!("  warning: {warning}\n"));
        }
    }
    for stream in &report.streams {
        text.push_str(&stream_text(stream, report.anchors.is_some()));
    }
    if !report.streams.is_empty() {
        let streams = report.streams.len() as u64;
        if report.ok() {
            text.push_str(&format!(
                "ok: {} {} verified in {streams} {}\n",
                report.events(),
                plural(report.events(), "event", "events"),
                plural(streams, "stream", "streams")
            ));
        } else {
            text.push_str(
                "BROKEN: the log does not verify; see the first broken event (or the anchors' problem) above\n",
            );
        }
    }
    text
}

fn stream_text(stream: &StreamReport, anchored: bool) -> String {
    let files = format!("{} {}", stream.files, plural(stream.files, "file", "files"));
    let events = format!(
        "{} {}",
        stream.events,
        plural(stream.events, "event", "events")
    );
    let checkpoints = if anchored {
        format!(
            ", {} {} reached",
            stream.checkpoints,
            plural(stream.checkpoints, "checkpoint", "checkpoints")
        )
    } else {
        String::new()
    };
    let mut text = match &stream.problem {
        None => format!(
            "stream {}: ok, {files}, {events}{checkpoints}, head {}\n",
            stream.stream,
            stream.head.as_deref().unwrap_or("-")
        ),
        Some(problem) => {
            let mut at = problem.file.clone();
            if let Some(line) = problem.line {
                at.push_str(&format!(" line {line}"));
            }
            if let Some(seq) = problem.seq {
                at.push_str(&format!(", seq {seq}"));
            }
            if let Some(id) = &problem.event_id {
                at.push_str(&format!(", event {id}"));
            }
            format!(
                "stream {}: BROKEN ({files} read, {events} before the break)\n  first broken event: {at}\n  reason: {}\n",
                stream.stream, problem.reason
            )
        }
    };
    for warning in &stream.warnings {
        text.push_str(&format!("  warning: {warning}\n"));
    }
    text
}

/// Writes a new file with `mode`, or replaces one when `replace`.
fn write_new(path: &Path, contents: &str, mode: u32, replace: bool) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if replace {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(mode);
        let mut file = options.open(path)?;
        // An existing file keeps its mode on open: set it.
        file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        file.write_all(contents.as_bytes())?;
        file.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = mode;
        let mut file = options.open(path)?;
        file.write_all(contents.as_bytes())?;
        file.sync_all()
    }
}

fn keygen(args: &KeygenArgs) -> Result<u8> {
    let public_path = args.public.clone().unwrap_or_else(|| {
        let mut name = args.private.as_os_str().to_owned();
        name.push(".pub");
        PathBuf::from(name)
    });
    if public_path == args.private {
        return Err(usage("--public must name another file than PRIVATE"));
    }
    if !args.force {
        for path in [&args.private, &public_path] {
            if path.exists() {
                return Err(usage(format!(
                    "{} exists: give --force to replace it (the key it holds would be lost)",
                    path.display()
                )));
            }
        }
    }
    let (key, private_pem) =
        SigningKey::generate().map_err(|e| anyhow::anyhow!("cannot make a key: {e}"))?;
    let public = key.public_key();
    for (path, contents, mode) in [
        (&args.private, private_pem.as_str(), 0o600),
        (&public_path, public.to_pem().as_str(), 0o644),
    ] {
        if let Err(error) = write_new(path, contents, mode, args.force) {
            common::note(&format!(
                "odoo-warden: cannot write {}: {}\n",
                path.display(),
                io_reason(&error)
            ));
            return Ok(EXIT_IOERR);
        }
    }
    drop(private_pem);
    common::out(&public.to_pem())?;
    common::note(&format!(
        "wrote the private key to {} (0600): keep it away from the audit folder and point [audit] signing_key_file at it\n\
         wrote the public key to {}: give it to whoever verifies the log (audit verify --public-key)\n\
         key id {}\n",
        args.private.display(),
        public_path.display(),
        public.id()
    ));
    Ok(EXIT_OK)
}

/// A `--since`/`--until` value: RFC 3339, or a duration before `now`.
fn parse_time(option: &str, text: &str, now: SystemTime) -> Result<SystemTime> {
    // A day alone is its midnight, UTC.
    let is_day = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if is_day && let Ok(at) = humantime::parse_rfc3339(&format!("{text}T00:00:00Z")) {
        return Ok(at);
    }
    if let Ok(at) = humantime::parse_rfc3339_weak(text) {
        if text.ends_with(['Z', 'z']) || text.ends_with("+00:00") {
            return Ok(at);
        }
        return Err(usage(format!(
            "{option}: {text:?} has no time zone: give it in UTC, ending in Z (e.g. 2026-12-01T10:00:00Z)"
        )));
    }
    if let Ok(ago) = humantime::parse_duration(text) {
        return now
            .checked_sub(ago)
            .ok_or_else(|| usage(format!("{option}: {text:?} reaches before 1970")));
    }
    Err(usage(format!(
        "{option}: {text:?} is neither an RFC 3339 time in UTC (2026-12-01T10:00:00Z) nor a duration ago (15m, 2h, 7d)"
    )))
}

fn parse_record(text: &str) -> Result<RecordRef, String> {
    text.parse()
}

fn filter(args: &FilterArgs) -> Result<Filter> {
    let now = SystemTime::now();
    let mut filter = Filter::default();
    filter.key.clone_from(&args.key);
    filter.model.clone_from(&args.model);
    filter.record.clone_from(&args.record);
    filter.tool.clone_from(&args.tool);
    filter.method.clone_from(&args.method);
    filter.ip.clone_from(&args.ip);
    filter.outcome = args.outcome.map(|o| match o {
        OutcomeArg::Ok => OutcomeFilter::Ok,
        OutcomeArg::Error => OutcomeFilter::Error,
        OutcomeArg::Denied => OutcomeFilter::Denied,
        OutcomeArg::Allowed => OutcomeFilter::Allowed,
    });
    filter.kind = args.kind.map(|k| {
        match k {
            KindArg::Request => "request",
            KindArg::Alert => "alert",
            KindArg::Gap => "gap",
            KindArg::Chain => "chain",
        }
        .to_owned()
    });
    filter.since = args
        .since
        .as_deref()
        .map(|t| parse_time("--since", t, now))
        .transpose()?;
    filter.until = args
        .until
        .as_deref()
        .map(|t| parse_time("--until", t, now))
        .transpose()?;
    if let (Some(since), Some(until)) = (filter.since, filter.until)
        && since >= until
    {
        return Err(usage("--since must be before --until"));
    }
    Ok(filter)
}

/// Writes matching events to stdout, one per line, flushed per line.
struct Printer {
    out: StdoutLock<'static>,
    format: Format,
    header: bool,
    line: Vec<u8>,
}

/// Column widths of the table (a cell that is longer pushes the rest of its row).
const WIDTHS: [usize; 7] = [24, 16, 15, 20, 18, 8, 16];
const HEADER: [&str; 8] = [
    "TIME", "KEY", "IP", "TOOL", "MODEL", "DECISION", "OUTCOME", "MS",
];

impl Printer {
    fn new(format: Option<Format>) -> Self {
        let out = std::io::stdout();
        let format = format.unwrap_or(if out.is_terminal() {
            Format::Table
        } else {
            Format::Json
        });
        Self {
            out: out.lock(),
            format,
            header: false,
            line: Vec::with_capacity(2048),
        }
    }

    /// Prints the table's header (once), also when nothing matches.
    fn start(&mut self) -> std::io::Result<()> {
        if self.format == Format::Table && !self.header {
            self.header = true;
            let row = HEADER.map(str::to_owned);
            let text = table_row(&row);
            self.out.write_all(text.as_bytes())?;
            self.out.flush()?;
        }
        Ok(())
    }

    /// Prints one stored line (without its newline).
    fn event(&mut self, raw: &[u8]) -> std::io::Result<()> {
        let Ok(mut value) = serde_json::from_slice::<Value>(raw) else {
            return Ok(());
        };
        self.line.clear();
        match self.format {
            Format::Json => {
                if let Value::Object(members) = &mut value {
                    members.retain(|name, _| !CHAIN_MEMBERS.contains(&name.as_str()));
                }
                serde_json::to_writer(&mut self.line, &value)?;
                self.line.push(b'\n');
            }
            Format::Table => {
                self.start()?;
                self.line
                    .extend_from_slice(table_row(&table_cells(&value)).as_bytes());
            }
        }
        self.out.write_all(&self.line)?;
        self.out.flush()
    }
}

fn table_row(cells: &[String; 8]) -> String {
    let mut line = String::new();
    for (cell, width) in cells.iter().zip(WIDTHS) {
        line.push_str(cell);
        let len = cell.chars().count();
        line.extend(std::iter::repeat_n(' ', width.saturating_sub(len) + 2));
    }
    line.push_str(&format!("{:>8}", cells[7]));
    line.push('\n');
    line
}

fn table_cells(event: &Value) -> [String; 8] {
    let text = |value: &Value| value.as_str().map(str::to_owned);
    let dash = || "-".to_owned();
    let time = event["time"].as_str().map_or_else(dash, short_time);
    let key = text(&event["key_name"])
        .or_else(|| text(&event["key_id"]))
        .unwrap_or_else(dash);
    let ip = text(&event["client_ip"]).unwrap_or_else(dash);
    let tool = match event["kind"].as_str() {
        Some("alert") => format!("alert {}", event["alert"]["name"].as_str().unwrap_or("?")),
        Some("gap") => format!("gap {}", event["gap"]["sink"].as_str().unwrap_or("?")),
        Some("chain") => format!("chain {}", event["chain"]["op"].as_str().unwrap_or("?")),
        _ => text(&event["tool"])
            .or_else(|| text(&event["method"]))
            .unwrap_or_else(dash),
    };
    let model = text(&event["model"]).unwrap_or_else(dash);
    let decision = text(&event["decision"]["verdict"]).unwrap_or_else(dash);
    let outcome = match event["outcome"]["status"].as_str() {
        Some("error") => text(&event["outcome"]["error"]).unwrap_or_else(|| "error".to_owned()),
        Some(status) => status.to_owned(),
        None => match event["gap"]["dropped"].as_u64() {
            Some(dropped) => format!("{dropped} dropped"),
            None => dash(),
        },
    };
    let ms = event["latency"]["total_ms"]
        .as_f64()
        .map_or_else(dash, |ms| format!("{ms:.1}"));
    [time, key, ip, tool, model, decision, outcome, ms]
}

/// `2026-12-01T10:00:00.123456Z` as `2026-12-01T10:00:00.123Z`.
fn short_time(time: &str) -> String {
    match (time.get(..23), time.len()) {
        (Some(head), 27) if time.ends_with('Z') => format!("{head}Z"),
        _ => time.to_owned(),
    }
}

/// Whether the reader of stdout went away (`| head`): not an error.
fn gone(error: &std::io::Error) -> bool {
    error.kind() == std::io::ErrorKind::BrokenPipe
}

/// Progress on stderr, for a long search on a terminal.
struct Progress {
    total: u64,
    shown: bool,
}

impl Progress {
    fn new(total: u64) -> Self {
        Self {
            total,
            shown: false,
        }
    }

    fn enabled(&self) -> bool {
        self.total > PROGRESS_ABOVE_BYTES && std::io::stderr().is_terminal()
    }

    fn update(&mut self, done: u64) {
        const MIB: u64 = 1024 * 1024;
        let percent = done.saturating_mul(100) / self.total.max(1);
        common::note(&format!(
            "\rsearched {} of {} MiB ({percent}%)",
            done / MIB,
            self.total / MIB
        ));
        self.shown = true;
    }

    fn clear(&mut self) {
        if self.shown {
            common::note(&format!("\r{}\r", " ".repeat(48)));
            self.shown = false;
        }
    }
}

fn search(args: &SearchArgs) -> Result<u8> {
    let filter = filter(&args.filter)?;
    if let Some(target) = pg::target(&args.folder)? {
        return search_table(args, &filter, &target);
    }
    let dir = folder(&args.folder)?;
    let (files, total) = match search::files_to_search(&dir, &filter) {
        Ok(found) => found,
        Err(error) => return Ok(unreadable(&dir, &error)),
    };
    let mut printer = Printer::new(args.format);
    let mut progress = Progress::new(total);
    let show_progress = progress.enabled();
    let mut failed: Option<std::io::Error> = printer.start().err();
    let mut matched = 0u64;
    let limit = args.limit.unwrap_or(u64::MAX);
    let searched = if failed.is_some() {
        Ok(search::SearchStats::default())
    } else {
        search::search_files(
            &files,
            &filter,
            |raw, _| {
                if let Err(error) = printer.event(raw) {
                    failed = Some(error);
                    return ControlFlow::Break(());
                }
                matched += 1;
                if matched >= limit {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            },
            |done| {
                if show_progress {
                    progress.update(done);
                }
            },
        )
    };
    progress.clear();
    let stats = match searched {
        Ok(stats) => stats,
        Err(error) => return Ok(unreadable(&dir, &error)),
    };
    if let Some(error) = failed
        && !gone(&error)
    {
        return Err(error).context("cannot write the results");
    }
    if files.is_empty() && stream_files(&dir).is_ok_and(|s| s.is_empty()) {
        common::note(&format!("no audit files in {}\n", dir.display()));
    }
    let mut summary = format!(
        "{matched} matching {} in {} {} ({} {})",
        plural(matched, "event", "events"),
        stats.files,
        plural(stats.files, "file", "files"),
        stats.bytes,
        plural(stats.bytes, "byte", "bytes"),
    );
    if matched >= limit {
        summary.push_str(&format!(", stopped at --limit {limit}"));
    }
    summary.push('\n');
    if let Some(record) = &filter.record
        && stats.unlisted > 0
    {
        summary.push_str(&unlisted_note(record, stats.unlisted));
    }
    common::note(&summary);
    Ok(EXIT_OK)
}

/// `audit search` on a PostgreSQL table.
fn search_table(
    args: &SearchArgs,
    filter: &Filter,
    target: &warden_audit_pg::PgTarget,
) -> Result<u8> {
    let mut reader = match pg::open(target) {
        Ok(reader) => reader,
        Err(status) => return Ok(status),
    };
    let mut printer = Printer::new(args.format);
    let mut failed: Option<std::io::Error> = printer.start().err();
    let mut matched = 0u64;
    let limit = args.limit.unwrap_or(u64::MAX);
    let stats = if failed.is_some() {
        search::SearchStats::default()
    } else {
        let searched = pg::search(&mut reader, filter, |raw| {
            if let Err(error) = printer.event(raw) {
                failed = Some(error);
                return ControlFlow::Break(());
            }
            matched += 1;
            if matched >= limit {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
        match searched {
            Ok(stats) => stats,
            Err(status) => return Ok(status),
        }
    };
    if let Some(error) = failed
        && !gone(&error)
    {
        return Err(error).context("cannot write the results");
    }
    let mut summary = format!(
        "{matched} matching {} in {} ({} {} read)",
        plural(matched, "event", "events"),
        reader.source(),
        stats.lines,
        plural(stats.lines, "row", "rows"),
    );
    if matched >= limit {
        summary.push_str(&format!(", stopped at --limit {limit}"));
    }
    summary.push('\n');
    if let Some(record) = &filter.record
        && stats.unlisted > 0
    {
        summary.push_str(&unlisted_note(record, stats.unlisted));
    }
    common::note(&summary);
    Ok(EXIT_OK)
}

/// What `search --record` says of the events that may concern the record without listing it.
fn unlisted_note(record: &RecordRef, unlisted: u64) -> String {
    format!(
        "note: {unlisted} more {} on {} named more than {} records and {} only the first {}, without {}: \
         the record may be among the rest (list them with --model {} and look at record_count)\n",
        plural(unlisted, "event", "events"),
        record.model,
        warden_audit::event::MAX_RECORD_IDS,
        plural(unlisted, "lists", "list"),
        warden_audit::event::MAX_RECORD_IDS,
        record.id,
        record.model,
    )
}

/// Every audit file seen, with how far it has been read.
type Offsets = HashMap<PathBuf, u64>;

/// Reads the complete lines of `path` from byte `offset` on (a torn last line is left for
/// later), calling `line` with each; returns the offset after the last complete line. When
/// `offset` falls inside a line, that line's rest is skipped.
fn read_lines(path: &Path, offset: u64, mut line: impl FnMut(&[u8])) -> std::io::Result<u64> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let mut offset = offset.min(len);
    if offset == len {
        return Ok(offset);
    }
    let mut skip_partial = false;
    if offset > 0 {
        file.seek(SeekFrom::Start(offset - 1))?;
        let mut before = [0u8; 1];
        file.read_exact(&mut before)?;
        skip_partial = before[0] != b'\n';
    } else {
        file.seek(SeekFrom::Start(0))?;
    }
    let mut reader = BufReader::with_capacity(256 * 1024, file);
    let mut buffer = Vec::with_capacity(2048);
    loop {
        buffer.clear();
        let read = reader.read_until(b'\n', &mut buffer)?;
        if read == 0 || buffer.last() != Some(&b'\n') {
            return Ok(offset);
        }
        offset += read as u64;
        if skip_partial {
            skip_partial = false;
            continue;
        }
        buffer.pop();
        line(&buffer);
    }
}

/// The line's time (for ordering across streams), when it matches the filter.
fn matching(filter: &Filter, raw: &[u8]) -> Option<String> {
    let view = serde_json::from_slice::<EventView<'_>>(raw).ok()?;
    filter
        .matches(&view)
        .then(|| view.time.as_deref().unwrap_or("").to_owned())
}

/// The last `n` matching lines of a stream (reading its files newest first), oldest first;
/// records how far each file was read.
fn stream_tail(
    files: &[StreamFile],
    filter: &Filter,
    n: usize,
    offsets: &mut Offsets,
) -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let mut found: VecDeque<(String, Vec<u8>)> = VecDeque::new();
    for file in files.iter().rev() {
        if found.len() >= n {
            let len = std::fs::metadata(&file.path).map_or(0, |m| m.len());
            offsets.insert(file.path.clone(), len);
            continue;
        }
        let mut last: VecDeque<(String, Vec<u8>)> = VecDeque::new();
        let end = read_lines(&file.path, 0, |raw| {
            if let Some(time) = matching(filter, raw) {
                last.push_back((time, raw.to_vec()));
                if last.len() > n {
                    last.pop_front();
                }
            }
        })?;
        offsets.insert(file.path.clone(), end);
        while let Some(entry) = last.pop_back() {
            if found.len() >= n {
                break;
            }
            found.push_front(entry);
        }
    }
    Ok(found.into())
}

fn tail(args: &TailArgs) -> Result<u8> {
    let filter = filter(&args.filter)?;
    if pg::target(&args.folder)?.is_some() {
        return Err(usage(
            "audit tail reads an audit folder; on PostgreSQL, use audit search --since",
        ));
    }
    let dir = folder(&args.folder)?;
    // Installed before anything is printed: whoever reads the output may stop us at once.
    let runtime = if args.follow {
        Some(
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot start the follow loop")?,
        )
    } else {
        None
    };
    let stop = match &runtime {
        Some(runtime) => Some(runtime.block_on(async { common::shutdown_signal() })?),
        None => None,
    };
    let streams = match stream_files(&dir) {
        Ok(streams) => streams,
        Err(error) => return Ok(unreadable(&dir, &error)),
    };
    let mut offsets = Offsets::new();
    let mut latest: Vec<(String, Vec<u8>)> = Vec::new();
    for (_, files) in &streams {
        match stream_tail(files, &filter, args.lines, &mut offsets) {
            Ok(found) => latest.extend(found),
            Err(error) => return Ok(unreadable(&dir, &error)),
        }
    }
    latest.sort_by(|a, b| a.0.cmp(&b.0));
    let skip = latest.len().saturating_sub(args.lines);
    let mut printer = Printer::new(args.format);
    let printed = printer.start().and_then(|()| {
        latest
            .iter()
            .skip(skip)
            .try_for_each(|(_, raw)| printer.event(raw))
    });
    drop(latest);
    match printed {
        Err(error) if gone(&error) => return Ok(EXIT_OK),
        Err(error) => return Err(error).context("cannot write the results"),
        Ok(()) => {}
    }
    if streams.is_empty() {
        let waiting = if args.follow {
            "; waiting for them"
        } else {
            ""
        };
        common::note(&format!("no audit files in {}{waiting}\n", dir.display()));
    }
    let (Some(runtime), Some(stop)) = (runtime, stop) else {
        return Ok(EXIT_OK);
    };
    runtime.block_on(async move {
        tokio::pin!(stop);
        loop {
            match follow_once(&dir, &filter, &mut offsets, &mut printer) {
                Ok(()) => {}
                Err(Followed::Gone) => return Ok(EXIT_OK),
                Err(Followed::Folder(error)) => return Ok(unreadable(&dir, &error)),
                Err(Followed::Write(error)) => {
                    return Err(error).context("cannot write the results");
                }
            }
            tokio::select! {
                () = tokio::time::sleep(FOLLOW_INTERVAL) => {}
                () = &mut stop => return Ok(EXIT_OK),
            }
        }
    })
}

/// Why the follow loop stops.
enum Followed {
    /// The reader of stdout went away.
    Gone,
    /// The folder cannot be read any more.
    Folder(std::io::Error),
    /// Stdout cannot be written.
    Write(std::io::Error),
}

/// Prints the matching lines written since the last look, in every stream's files in order.
fn follow_once(
    dir: &Path,
    filter: &Filter,
    offsets: &mut Offsets,
    printer: &mut Printer,
) -> Result<(), Followed> {
    let streams = stream_files(dir).map_err(Followed::Folder)?;
    let mut present = HashSet::new();
    for (_, files) in streams {
        for file in files {
            let mut from = offsets.get(&file.path).copied().unwrap_or(0);
            if from > 0 && std::fs::metadata(&file.path).is_ok_and(|m| m.len() < from) {
                common::note(&format!(
                    "odoo-warden: {} shrank: it was truncated or replaced (`audit verify` says more); reading it again from its start\n",
                    file.name
                ));
                from = 0;
            }
            let mut failed = None;
            let read = read_lines(&file.path, from, |raw| {
                if failed.is_none() && matching(filter, raw).is_some() {
                    failed = printer.event(raw).err();
                }
            });
            if let Some(error) = failed {
                return Err(if gone(&error) {
                    Followed::Gone
                } else {
                    Followed::Write(error)
                });
            }
            match read {
                Ok(end) => {
                    offsets.insert(file.path.clone(), end);
                }
                // Removed between the listing and the read (retention): forget it below.
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
                Err(error) => return Err(Followed::Folder(error)),
            }
            present.insert(file.path);
        }
    }
    offsets.retain(|path, _| present.contains(path));
    Ok(())
}
