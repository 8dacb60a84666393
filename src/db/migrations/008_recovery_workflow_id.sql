-- The workflow that runs a recovery: recover-<id> when the API started it; the operator's own workflow id when
-- recoverWorkflow was started with the `temporal` CLI (it creates its row itself, so the id is not derived from it).
alter table recoveries add column workflow_id text;
update recoveries set workflow_id = 'recover-' || id;
alter table recoveries alter column workflow_id set not null;
