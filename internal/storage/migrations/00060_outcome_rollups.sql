-- +goose Up
-- Outcome measures (issue 13, ADR 65): roll-ups per service across
-- agencies and per level of government, payments per service, and cost
-- per transaction rolled up per month, so every report (/performance, its
-- JSON, the console's dashboards) reads one row per day and one per
-- month, whatever the number of agencies and services.

-- outcome_monthly keeps, beside each row's completed transactions, the
-- cost of the (agency, service) under it that have a cost model for the
-- month (cost_cents), how many they are (costs) and their transactions
-- (costed_transactions): a roll-up's cost per transaction is
-- cost_cents / costed_transactions, read by primary key.
ALTER TABLE outcome_monthly ADD COLUMN cost_cents BIGINT NOT NULL DEFAULT 0;
ALTER TABLE outcome_monthly ADD COLUMN costs INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outcome_monthly ADD COLUMN costed_transactions BIGINT NOT NULL DEFAULT 0;

-- The measures are rebuilt from the event log in the new shape (new
-- roll-up rows, payments split by service): the aggregates are emptied
-- and the "outcomes" consumer replays the log from its start (ADR 19:
-- the log is kept; the consumer's receipts go with the counts they
-- guarded). Staff's records and cost entries stay: their events are in
-- the log.
DELETE FROM outcome_daily;
DELETE FROM outcome_totals;
DELETE FROM outcome_decision_times;
DELETE FROM outcome_open_cases;
DELETE FROM outcome_costs;
DELETE FROM outcome_monthly;
DELETE FROM event_receipts WHERE consumer = 'outcomes';
UPDATE event_consumers SET position = 0, attempts = 0, last_error = '', retry_at = 0 WHERE name = 'outcomes';
