//! The tables, by versioned migrations embedded in the binary.
//!
//! `warden_audit_schema` records the versions applied. [`migrate`] applies the missing ones in
//! one transaction, under a transaction-level advisory lock: replicas starting together apply
//! them once, one after the other, and a failed migration leaves nothing behind. A database
//! whose schema is newer than this binary knows is refused: an older binary must not write rows
//! a newer schema may read otherwise.

use postgres::{Client, GenericClient};

use crate::PgError;

/// The migrations: version, what it does, its SQL.
pub const MIGRATIONS: &[(i32, &str, &str)] = &[(
    1,
    "the events table, its indexes, and the heads table",
    include_str!("../migrations/0001_events.sql"),
)];

/// The newest schema version this binary knows.
pub const LATEST: i32 = 1;

/// The advisory lock that serializes migrations (any 64-bit number of our own: "wardmigr").
const MIGRATION_LOCK: i64 = 0x7761_7264_6d69_6772;

/// The schema version of the database: 0 when the schema table is missing.
pub fn version(client: &mut impl GenericClient) -> Result<i32, PgError> {
    let exists: bool = client
        .query_one("SELECT to_regclass('warden_audit_schema') IS NOT NULL", &[])
        .map_err(|e| PgError::db("cannot read the schema version", &e))?
        .get(0);
    if !exists {
        return Ok(0);
    }
    let version: i32 = client
        .query_one(
            "SELECT coalesce(max(version), 0) FROM warden_audit_schema",
            &[],
        )
        .map_err(|e| PgError::db("cannot read the schema version", &e))?
        .get(0);
    Ok(version)
}

/// Refuse a schema newer than [`LATEST`].
pub fn check_known(version: i32) -> Result<(), PgError> {
    if version > LATEST {
        return Err(PgError::new(format!(
            "the database's audit schema is version {version}, newer than this odoo-warden knows \
             ({LATEST}): upgrade odoo-warden"
        )));
    }
    Ok(())
}

/// Apply the missing migrations; returns the schema version. When the schema is current, runs
/// no DDL (a role without CREATE rights starts fine on a schema its owner made).
pub fn migrate(client: &mut Client) -> Result<i32, PgError> {
    let current = version(client)?;
    check_known(current)?;
    if current == LATEST {
        return Ok(current);
    }
    let mut tx = client
        .transaction()
        .map_err(|e| PgError::db("cannot begin the migration", &e))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .map_err(|e| PgError::db("cannot take the migration lock", &e))?;
    // Another replica may have migrated while this one waited for the lock. The CREATE also
    // makes this session see tables created meanwhile (an advisory lock does not refresh the
    // catalog caches that `to_regclass` reads).
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS warden_audit_schema (
             version     integer     PRIMARY KEY,
             description text        NOT NULL,
             applied_at  timestamptz NOT NULL DEFAULT now()
         )",
    )
    .map_err(|e| PgError::db("cannot create warden_audit_schema", &e))?;
    let current: i32 = tx
        .query_one(
            "SELECT coalesce(max(version), 0) FROM warden_audit_schema",
            &[],
        )
        .map_err(|e| PgError::db("cannot read the schema version", &e))?
        .get(0);
    check_known(current)?;
    for (number, description, sql) in MIGRATIONS {
        if *number <= current {
            continue;
        }
        tx.batch_execute(sql)
            .map_err(|e| PgError::db(&format!("migration {number} ({description}) failed"), &e))?;
        tx.execute(
            "INSERT INTO warden_audit_schema (version, description) VALUES ($1, $2)",
            &[number, description],
        )
        .map_err(|e| PgError::db("cannot record the migration", &e))?;
        tracing::info!(
            version = number,
            "audit schema: applied migration {description}"
        );
    }
    tx.commit()
        .map_err(|e| PgError::db("cannot commit the migration", &e))?;
    Ok(LATEST)
}

/// What `odoo-warden doctor` reports of a database: the server's version and the audit schema's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// `server_version`, e.g. `15.18 (Debian 15.18-0+deb12u1)`.
    pub server_version: String,
    /// The audit schema's version (0: no audit table yet).
    pub schema_version: i32,
}

/// Connect to `target` (off any asynchronous runtime), read the server's version and the schema's,
/// and disconnect. Changes nothing.
pub fn probe(target: &crate::PgTarget) -> Result<Probe, PgError> {
    let target = target.clone();
    crate::off_runtime(move || {
        let mut client = target.connect()?;
        let server_version: String = client
            .query_one("SHOW server_version", &[])
            .map_err(|e| PgError::db("cannot read the server's version", &e))?
            .get(0);
        let schema_version = version(&mut client)?;
        Ok(Probe {
            server_version,
            schema_version,
        })
    })
}
