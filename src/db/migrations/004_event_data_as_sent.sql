-- jsonb reorders object keys (shorter keys first), so a `bare` envelope did not reproduce the
-- publisher's payload byte for byte (seed 004's {type, status, data} arrived as {data, type, status}).
-- json keeps the text as stored; Herald never queries inside event data.
alter table events alter column data type json using data::json;
