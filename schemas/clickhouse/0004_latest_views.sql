-- Views that show one row per identity, for readers and dashboards that
-- must not see the duplicates ReplacingMergeTree keeps until parts merge.
--
-- They read with FINAL, which merges at query time. ClickHouse 18.16 does
-- not push a WHERE on the view into it (enable_optimize_predicate_expression
-- is off there), so on large tables a selective reader does better to query
-- the table itself with FINAL and its own WHERE.
CREATE VIEW IF NOT EXISTS {{database}}.fee_records_latest AS
SELECT * FROM {{database}}.fee_records FINAL;

CREATE VIEW IF NOT EXISTS {{database}}.call_events_latest AS
SELECT * FROM {{database}}.call_events FINAL;

CREATE VIEW IF NOT EXISTS {{database}}.recordings_latest AS
SELECT * FROM {{database}}.recordings FINAL;
