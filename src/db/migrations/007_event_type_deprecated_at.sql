-- When an event type was deprecated: publishing one answers with `Deprecation: @<unix seconds>` (RFC 9745), which
-- needs the moment. Set while `deprecated` is true, and only then.
alter table event_types add column deprecated_at timestamptz;
update event_types set deprecated_at = updated_at where deprecated;
alter table event_types add constraint event_types_deprecated_at check (deprecated = (deprecated_at is not null));
