-- access_log: one row per access to call data through the compliance
-- console (cmd/console): every search, view, play, download, export, hold,
-- erasure and refusal, written before the data is served (package audit).
--
-- It is evidence, so it is append-only: a plain MergeTree (no Replacing
-- engine that could collapse two accesses), no TTL, and no code path in
-- pnstream deletes from it or drops its partitions; the retention job
-- leaves it alone. Monthly partitions let an operator archive old months
-- by hand, outside pnstream, under the organisation's own rules.
--
-- who is the user as the auth proxy or the local token named them; role the
-- console role they acted with (viewer, officer, auditor); action what they
-- did (search, view, play, download, export, hold, release, erase,
-- refused, login); target what it touched (an icid, a search's criteria,
-- an object key); remote the client address the request came from; detail
-- anything else worth keeping (a refusal's reason, an export's call count).
-- Subscriber numbers are written only as the search typed them under the
-- PII mode in force (hashed under hmac).
--
-- Runs on ClickHouse 18.16 and current releases.
CREATE TABLE IF NOT EXISTS {{database}}.access_log
(
    at     DateTime COMMENT 'UTC, when the access was recorded (before serving)',
    who    String COMMENT 'user name or e-mail from the auth proxy, or the local token user',
    role   String COMMENT 'viewer, officer or auditor',
    action String COMMENT 'search, view, play, download, export, hold, release, erase, refused, login',
    target String COMMENT 'what was accessed: an icid, an object key, search criteria',
    remote String COMMENT 'client address of the request',
    detail String COMMENT 'anything else: a refusal reason, counts'
)
ENGINE = MergeTree()
PARTITION BY toYYYYMM(at)
ORDER BY (at, who)
