-- Notification channels (issue 16): email and Slack destinations for Herald's operational notices (endpoint
-- disabled / re-enabled, delivery failed, recovery finished) and, optionally, the tenant's own event types.
create table channels (
  id                text primary key,
  tenant_id         text not null references tenants (id) on delete cascade,
  type              text not null check (type in ('email', 'slack')),
  description       text not null default '',
  -- email: the recipients; slack: the incoming-webhook URL, encrypted like endpoint secrets.
  email_to          text[],
  slack_webhook_url bytea,
  events            text[] not null,
  active            boolean not null default true,
  created_at        timestamptz not null default now(),
  updated_at        timestamptz not null default now(),
  check ((type = 'email' and email_to is not null) or (type = 'slack' and slack_webhook_url is not null))
);
create index channels_tenant on channels (tenant_id, id);

-- One message a channel sends: everything of one series (an endpoint and a kind) in one digest window, sent by the
-- workflow channel-<channel>-<series hash>-<window start>. attempts/last_error mirror the attempt log.
create table channel_messages (
  id           text primary key,
  tenant_id    text not null references tenants (id) on delete cascade,
  channel_id   text not null references channels (id) on delete cascade,
  kind         text not null,
  endpoint_id  text,
  series_key   text not null,
  window_start timestamptz not null,
  window_end   timestamptz not null,
  workflow_id  text not null,
  status       text not null default 'pending' check (status in ('pending', 'sending', 'sent', 'failed')),
  occurrences  integer not null default 0,
  attempts     integer not null default 0,
  subject      text,
  last_error   text,
  created_at   timestamptz not null default now(),
  sent_at      timestamptz,
  unique (channel_id, series_key, window_start)
);
create index channel_messages_channel on channel_messages (channel_id, id desc);

-- What happened, once per channel and occurrence (a notice's idempotency key, or an event id): inserted with the
-- event in the publish transaction, claimed by its window's message when the window closes.
create table channel_occurrences (
  channel_id   text not null references channels (id) on delete cascade,
  occurrence   text not null,
  tenant_id    text not null references tenants (id) on delete cascade,
  event_id     text not null references events (id) on delete cascade,
  kind         text not null,
  endpoint_id  text,
  series_key   text not null,
  window_start timestamptz not null,
  window_end   timestamptz not null,
  data         jsonb not null,
  message_id   text references channel_messages (id) on delete set null,
  created_at   timestamptz not null default now(),
  primary key (channel_id, occurrence)
);
create index channel_occurrences_series on channel_occurrences (channel_id, series_key, window_start) where message_id is null;
create index channel_occurrences_event on channel_occurrences (event_id);

-- Each try to send a message (SMTP or Slack), as the send activity made it.
create table channel_attempts (
  id          bigserial primary key,
  message_id  text not null references channel_messages (id) on delete cascade,
  channel_id  text not null references channels (id) on delete cascade,
  attempt     integer not null,
  started_at  timestamptz not null,
  duration_ms integer not null,
  success     boolean not null,
  status_code integer,
  error       text,
  response    text,
  unique (message_id, attempt)
);

insert into event_types (name, description, operational, schema) values
  ('v1.endpoint.recovery_finished', 'A recovery of an endpoint finished replaying its deliveries.', true,
    '{"type":"object","required":["endpoint_id","recovery_id"],"properties":{"endpoint_id":{"type":"string"},"recovery_id":{"type":"string"},"total":{"type":"integer"},"replayed":{"type":"integer"}}}')
on conflict (name) do nothing;
