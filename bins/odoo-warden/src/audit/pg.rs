//! `audit verify`, `search` and `report` on a PostgreSQL audit table: the source is a
//! `postgres://ROLE@HOST:PORT/DATABASE` address given where a folder goes. The password comes
//! from `--password-env VAR` or `PGPASSWORD`, never from the address, and is never printed.

use std::ops::ControlFlow;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use warden_audit::search::{Filter, SearchStats};
use warden_audit_pg::read::Reader;
use warden_audit_pg::{Password, PgTarget, TlsMode};

use crate::common::{self, usage};

use super::{EXIT_IOERR, FolderArgs};

/// How to reach a PostgreSQL source.
#[derive(Debug, Args)]
pub(crate) struct PgArgs {
    /// With a postgres:// source: the environment variable that holds the role's password
    /// (default: PGPASSWORD, when it is set).
    #[arg(long, value_name = "VAR")]
    password_env: Option<String>,
    /// With a postgres:// source: verify-full (the default), require (encrypted, the
    /// certificate not checked), or disable (a loopback host only).
    #[arg(long, value_name = "MODE")]
    tls: Option<String>,
    /// With a postgres:// source and --tls verify-full: the CA's certificates (PEM).
    #[arg(long, value_name = "FILE")]
    ca_file: Option<PathBuf>,
}

/// Whether `text` names a PostgreSQL database rather than a folder.
fn is_postgres(text: &str) -> bool {
    text.starts_with("postgres://") || text.starts_with("postgresql://")
}

/// The database `args` names, if its source is a `postgres://` address. The options of a
/// database given with a folder are refused.
pub(crate) fn target(args: &FolderArgs) -> Result<Option<PgTarget>> {
    let pg = &args.pg;
    let source = args.dir.as_ref().and_then(|d| d.to_str());
    let Some(url) = source.filter(|s| is_postgres(s)) else {
        for (given, option) in [
            (pg.password_env.is_some(), "--password-env"),
            (pg.tls.is_some(), "--tls"),
            (pg.ca_file.is_some(), "--ca-file"),
        ] {
            if given {
                return Err(usage(format!(
                    "{option} applies to a postgres:// source only"
                )));
            }
        }
        return Ok(None);
    };
    let mut target = PgTarget::from_url(url).map_err(|e| usage(format!("the address: {e}")))?;
    let var = pg.password_env.as_deref();
    target.password = match var {
        Some(var) => Some(Password::new(std::env::var(var).map_err(|_| {
            usage(format!(
                "--password-env: the environment variable {var} is not set (or not UTF-8)"
            ))
        })?)),
        None => std::env::var("PGPASSWORD").ok().map(Password::new),
    };
    target.tls = match pg.tls.as_deref() {
        None => TlsMode::VerifyFull,
        Some(text) => TlsMode::parse(text).ok_or_else(|| {
            usage(format!(
                "--tls {text:?}: verify-full, require, or disable (a loopback host only)"
            ))
        })?,
    };
    if target.tls == TlsMode::Disable && !target.is_loopback() {
        return Err(usage(
            "--tls disable is allowed only for a loopback host: the audit rows and the password \
             would cross the network unencrypted",
        ));
    }
    if let Some(file) = &pg.ca_file {
        if target.tls != TlsMode::VerifyFull {
            return Err(usage("--ca-file applies only with --tls verify-full"));
        }
        target.ca_file = Some(file.clone());
    }
    Ok(Some(target))
}

/// Connect, or say why not (exit status 74).
pub(crate) fn open(target: &PgTarget) -> std::result::Result<Reader, u8> {
    Reader::open(target).map_err(|error| {
        common::note(&format!(
            "odoo-warden: cannot read the audit table: {error}\n"
        ));
        EXIT_IOERR
    })
}

/// Says why the table could not be read: exit status 74.
pub(crate) fn unreadable(error: &warden_audit_pg::PgError) -> u8 {
    common::note(&format!(
        "odoo-warden: cannot read the audit table: {error}\n"
    ));
    EXIT_IOERR
}

/// `audit search` on the table.
pub(crate) fn search(
    reader: &mut Reader,
    filter: &Filter,
    mut visit: impl FnMut(&[u8]) -> ControlFlow<()>,
) -> std::result::Result<SearchStats, u8> {
    reader
        .search(filter, |raw, _| visit(raw))
        .map_err(|error| unreadable(&error))
}
