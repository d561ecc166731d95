-- +goose Up
-- The audit log becomes several hash chains (ADR 4, "partition the chain").
-- Each chain has its own head row, so on PostgreSQL audited transactions
-- that took different chains commit in parallel instead of queueing on one
-- row lock. Chain 1 is the existing chain and keeps its numbering; chain c
-- numbers its entries from (c - 1) * 2^48 + 1, so every seq stays unique
-- and says which chain it belongs to. The CHECK (id = 1) of the old head
-- table is gone, hence the rebuild.
CREATE TABLE audit_head_new (
    id    INTEGER PRIMARY KEY CHECK (id BETWEEN 1 AND 8),
    seq   BIGINT NOT NULL,
    hash  TEXT NOT NULL
);
INSERT INTO audit_head_new (id, seq, hash) SELECT id, seq, hash FROM audit_head;
INSERT INTO audit_head_new (id, seq, hash) VALUES
    (2, 281474976710656, ''), (3, 562949953421312, ''), (4, 844424930131968, ''),
    (5, 1125899906842624, ''), (6, 1407374883553280, ''), (7, 1688849860263936, ''),
    (8, 1970324836974592, '');
DROP TABLE audit_head;
ALTER TABLE audit_head_new RENAME TO audit_head;
