-- +goose Up
-- Case work: what entering a workflow state leaves behind (fees due,
-- documents to issue, reminders to send) and the paused SLA clock.

-- While a case waits on the citizen (a request for more information) its
-- SLA clock is stopped: sla_due_at is cleared and the time that was left is
-- kept here, in seconds (negative when the case was already overdue). The
-- citizen's answer sets sla_due_at to now plus what was left.
ALTER TABLE cases ADD COLUMN sla_remaining_seconds BIGINT;

-- A fee the case asks for (request_payment). The payments issue will charge
-- it online; until then finance staff record a payment received at the
-- counter, which sets paid_at. payment.paid in workflow guards is true when
-- the case has at least one request and every request is paid.
CREATE TABLE case_payments (
    id            {{.Serial}},
    case_id       TEXT NOT NULL REFERENCES cases(id),
    state         TEXT NOT NULL,
    amount        BIGINT NOT NULL CHECK (amount >= 0),
    currency      TEXT NOT NULL,
    requested_at  {{.Time}} NOT NULL,
    due_at        {{.Time}},
    paid_at       {{.Time}},
    paid_amount   BIGINT,
    paid_by       TEXT,
    paid_ref      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX case_payments_case ON case_payments (case_id, id);

-- A document the case is to issue (issue_document). The row is the
-- decision; producing the document itself is a later issue, which reads
-- rows whose produced_at is null.
CREATE TABLE case_documents (
    id           {{.Serial}},
    case_id      TEXT NOT NULL REFERENCES cases(id),
    document     TEXT NOT NULL,
    issued_at    {{.Time}} NOT NULL,
    valid_until  {{.Time}},
    produced_at  {{.Time}}
);
CREATE INDEX case_documents_case ON case_documents (case_id, id);
CREATE INDEX case_documents_pending ON case_documents (issued_at) WHERE produced_at IS NULL;

-- A reminder to send the citizen at due_at (set_reminder). Sending is a
-- later issue, which reads unsent rows by due time.
CREATE TABLE case_reminders (
    id         {{.Serial}},
    case_id    TEXT NOT NULL REFERENCES cases(id),
    reminder   TEXT NOT NULL,
    set_at     {{.Time}} NOT NULL,
    due_at     {{.Time}} NOT NULL,
    sent_at    {{.Time}}
);
CREATE INDEX case_reminders_due ON case_reminders (due_at) WHERE sent_at IS NULL;
CREATE INDEX case_reminders_case ON case_reminders (case_id, id);
