-- Idempotency keys live in one namespace per origin: a tenant's keys and Herald's own (its notices), so a
-- tenant can never occupy a key Herald will need. Herald's earlier notice keys ("herald:…" on its own
-- operational events) move to its namespace under their new names.
alter table idempotency_keys add column scope text not null default 'tenant' check (scope in ('tenant', 'herald'));
alter table idempotency_keys drop constraint idempotency_keys_pkey;
update idempotency_keys k set scope = 'herald', key = substr(k.key, length('herald:') + 1)
from events e
where e.id = k.event_id and k.key like 'herald:%' and e.event_type in ('v1.webhook.delivery_failed', 'v1.endpoint.disabled', 'v1.endpoint.enabled');
alter table idempotency_keys add primary key (tenant_id, scope, key);

-- Rate-limit windows shared by every API process (src/core/rate-windows.ts): hits per subject (a client address or a
-- key prefix that failed to authenticate, a tenant's test sends) in a window that starts at the subject's first hit.
create table rate_windows (
  subject      text primary key,
  window_start timestamptz not null,
  window_ms    integer not null,
  hits         integer not null
);
