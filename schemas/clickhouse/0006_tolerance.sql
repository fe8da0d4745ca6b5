-- Tolerance (DESIGN.md): only a record's identity refuses it; every other
-- field is stored as sent, and each value not as documented is an anomaly,
-- kept on the row as 'field:kind' (privatenumber.Anomaly: kinds missing,
-- type, range, format, unknown) and listed one per row by field_anomalies.
-- Also the optional fields the platform sends only when the app asks for
-- them: callDuration and areaCode (CDR), callRelDirection (events).
--
-- ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS: each ALTER adds one
-- column, and the migrator takes "column already exists" for done, so a
-- migration stopped midway applies again. Rows stored before take the
-- columns' defaults: no anomalies, callInTime not derived, the optional
-- fields absent.
ALTER TABLE {{database}}.fee_records ADD COLUMN call_duration Nullable(Int32) COMMENT 'callDuration, whole seconds; optional' AFTER extend_num;
ALTER TABLE {{database}}.fee_records ADD COLUMN area_code String COMMENT 'areaCode; optional' AFTER call_duration;
ALTER TABLE {{database}}.fee_records ADD COLUMN call_in_time_derived UInt8 COMMENT '1: no usable callInTime; call_in_time is the earliest other time, or 1970-01-01 00:00:00' AFTER area_code;
ALTER TABLE {{database}}.fee_records ADD COLUMN anomalies Array(String) COMMENT 'field:kind of each value not as documented' AFTER call_in_time_derived;
ALTER TABLE {{database}}.call_events ADD COLUMN call_rel_direction Nullable(UInt8) COMMENT 'callRelDirection: 1 caller hung up, 2 callee; optional' AFTER user_data;
ALTER TABLE {{database}}.call_events ADD COLUMN anomalies Array(String) COMMENT 'field:kind of each value not as documented' AFTER call_rel_direction;

-- The *_latest views are SELECT * views, whose columns ClickHouse fixes
-- when it creates them (18.16 and current releases alike), so they are
-- created again to show the new columns. 18.16 has neither DROP VIEW nor
-- CREATE OR REPLACE VIEW; DROP TABLE drops a view.
DROP TABLE IF EXISTS {{database}}.fee_records_latest;

CREATE VIEW IF NOT EXISTS {{database}}.fee_records_latest AS
SELECT * FROM {{database}}.fee_records FINAL;

DROP TABLE IF EXISTS {{database}}.call_events_latest;

CREATE VIEW IF NOT EXISTS {{database}}.call_events_latest AS
SELECT * FROM {{database}}.call_events FINAL;

-- field_anomalies: one row per anomaly of a stored record, over the
-- deduplicated rows (a re-pushed record counts once here, unlike the
-- ingest metric). The record is named by its identity: icid for a CDR
-- (table fee_records, with its session_id; record_time is its
-- call_in_time), session_id, event_type and record_time (the event_time)
-- for a call event (table call_events). field is the documented JSON name
-- (statusInfo.stateCode), kind one of missing, type, range, format, unknown.
CREATE VIEW IF NOT EXISTS {{database}}.field_anomalies AS
SELECT
    table,
    icid,
    session_id,
    event_type,
    record_time,
    splitByChar(':', anomaly)[1] AS field,
    splitByChar(':', anomaly)[2] AS kind,
    ingested_at
FROM
(
    SELECT 'fee_records' AS table, icid, session_id, '' AS event_type, call_in_time AS record_time, anomaly, ingested_at
    FROM {{database}}.fee_records FINAL
    ARRAY JOIN anomalies AS anomaly
    UNION ALL
    SELECT 'call_events' AS table, '' AS icid, session_id, event_type, event_time AS record_time, anomaly, ingested_at
    FROM {{database}}.call_events FINAL
    ARRAY JOIN anomalies AS anomaly
);
