-- Payload templates (issue 16): {engine, source, content_type, strict_variables}, or null for the envelope.
alter table endpoints add column template jsonb;
