-- +goose Up
-- The fee is worked out once, when the application is submitted
-- (applications.fee_amount, since 00011), and the case keeps that amount:
-- every request_payment of its workflow charges it, whatever a later
-- version of the service, or the applicant's age on a later day, would
-- give. NULL: the service has no fee. Cases opened before this migration
-- take the amount their application stored.
ALTER TABLE cases ADD COLUMN fee_amount BIGINT CHECK (fee_amount >= 0);
ALTER TABLE cases ADD COLUMN fee_currency TEXT;
UPDATE cases SET
    fee_amount = (SELECT a.fee_amount FROM applications a WHERE a.id = cases.id),
    fee_currency = (SELECT a.fee_currency FROM applications a WHERE a.id = cases.id);
