-- Set when an attempt to the endpoint fails and cleared by its health workflow once a success resets
-- the failure count: while it is false, successful attempts need not be reported to the workflow.
alter table endpoints
  add column health_attention boolean not null default false,
  add column health_attention_at timestamptz;
