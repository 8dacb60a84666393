-- The sweeper's look at deliveries whose workflow may have ended without finishing them (terminated): running rows
-- only, in id order, so a sweep reads a few of them and never scans the finished ones.
create index deliveries_running on deliveries (id) where status in ('pending', 'delivering', 'retrying');
