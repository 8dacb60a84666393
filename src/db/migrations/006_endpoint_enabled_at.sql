-- When a disabled endpoint was last enabled again: with disabled_at, it names each change of an endpoint's activation,
-- so the v1.endpoint.enabled / disabled notices are sent once per change however often a caller retries, and a
-- health workflow can tell a report made after a re-enable it missed from one made before its own deactivation.
alter table endpoints add column enabled_at timestamptz;
