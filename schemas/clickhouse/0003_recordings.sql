-- recordings: one row per recorded call whose audio pnstream mirrored (or
-- failed to mirror) into the S3 archive.
--
-- Identity is icid. A retry writes the same object key and a later
-- mirrored_at, so ReplacingMergeTree(mirrored_at) keeps the latest outcome:
-- a 'failed' row is superseded by the 'archived' row of a later attempt.
-- There is no partition key: it would have to be a function of mirrored_at,
-- which differs between attempts, and rows of one icid in different
-- partitions are never collapsed.
--
-- Runs on ClickHouse 18.16 and current releases.
CREATE TABLE IF NOT EXISTS {{database}}.recordings
(
    icid         String,
    session_id   String,
    bucket       String,
    object_key   String COMMENT 'recordings/<yyyy>/<mm>/<dd>/<icid>.<ext>',
    size_bytes   UInt64,
    sha256       String COMMENT 'hex SHA-256 of the object',
    content_type String,
    mirrored_at  DateTime COMMENT 'UTC; the ReplacingMergeTree version',
    status       String COMMENT 'archived or failed',
    error        String COMMENT 'why the last attempt failed; empty when archived'
)
ENGINE = ReplacingMergeTree(mirrored_at)
ORDER BY icid
