-- +goose Up
-- The outcome block (internal/outcome, issue 13): service measures
-- pre-aggregated from the event log by the consumer "outcomes", so a
-- dashboard or the public /performance page reads a few rows per day and
-- service, never the cases, applications or payments themselves.

-- Raw counters per calendar day (in the jurisdiction's zone), agency and
-- service. Every KPI is a ratio of these sums over a period; weeks and
-- months are sums of days. service_id is '' for what belongs to an
-- agency but no one service (payments, obligations). Each count is also
-- added to the agency's roll-up row (agency_id, '*') and the
-- jurisdiction's ('*', '*'), so a report of an agency or of everything
-- reads one row per day, whatever the number of services.
CREATE TABLE outcome_daily (
    day                     TEXT NOT NULL, -- YYYY-MM-DD
    agency_id               TEXT NOT NULL,
    service_id              TEXT NOT NULL,
    started                 BIGINT NOT NULL DEFAULT 0, -- drafts started
    ineligible              BIGINT NOT NULL DEFAULT 0, -- told "not eligible" (completed)
    submitted               BIGINT NOT NULL DEFAULT 0, -- submitted (completed)
    withdrawn               BIGINT NOT NULL DEFAULT 0, -- drop-out
    expired                 BIGINT NOT NULL DEFAULT 0, -- drop-out
    offline_paper           BIGINT NOT NULL DEFAULT 0,
    offline_phone           BIGINT NOT NULL DEFAULT 0,
    offline_counter         BIGINT NOT NULL DEFAULT 0,
    decided                 BIGINT NOT NULL DEFAULT 0, -- cases closed
    decided_in_sla          BIGINT NOT NULL DEFAULT 0, -- closed without ever going overdue
    decided_with_sla        BIGINT NOT NULL DEFAULT 0, -- closed cases whose workflow had an SLA
    info_requests           BIGINT NOT NULL DEFAULT 0,
    payments_succeeded      BIGINT NOT NULL DEFAULT 0,
    payments_failed         BIGINT NOT NULL DEFAULT 0,
    paid_minor              BIGINT NOT NULL DEFAULT 0,
    sat1                    BIGINT NOT NULL DEFAULT 0, -- very dissatisfied
    sat2                    BIGINT NOT NULL DEFAULT 0,
    sat3                    BIGINT NOT NULL DEFAULT 0,
    sat4                    BIGINT NOT NULL DEFAULT 0,
    sat5                    BIGINT NOT NULL DEFAULT 0, -- very satisfied
    obligations_due         BIGINT NOT NULL DEFAULT 0, -- by due day; cancelled ones taken off
    obligations_on_time     BIGINT NOT NULL DEFAULT 0,
    obligations_due_reminded BIGINT NOT NULL DEFAULT 0,
    obligations_on_time_reminded BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (agency_id, service_id, day)
);
-- A service's days across agencies (a service shared by counties).
CREATE INDEX outcome_daily_service ON outcome_daily (service_id, day);

-- The same counters since the beginning, per agency and service: what
-- /metrics exports as Prometheus counters without summing every day.
CREATE TABLE outcome_totals (
    agency_id  TEXT NOT NULL,
    service_id TEXT NOT NULL,
    started                 BIGINT NOT NULL DEFAULT 0, -- drafts started
    ineligible              BIGINT NOT NULL DEFAULT 0, -- told "not eligible" (completed)
    submitted               BIGINT NOT NULL DEFAULT 0, -- submitted (completed)
    withdrawn               BIGINT NOT NULL DEFAULT 0, -- drop-out
    expired                 BIGINT NOT NULL DEFAULT 0, -- drop-out
    offline_paper           BIGINT NOT NULL DEFAULT 0,
    offline_phone           BIGINT NOT NULL DEFAULT 0,
    offline_counter         BIGINT NOT NULL DEFAULT 0,
    decided                 BIGINT NOT NULL DEFAULT 0, -- cases closed
    decided_in_sla          BIGINT NOT NULL DEFAULT 0, -- closed without ever going overdue
    decided_with_sla        BIGINT NOT NULL DEFAULT 0, -- closed cases whose workflow had an SLA
    info_requests           BIGINT NOT NULL DEFAULT 0,
    payments_succeeded      BIGINT NOT NULL DEFAULT 0,
    payments_failed         BIGINT NOT NULL DEFAULT 0,
    paid_minor              BIGINT NOT NULL DEFAULT 0,
    sat1                    BIGINT NOT NULL DEFAULT 0, -- very dissatisfied
    sat2                    BIGINT NOT NULL DEFAULT 0,
    sat3                    BIGINT NOT NULL DEFAULT 0,
    sat4                    BIGINT NOT NULL DEFAULT 0,
    sat5                    BIGINT NOT NULL DEFAULT 0, -- very satisfied
    obligations_due         BIGINT NOT NULL DEFAULT 0, -- by due day; cancelled ones taken off
    obligations_on_time     BIGINT NOT NULL DEFAULT 0,
    obligations_due_reminded BIGINT NOT NULL DEFAULT 0,
    obligations_on_time_reminded BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (agency_id, service_id)
);

-- Time to decision as a histogram per day of decision: how many cases
-- were decided within each bucket (a bucket is its lower bound in
-- hours: whole hours below two days, whole days above). Percentiles are
-- read from the histogram, never from the cases.
CREATE TABLE outcome_decision_times (
    day        TEXT NOT NULL,
    agency_id  TEXT NOT NULL,
    service_id TEXT NOT NULL,
    hours      INTEGER NOT NULL,
    decisions  BIGINT NOT NULL,
    PRIMARY KEY (agency_id, service_id, day, hours)
);
CREATE INDEX outcome_decision_times_service ON outcome_decision_times (service_id, day);

-- What the consumer remembers of an open case until it closes: whether
-- it ever went overdue (the SLA clock resets on each transition).
CREATE TABLE outcome_open_cases (
    case_id  TEXT PRIMARY KEY,
    sla      BOOLEAN NOT NULL DEFAULT FALSE, -- some state it passed had an SLA
    overdue  BOOLEAN NOT NULL DEFAULT FALSE
);

-- Staff's records of transactions done on paper, by phone or at the
-- counter (append-only; each emits an event the consumer counts), so
-- digital take-up has a real denominator.
CREATE TABLE outcome_assisted (
    id           TEXT PRIMARY KEY,
    agency_id    TEXT NOT NULL,
    service_id   TEXT NOT NULL,
    channel      TEXT NOT NULL CHECK (channel IN ('paper', 'phone', 'counter')),
    day          TEXT NOT NULL,
    transactions BIGINT NOT NULL CHECK (transactions >= 1),
    recorded_by  TEXT NOT NULL,
    recorded_at  {{.Time}} NOT NULL
);
CREATE INDEX outcome_assisted_agency ON outcome_assisted (agency_id, recorded_at);

-- An agency's cost of providing a service (all channels) for a month,
-- in minor units. The latest entry for (agency, service, month) counts;
-- each entry is kept, and emits an event the consumer applies.
CREATE TABLE outcome_cost_entries (
    id          TEXT PRIMARY KEY,
    agency_id   TEXT NOT NULL,
    service_id  TEXT NOT NULL,
    month       TEXT NOT NULL, -- YYYY-MM
    amount      BIGINT NOT NULL CHECK (amount >= 0),
    currency    TEXT NOT NULL,
    entered_by  TEXT NOT NULL,
    entered_at  {{.Time}} NOT NULL
);
CREATE INDEX outcome_cost_entries_agency ON outcome_cost_entries (agency_id, entered_at);

-- The cost model the measures use: the consumer's copy of the latest
-- entry per (agency, service, month).
CREATE TABLE outcome_costs (
    agency_id   TEXT NOT NULL,
    service_id  TEXT NOT NULL,
    month       TEXT NOT NULL,
    amount      BIGINT NOT NULL,
    currency    TEXT NOT NULL,
    PRIMARY KEY (agency_id, service_id, month)
);
CREATE INDEX outcome_costs_service ON outcome_costs (service_id, month);

-- Completed transactions (every channel) per agency, service and month:
-- the denominators of cost per transaction, read beside outcome_costs by
-- primary key rather than summed from every service's days.
CREATE TABLE outcome_monthly (
    agency_id    TEXT NOT NULL,
    service_id   TEXT NOT NULL,
    month        TEXT NOT NULL, -- YYYY-MM
    transactions BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (agency_id, service_id, month)
);
