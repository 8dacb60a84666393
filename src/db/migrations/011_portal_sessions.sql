-- Portal sessions (issue 15): a one-time link (its token's hash, valid until link_expires_at) that the browser swaps
-- once for a session cookie (its token's hash, valid until session_expires_at) scoped to one tenant.
create table portal_sessions (
  id                 text primary key,
  tenant_id          text not null references tenants (id) on delete cascade,
  link_hash          text not null unique,
  link_expires_at    timestamptz not null,
  link_used_at       timestamptz,
  session_hash       text unique,
  session_expires_at timestamptz,
  csrf_token         text,
  read_only          boolean not null default false,
  created_by         text not null,
  created_at         timestamptz not null default now(),
  ended_at           timestamptz
);
create index portal_sessions_tenant on portal_sessions (tenant_id, created_at desc);
