-- +goose Up
-- GOV.UK Pay's card_details of a payment (issue 12, internal/payment):
-- besides the brand and last four digits already kept, the first six
-- digits (the card's issuer, never enough to rebuild the number), the
-- cardholder's name as typed on the provider's page, the expiry date
-- ("MM/YY") and the card type (debit, credit; '' when unknown), as the
-- provider reports them. checkouts keep what the provider reported;
-- sandbox_charges are the sandbox provider's own record of the same.
ALTER TABLE checkouts ADD COLUMN first_digits TEXT NOT NULL DEFAULT '';
ALTER TABLE checkouts ADD COLUMN cardholder_name TEXT NOT NULL DEFAULT '';
ALTER TABLE checkouts ADD COLUMN card_expiry TEXT NOT NULL DEFAULT '';
ALTER TABLE checkouts ADD COLUMN card_type TEXT NOT NULL DEFAULT '';
ALTER TABLE sandbox_charges ADD COLUMN first_digits TEXT NOT NULL DEFAULT '';
ALTER TABLE sandbox_charges ADD COLUMN cardholder_name TEXT NOT NULL DEFAULT '';
ALTER TABLE sandbox_charges ADD COLUMN card_expiry TEXT NOT NULL DEFAULT '';
ALTER TABLE sandbox_charges ADD COLUMN card_type TEXT NOT NULL DEFAULT '';

-- Delayed-capture payments still waiting to be captured, by when they
-- were created: the sweep expires those older than 120 hours.
CREATE INDEX payments_capturable ON payments (created_at) WHERE status = 'capturable';
