-- +goose Up
-- How a person reaches an agency: its office address, phone, email,
-- website and opening hours (English and Spanish). Shown on the agency's
-- page and wherever a person must go to the counter (to pay a fee until
-- online payment exists, to bring a document). Empty means not given.
ALTER TABLE agencies ADD COLUMN address TEXT NOT NULL DEFAULT '';
ALTER TABLE agencies ADD COLUMN phone TEXT NOT NULL DEFAULT '';
ALTER TABLE agencies ADD COLUMN email TEXT NOT NULL DEFAULT '';
ALTER TABLE agencies ADD COLUMN website TEXT NOT NULL DEFAULT '';
ALTER TABLE agencies ADD COLUMN hours TEXT NOT NULL DEFAULT '';
ALTER TABLE agencies ADD COLUMN hours_es TEXT NOT NULL DEFAULT '';
