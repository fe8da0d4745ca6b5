-- fee_records: one row per CDR of a fee push (话单), every documented field
-- typed. Column names are the snake_case of the platform's field names.
--
-- Identity is icid. The platform re-pushes a CDR up to six times over five
-- hours and pnstream replays its stream after failures, so the same icid can
-- be inserted more than once: ReplacingMergeTree(ingested_at) keeps the most
-- recently ingested copy once parts merge, and readers that must not see
-- duplicates before that use FINAL or the fee_records_latest view.
--
-- Times are UTC, as the platform sends them; a step that never happened is
-- NULL. The partition key is a function of the record (callInTime), so every
-- copy of a CDR lands in the same partition, which deduplication requires.
--
-- Runs on ClickHouse 18.16 and current releases: no LowCardinality,
-- DateTime64, TTL or codecs.
CREATE TABLE IF NOT EXISTS {{database}}.fee_records
(
    direction                UInt8 COMMENT '0 A-called, 1 callback (A called out), 2 abnormal',
    sp_id                    String,
    app_key                  String,
    icid                     String COMMENT 'unique call-record id; the identity',
    bind_num                 String COMMENT 'the privacy number X',
    session_id               String COMMENT 'links call events, CDR and recording',
    subscription_id          String COMMENT 'binding id; empty when there was no binding',
    caller_num               String,
    callee_num               String,
    fwd_display_num          String,
    fwd_dst_num              String COMMENT 'real destination of the forward (A on A-called)',
    call_in_time             DateTime,
    fwd_start_time           Nullable(DateTime),
    fwd_alerting_time        Nullable(DateTime),
    fwd_answer_time          Nullable(DateTime),
    call_end_time            Nullable(DateTime),
    fail_time                Nullable(DateTime),
    record_start_time        Nullable(DateTime),
    fwd_unasw_rsn            Int32 COMMENT 'Q.850 cause of the forward failure, 0 n/a',
    ul_fail_reason           Int32 COMMENT 'teardown point, 0 normal',
    sip_status_code          Int32 COMMENT 'failure SIP status, 0 none',
    call_out_unasw_rsn       Int32 COMMENT 'Q.850 cause of the outbound-leg failure',
    record_flag              UInt8 COMMENT '1 recorded',
    record_domain            String,
    record_bucket_name       String,
    record_object_name       String,
    record_file_download_url String,
    tts_play_times           Int32,
    tts_trans_duration       Int32,
    mpty_id                  String,
    service_type             String,
    host_name                String,
    extend_num               String COMMENT 'extension E, from extendNum or extendNumber',
    raw                      String COMMENT 'the record JSON exactly as received',
    ingested_at              DateTime DEFAULT now() COMMENT 'UTC; the ReplacingMergeTree version'
)
ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(call_in_time)
ORDER BY icid
