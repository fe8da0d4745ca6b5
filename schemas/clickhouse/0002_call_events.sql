-- call_events: one row per call event push (呼叫事件通知): callin,
-- collectInfo, callout, alerting, answer, disconnect.
--
-- Identity is (session_id, event_type, event_time), the ORDER BY key, so
-- ReplacingMergeTree(ingested_at) collapses re-pushed and replayed copies of
-- an event; readers that must not see duplicates before parts merge use FINAL
-- or the call_events_latest view. event_time is the push's timestamp, UTC.
-- state_code is NULL on every event but disconnect.
--
-- Runs on ClickHouse 18.16 and current releases.
CREATE TABLE IF NOT EXISTS {{database}}.call_events
(
    session_id      String,
    event_type      String COMMENT 'callin, collectInfo, callout, alerting, answer or disconnect',
    event_time      DateTime COMMENT 'statusInfo.timestamp, UTC',
    caller          String,
    called          String,
    subscription_id String COMMENT 'binding id; empty on AXE callin',
    digit_info      String COMMENT 'the keyed extension, collectInfo only',
    state_code      Nullable(Int32) COMMENT 'hang-up reason, disconnect only',
    state_desc      String,
    user_data       String,
    raw             String COMMENT 'the push body exactly as received',
    ingested_at     DateTime DEFAULT now() COMMENT 'UTC; the ReplacingMergeTree version'
)
ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(event_time)
ORDER BY (session_id, event_type, event_time)
