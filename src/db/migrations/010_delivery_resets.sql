-- Resets of a delivery's workflow (`temporal workflow reset`, the Web UI's Reset button, the SDK) re-send it under
-- the same delivery id. run_id: the workflow run that owns the delivery, set by its first claim; a claim by another
-- run of the same workflow after a reset reopens the row. reset_reason / reset_at: the latest reset (its reason as
-- Temporal recorded it), resets: how many there were.
alter table deliveries add column run_id text;
alter table deliveries add column reset_reason text;
alter table deliveries add column reset_at timestamptz;
alter table deliveries add column resets integer not null default 0;
-- Attempts recorded before the latest reset: numbering goes on after them, the retry schedule starts again.
alter table deliveries add column series_start integer not null default 0;
