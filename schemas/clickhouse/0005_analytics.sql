-- Analytics views for analysts and compliance officers, and the reason
-- dictionary they explain failures with. All are plain views over the
-- deduplicated data (FINAL), so replays and re-pushes never count twice.
--
-- Portable to ClickHouse 18.16: one ARRAY JOIN per SELECT, ANY LEFT JOIN
-- with USING, no dateDiff. A join whose right side reads another pnstream
-- table is GLOBAL: on a cluster the tables are Distributed, and a plain
-- join would make every shard query every shard (refused by default as a
-- double-distributed subquery); on one server GLOBAL changes nothing.
--
-- failure_reasons: the documented hang-up and failure codes
-- (reference privatenumber-axe.md section 7): stateCode and ulFailReason
-- share one code space (ulFailReason adds a few), fwdUnaswRsn and
-- callOutUnaswRsn are Q.850 causes. A view over literal arrays rather than
-- a filled table: it needs no INSERT (which cluster.go cannot derive and
-- 18.16 makes awkward), every server of a cluster has the same rows, and a
-- later migration replaces it with CREATE VIEW of a new name.
-- outcome is what a call torn down with that code counts as when it was
-- not answered: parties that hung up, refused or did not pick up make an
-- 'unanswered' call; binding, tenant, control, platform and network codes
-- make a 'failed' one.
CREATE VIEW IF NOT EXISTS {{database}}.failure_reasons AS
SELECT kind, code, category, outcome, description
FROM
(
    SELECT t.1 AS kinds, toInt32(t.2) AS code, t.3 AS category, t.4 AS outcome, t.5 AS description
    FROM system.one
    ARRAY JOIN [
    (['stateCode', 'ulFailReason'], '0', 'normal', 'unanswered', 'hung up normally after connect'),
    (['stateCode', 'ulFailReason'], '8013', 'binding', 'failed', 'AX call without temporary callee'),
    (['stateCode', 'ulFailReason'], '8014', 'binding', 'failed', 'no binding or bad number format'),
    (['stateCode', 'ulFailReason'], '8016', 'binding', 'failed', 'call direction not allowed'),
    (['stateCode', 'ulFailReason'], '8019', 'binding', 'failed', 'no callback record (AXE, A dialled X)'),
    (['stateCode', 'ulFailReason'], '8022', 'binding', 'failed', 'binding missing or expired (AXE, B dialled X)'),
    (['stateCode', 'ulFailReason'], '8030', 'binding', 'failed', 'AXYB binding problem'),
    (['stateCode', 'ulFailReason'], '8031', 'binding', 'failed', 'AXYB binding problem'),
    (['stateCode', 'ulFailReason'], '7501', 'caller', 'unanswered', 'caller hung up before ringing'),
    (['stateCode', 'ulFailReason'], '7502', 'caller', 'unanswered', 'caller hung up after ringing'),
    (['stateCode', 'ulFailReason'], '7516', 'caller', 'unanswered', 'caller hung up before transfer (before keying E)'),
    (['stateCode', 'ulFailReason'], '8033', 'caller', 'unanswered', 'empty extension received'),
    (['stateCode', 'ulFailReason'], '8025', 'number', 'failed', 'dialled X does not exist (AXE)'),
    (['stateCode', 'ulFailReason'], '7503', 'callee', 'unanswered', 'callee rejected the call'),
    (['stateCode', 'ulFailReason'], '7504', 'callee', 'unanswered', 'call refused (DND, blacklist, blocker app)'),
    (['stateCode', 'ulFailReason'], '8035', 'callee', 'unanswered', 'platform connect timeout (about 90 s after transfer)'),
    (['stateCode', 'ulFailReason'], '8100', 'callee', 'unanswered', 'number does not exist'),
    (['stateCode', 'ulFailReason'], '8101', 'callee', 'unanswered', 'no answer'),
    (['stateCode', 'ulFailReason'], '8102', 'callee', 'unanswered', 'busy'),
    (['stateCode', 'ulFailReason'], '8103', 'callee', 'unanswered', 'signal problem'),
    (['stateCode', 'ulFailReason'], '8104', 'callee', 'unanswered', 'powered off'),
    (['stateCode', 'ulFailReason'], '8105', 'callee', 'unanswered', 'suspended'),
    (['stateCode', 'ulFailReason'], '7100', 'tenant', 'failed', 'tenant restriction'),
    (['stateCode', 'ulFailReason'], '7101', 'tenant', 'failed', 'tenant restriction'),
    (['stateCode', 'ulFailReason'], '7105', 'tenant', 'failed', 'tenant restriction'),
    (['stateCode', 'ulFailReason'], '7106', 'tenant', 'failed', 'tenant restriction'),
    (['stateCode', 'ulFailReason'], '7108', 'tenant', 'failed', 'tenant frozen'),
    (['stateCode', 'ulFailReason'], '7507', 'tenant', 'failed', 'no audio file'),
    (['stateCode', 'ulFailReason'], '8006', 'tenant', 'failed', 'tenant restriction'),
    (['stateCode', 'ulFailReason'], '8010', 'tenant', 'failed', 'maximum call duration reached'),
    (['stateCode', 'ulFailReason'], '7001', 'controls', 'failed', 'frequency or blacklist control'),
    (['stateCode', 'ulFailReason'], '7002', 'controls', 'failed', 'frequency or blacklist control'),
    (['stateCode', 'ulFailReason'], '7003', 'controls', 'failed', 'frequency or blacklist control'),
    (['stateCode', 'ulFailReason'], '7004', 'controls', 'failed', 'frequency or blacklist control'),
    (['stateCode', 'ulFailReason'], '7005', 'controls', 'failed', 'frequency or blacklist control'),
    (['stateCode', 'ulFailReason'], '7107', 'controls', 'failed', 'port control'),
    (['stateCode', 'ulFailReason'], '7109', 'controls', 'failed', 'port control'),
    (['stateCode', 'ulFailReason'], '7500', 'controls', 'failed', 'call control'),
    (['stateCode', 'ulFailReason'], '8018', 'controls', 'failed', 'call control'),
    (['stateCode', 'ulFailReason'], '8023', 'controls', 'failed', 'landline not allowed as caller'),
    (['stateCode', 'ulFailReason'], '8024', 'controls', 'failed', 'real caller display not allowed'),
    (['stateCode', 'ulFailReason'], '8042', 'controls', 'failed', 'international call not allowed'),
    (['stateCode', 'ulFailReason'], '8043', 'controls', 'failed', 'international call not allowed'),
    (['stateCode', 'ulFailReason'], '8044', 'controls', 'failed', 'call control'),
    (['stateCode', 'ulFailReason'], '8046', 'controls', 'failed', 'call control'),
    (['stateCode', 'ulFailReason'], '8047', 'controls', 'failed', 'frequency control'),
    (['stateCode', 'ulFailReason'], '8048', 'controls', 'failed', 'frequency control'),
    (['stateCode', 'ulFailReason'], '8049', 'controls', 'failed', 'frequency control'),
    (['stateCode', 'ulFailReason'], '8050', 'controls', 'failed', 'outside the allowed time window'),
    (['stateCode', 'ulFailReason'], '8051', 'controls', 'failed', 'call control'),
    (['stateCode', 'ulFailReason'], '8055', 'controls', 'failed', 'X unusable'),
    (['stateCode', 'ulFailReason'], '8056', 'controls', 'failed', 'call control'),
    (['stateCode', 'ulFailReason'], '8057', 'controls', 'failed', 'call control'),
    (['stateCode', 'ulFailReason'], '522', 'platform', 'failed', 'no free ports'),
    (['stateCode', 'ulFailReason'], '8007', 'platform', 'failed', 'prompt playback or digit collection failed'),
    (['stateCode', 'ulFailReason'], '8008', 'platform', 'failed', 'prompt playback or digit collection failed'),
    (['stateCode', 'ulFailReason'], '8015', 'platform', 'failed', 'recording failed'),
    (['stateCode', 'ulFailReason'], '8041', 'platform', 'failed', 'recording failed'),
    (['stateCode', 'ulFailReason'], '7102', 'platform', 'failed', 'other platform error'),
    (['stateCode', 'ulFailReason'], '8011', 'platform', 'failed', 'other platform error'),
    (['stateCode', 'ulFailReason'], '8020', 'platform', 'failed', 'other platform error'),
    (['stateCode', 'ulFailReason'], '8040', 'platform', 'failed', 'other platform error'),
    (['stateCode', 'ulFailReason'], '8139', 'platform', 'failed', 'other platform error'),
    (['stateCode', 'ulFailReason'], '7505', 'network', 'failed', 'network error'),
    (['stateCode', 'ulFailReason'], '7506', 'network', 'failed', 'network error'),
    (['stateCode', 'ulFailReason'], '7508', 'network', 'failed', 'network error'),
    (['ulFailReason'], '8002', 'platform', 'failed', 'teardown point without a documented description'),
    (['ulFailReason'], '8003', 'platform', 'failed', 'teardown point without a documented description'),
    (['ulFailReason'], '8004', 'platform', 'failed', 'teardown point without a documented description'),
    (['ulFailReason'], '8005', 'platform', 'failed', 'teardown point without a documented description'),
    (['ulFailReason'], '8009', 'platform', 'failed', 'teardown point without a documented description'),
    (['ulFailReason'], '8012', 'platform', 'failed', 'teardown point without a documented description'),
    (['ulFailReason'], '8058', 'controls', 'failed', 'practitioner not real-name verified'),
    (['ulFailReason'], '8059', 'controls', 'failed', 'operator intercepted'),
    (['q850'], '0', 'none', 'failed', 'not applicable'),
    (['q850'], '1', 'number', 'failed', 'unallocated number'),
    (['q850'], '2', 'network', 'failed', 'no route to network'),
    (['q850'], '3', 'network', 'failed', 'no route to destination'),
    (['q850'], '16', 'normal', 'unanswered', 'normal clearing'),
    (['q850'], '17', 'callee', 'unanswered', 'user busy'),
    (['q850'], '18', 'callee', 'unanswered', 'no user responding'),
    (['q850'], '19', 'callee', 'unanswered', 'no answer'),
    (['q850'], '21', 'callee', 'unanswered', 'call rejected'),
    (['q850'], '22', 'number', 'failed', 'number changed'),
    (['q850'], '27', 'network', 'failed', 'destination out of order'),
    (['q850'], '28', 'number', 'failed', 'invalid number format'),
    (['q850'], '31', 'normal', 'unanswered', 'normal, unspecified'),
    (['q850'], '34', 'network', 'failed', 'no circuit available'),
    (['q850'], '38', 'network', 'failed', 'network out of order'),
    (['q850'], '41', 'network', 'failed', 'temporary failure'),
    (['q850'], '42', 'network', 'failed', 'switching equipment congestion'),
    (['q850'], '47', 'network', 'failed', 'resource unavailable'),
    (['q850'], '102', 'network', 'failed', 'recovery on timer expiry'),
    (['q850'], '111', 'network', 'failed', 'protocol error'),
    (['q850'], '127', 'network', 'failed', 'interworking, unspecified')
    ] AS t
)
ARRAY JOIN kinds AS kind;

-- call_outcomes: one row per CDR with its outcome, the base of the views
-- below. answered: the forward leg was answered (fwdAnswerTime present).
-- Otherwise the ulFailReason class decides between unanswered and failed;
-- a code missing from the dictionary counts as failed, so that a new code
-- is visible rather than hidden among the unanswered. duration_seconds is
-- callEndTime - fwdAnswerTime (the platform's own formula), 0 when the call
-- was not answered.
CREATE VIEW IF NOT EXISTS {{database}}.call_outcomes AS
SELECT
    icid,
    session_id,
    bind_num,
    subscription_id,
    call_in_time,
    toStartOfHour(call_in_time) AS hour,
    ul_fail_reason,
    fwd_unasw_rsn,
    record_flag,
    multiIf(fwd_answer_time IS NOT NULL, 'answered', reason_outcome = 'unanswered', 'unanswered', 'failed') AS outcome,
    if(fwd_answer_time IS NOT NULL AND call_end_time IS NOT NULL,
       greatest(toInt64(assumeNotNull(call_end_time)) - toInt64(assumeNotNull(fwd_answer_time)), toInt64(0)),
       toInt64(0)) AS duration_seconds
FROM {{database}}.fee_records FINAL
ANY LEFT JOIN
(
    SELECT code AS ul_fail_reason, outcome AS reason_outcome
    FROM {{database}}.failure_reasons
    WHERE kind = 'ulFailReason'
) USING ul_fail_reason;

-- calls_per_hour: calls per hour of callInTime (UTC) and outcome.
CREATE VIEW IF NOT EXISTS {{database}}.calls_per_hour AS
SELECT hour, outcome, count() AS calls
FROM {{database}}.call_outcomes
GROUP BY hour, outcome;

-- call_kpis_hourly: per hour, the seizures (every CDR), answered calls, the
-- answer-seizure ratio and the average duration of the answered calls (0
-- when none was answered).
CREATE VIEW IF NOT EXISTS {{database}}.call_kpis_hourly AS
SELECT
    hour,
    count() AS seizures,
    countIf(outcome = 'answered') AS answered,
    answered / seizures AS asr,
    if(answered = 0, 0, sumIf(duration_seconds, outcome = 'answered') / answered) AS avg_duration_seconds
FROM {{database}}.call_outcomes
GROUP BY hour;

-- call_duration_histogram: answered calls by duration bucket; a bucket
-- holds durations from bucket_seconds up to the next bucket's lower bound.
CREATE VIEW IF NOT EXISTS {{database}}.call_duration_histogram AS
SELECT bucket_seconds, count() AS calls
FROM
(
    SELECT multiIf(
        duration_seconds < 10, 0,
        duration_seconds < 30, 10,
        duration_seconds < 60, 30,
        duration_seconds < 120, 60,
        duration_seconds < 300, 120,
        duration_seconds < 600, 300,
        duration_seconds < 1800, 600,
        1800) AS bucket_seconds
    FROM {{database}}.call_outcomes
    WHERE outcome = 'answered'
)
GROUP BY bucket_seconds;

-- top_failure_reasons: calls that were not answered, by ulFailReason
-- (kind 'ulFailReason'), and every CDR with a Q.850 cause of the forward
-- failure (kind 'q850', from fwdUnaswRsn), with the dictionary's
-- description; an undocumented code has the description 'undocumented'.
CREATE VIEW IF NOT EXISTS {{database}}.top_failure_reasons AS
SELECT kind, code, calls, if(description = '', 'undocumented', description) AS description, category
FROM
(
    SELECT 'ulFailReason' AS kind, ul_fail_reason AS code, count() AS calls
    FROM {{database}}.call_outcomes
    WHERE outcome != 'answered'
    GROUP BY code
    UNION ALL
    SELECT 'q850' AS kind, fwd_unasw_rsn AS code, count() AS calls
    FROM {{database}}.call_outcomes
    WHERE fwd_unasw_rsn != 0
    GROUP BY code
)
ANY LEFT JOIN
(
    SELECT kind, code, description, category FROM {{database}}.failure_reasons
) USING kind, code
ORDER BY calls DESC, kind, code;

-- usage_by_number: calls per privacy number X (bindNum).
CREATE VIEW IF NOT EXISTS {{database}}.usage_by_number AS
SELECT
    bind_num,
    count() AS calls,
    countIf(outcome = 'answered') AS answered,
    sum(duration_seconds) AS total_duration_seconds,
    min(call_in_time) AS first_call,
    max(call_in_time) AS last_call
FROM {{database}}.call_outcomes
GROUP BY bind_num;

-- usage_by_binding: calls per binding (subscriptionId) and X; calls
-- without a binding have an empty subscription_id.
CREATE VIEW IF NOT EXISTS {{database}}.usage_by_binding AS
SELECT
    subscription_id,
    bind_num,
    count() AS calls,
    countIf(outcome = 'answered') AS answered,
    sum(duration_seconds) AS total_duration_seconds,
    min(call_in_time) AS first_call,
    max(call_in_time) AS last_call
FROM {{database}}.call_outcomes
GROUP BY subscription_id, bind_num;

-- recording_status: one row per recorded call (recordFlag 1) with the
-- archive's latest outcome: archived, failed, or pending (no row yet).
CREATE VIEW IF NOT EXISTS {{database}}.recording_status AS
SELECT icid, session_id, call_in_time, if(status = '', 'pending', status) AS status
FROM
(
    SELECT icid, session_id, call_in_time
    FROM {{database}}.fee_records FINAL
    WHERE record_flag = 1
)
GLOBAL ANY LEFT JOIN
(
    SELECT icid, status FROM {{database}}.recordings FINAL
) USING icid;

-- recording_coverage: per day of callInTime (UTC), recorded calls and how
-- many of them are archived, failed or pending.
CREATE VIEW IF NOT EXISTS {{database}}.recording_coverage AS
SELECT
    toDate(call_in_time) AS day,
    count() AS recorded,
    countIf(status = 'archived') AS archived,
    countIf(status = 'failed') AS failed,
    countIf(status = 'pending') AS pending
FROM {{database}}.recording_status
GROUP BY day;

-- gaps: data that should be there and is not, with its age so that each
-- reader applies its own threshold (the recorder's gap detector, pnctl
-- gaps): a view cannot take parameters on 18.16.
--   missing_cdr: a session with a disconnect event and no CDR; observed_at
--     is the disconnect. The platform re-pushes a CDR for hours, so a young
--     one is not yet a gap.
--   unarchived_recording: a recorded call whose audio is not archived
--     (pending or failed); observed_at is callInTime, from which the
--     platform keeps the file 7 days.
CREATE VIEW IF NOT EXISTS {{database}}.gaps AS
SELECT kind, session_id, icid, observed_at, toInt64(now()) - toInt64(observed_at) AS age_seconds
FROM
(
    SELECT 'missing_cdr' AS kind, session_id, '' AS icid, max(event_time) AS observed_at
    FROM {{database}}.call_events FINAL
    WHERE event_type = 'disconnect'
        AND session_id GLOBAL NOT IN (SELECT session_id FROM {{database}}.fee_records)
    GROUP BY session_id
    UNION ALL
    SELECT 'unarchived_recording' AS kind, session_id, icid, call_in_time AS observed_at
    FROM {{database}}.recording_status
    WHERE status != 'archived'
);
