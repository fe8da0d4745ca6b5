-- legal_holds: the history of the legal holds put on and released from
-- recordings (package holds): one row per action, who did it, when and
-- why.
--
-- The S3 object's legal hold is the source of truth: a hold is what S3
-- enforces on the object's version, whatever this table says. The table is
-- the list and the history: a recording is listed as held while its latest
-- row (by version, the action's time in nanoseconds) is a 'put'. Retention
-- and erasure read it to keep a held call's rows too, and check S3 before
-- they delete an object.
--
-- Append-only, a plain MergeTree: two actions are two rows, never
-- collapsed.
--
-- Runs on ClickHouse 18.16 and current releases.
CREATE TABLE IF NOT EXISTS {{database}}.legal_holds
(
    icid        String COMMENT 'the call whose recording is held',
    session_id  String COMMENT 'the sessionId of the call, as stored',
    bucket      String,
    object_key  String,
    version_id  String COMMENT 'the S3 object version the hold is on; empty on an unversioned answer',
    action      String COMMENT 'put or release',
    who         String COMMENT 'who asked for it',
    reason      String COMMENT 'why: a case reference, a court order',
    at          DateTime COMMENT 'UTC, when the hold was put or released in S3',
    version     UInt64 COMMENT 'the action time in nanoseconds: orders two actions of one second'
)
ENGINE = MergeTree()
ORDER BY (icid, version);
