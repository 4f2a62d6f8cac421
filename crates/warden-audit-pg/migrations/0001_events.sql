-- Version 1: the events table, the indexes of the searches people run, and the heads.
-- One row per line of a stream's hash chain: `line` is the exact line a JSONL file would hold
-- (seq, prev, the event, seal and signature); the other columns are copied from it for
-- searching, and `audit verify` checks that they still match it.
CREATE TABLE warden_audit_events (
    stream      text        NOT NULL,
    seq         bigint      NOT NULL CHECK (seq >= 0),
    time        timestamptz NOT NULL,
    kind        text        NOT NULL,
    key_id      text,
    key_name    text,
    profile     text,
    tool        text,
    method      text,
    model       text,
    outcome     text,
    decision    text,
    record_ids  bigint[],
    line        text        NOT NULL,
    PRIMARY KEY (stream, seq)
);

CREATE INDEX warden_audit_events_time ON warden_audit_events (time);
CREATE INDEX warden_audit_events_key_time ON warden_audit_events (key_id, time);
CREATE INDEX warden_audit_events_key_name_time ON warden_audit_events (key_name, time);
CREATE INDEX warden_audit_events_model_time ON warden_audit_events (model, time);
CREATE INDEX warden_audit_events_outcome_time ON warden_audit_events (outcome, decision, time);
CREATE INDEX warden_audit_events_records ON warden_audit_events USING gin (record_ids);

-- Each stream's head, updated in the transaction of every batch. `audit verify`
-- checks that the stream ends at the row its head names, with the hash the head records: the
-- newest rows cannot be removed unseen (with a seal or signing key, not even by whoever can
-- write this table). Columns as in a JSONL folder's `<stream>.head`.
CREATE TABLE warden_audit_heads (
    stream  text        PRIMARY KEY,
    seq     bigint      NOT NULL,
    hash    text        NOT NULL,
    time    text        NOT NULL,
    mac     text,
    sig     text
);
