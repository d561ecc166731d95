-- +goose Up
-- Provider webhook events already processed (internal/payment/stripeprovider,
-- issue 12). A provider may deliver one event several times (its
-- acknowledgement lost), and anyone who captured a signed delivery can send
-- it again while its signature is fresh: the event's id is recorded in the
-- transaction that acts on it, and an id already here is never acted on
-- again. outcome says what was done: settled (a checkout moved, or was
-- already there), ignored (a type Portico does not act on, or a charge that
-- is not one of Portico's checkouts).
CREATE TABLE provider_webhook_events (
    provider     TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    event_type   TEXT NOT NULL,
    provider_ref TEXT NOT NULL DEFAULT '',
    outcome      TEXT NOT NULL CHECK (outcome IN ('settled', 'ignored')),
    received_at  {{.Time}} NOT NULL,
    PRIMARY KEY (provider, event_id)
);

