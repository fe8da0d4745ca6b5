-- number_status: one row per numInfo item of an X-number status push
-- (X号码状态通知, reference section 11.1): the state of a privacy number X.
--
-- The item has no time of its own, so its identity is its state:
-- ReplacingMergeTree(ingested_at) ORDER BY (number, status, cause) collapses
-- a re-push of a state into the state's row, a change adds a row, and a
-- change back to an earlier state refreshes that row's ingested_at. The
-- history is therefore one row per state a number has been in, each with
-- the last time it was pushed. stream_seq (the PN_NUMBERS sequence of the
-- item) orders the states of one number stored in the same second.
--
-- X numbers are the company's own numbers, not subscribers': stored as
-- sent under every PN_PII_MODE. status and cause are the codes as sent
-- (a JSON number as its text); anomalies lists the fields not as
-- documented, as 'field:kind'.
--
-- Runs on ClickHouse 18.16 and current releases.
CREATE TABLE IF NOT EXISTS {{database}}.number_status
(
    number      String COMMENT 'the X number, E.164',
    status      String COMMENT 'status code as sent (5, 9, 10, 11; meanings UNCONFIRMED)',
    cause       String COMMENT 'cause code as sent, empty when usable: 1 deleted, 2 arrears, 3 suspended, 5 calls restricted, 6 restriction lifted, 7/8/9 forwarding enabled',
    raw         String COMMENT 'the numInfo item exactly as received',
    anomalies   Array(String) COMMENT 'fields stored as sent but not as documented, field:kind',
    stream_seq  UInt64 COMMENT 'PN_NUMBERS sequence: the order of states stored in one second',
    ingested_at DateTime DEFAULT now() COMMENT 'UTC; the ReplacingMergeTree version'
)
ENGINE = ReplacingMergeTree(ingested_at)
ORDER BY (number, status, cause);

-- number_status_current: one row per X number, its latest state, for
-- readers (pnctl report, the recorder's pn_number_unusable gauge).
-- ingested_at is when that state was last pushed: the platform pushes on a
-- change only (and re-pushes what it could not deliver, for 5 hours at
-- most), so it is when the number entered the state, to within those
-- re-pushes. usable is 1 when the cause is empty or 6 (restriction
-- lifted): the platform sends a cause only while a number is not usable
-- and lists 6 among them; reading 6 as usable is UNCONFIRMED, and so are
-- the status codes' meanings, which take no part.
CREATE VIEW IF NOT EXISTS {{database}}.number_status_current AS
SELECT
    number,
    argMax(s, version) AS status,
    argMax(c, version) AS cause,
    toUInt8(argMax(c, version) IN ('', '6')) AS usable,
    argMax(r, version) AS raw,
    argMax(a, version) AS anomalies,
    max(t) AS ingested_at
FROM
(
    -- Renamed, so that no alias of the outer SELECT shadows a column.
    SELECT number, status AS s, cause AS c, raw AS r, anomalies AS a, ingested_at AS t, (ingested_at, stream_seq) AS version
    FROM {{database}}.number_status
)
GROUP BY number;
