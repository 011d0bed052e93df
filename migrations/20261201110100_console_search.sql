-- The console's look-ups: a salesperson's customers (whose sales they made), and customers by the start of their
-- first or last name (text_pattern_ops serves `like 'lee%'` under any collation).
create index sales_salesperson_idx on sales (salesperson_id, customer_id) where salesperson_id is not null;
create index customers_first_name_idx on customers (lower(first_name) text_pattern_ops) where first_name is not null;
create index customers_last_name_idx on customers (lower(last_name) text_pattern_ops) where last_name is not null;
