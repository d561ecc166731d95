-- +goose Up
-- An obligation may carry an amount owed (a tax instalment, a fee a case
-- asked for): integer minor units and an ISO 4217 currency, both NULL when
-- nothing is owed. reference is what to quote when paying at the counter
-- (a case reference, a parcel number); empty when there is none.
ALTER TABLE obligations ADD COLUMN amount_minor BIGINT CHECK (amount_minor >= 0);
ALTER TABLE obligations ADD COLUMN amount_currency TEXT;
ALTER TABLE obligations ADD COLUMN reference TEXT NOT NULL DEFAULT '';
