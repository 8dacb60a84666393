-- Recoveries: "replay every failed delivery of this endpoint since …", run by the workflow recover-<id>.
-- The window is closed when the recovery is created (until <= created_at, and only deliveries completed
-- by then), so the set it replays, and its total, never change while it runs.
create table recoveries (
  id              text primary key,
  tenant_id       text not null references tenants (id) on delete cascade,
  endpoint_id     text not null references endpoints (id) on delete cascade,
  since           timestamptz not null,
  until           timestamptz not null,
  delivery_status text not null check (delivery_status in ('failed', 'delivered')),
  status          text not null default 'running' check (status in ('running', 'completed')),
  total           integer not null,
  replayed        integer not null default 0,
  batch_size      integer not null,
  created_at      timestamptz not null default now(),
  finished_at     timestamptz
);
create index recoveries_endpoint on recoveries (endpoint_id, id desc);

-- A replay made by a recovery names it; one recovery replays a delivery at most once.
alter table deliveries add column recovery_id text references recoveries (id) on delete set null;
create unique index deliveries_recovery_replay on deliveries (recovery_id, replay_of) where recovery_id is not null;
create index deliveries_replay_of on deliveries (replay_of) where replay_of is not null;
