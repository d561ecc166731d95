-- +goose Up
-- Indexes that make every query behind a signed-in page or a hot API an
-- index search bounded by the person's own rows (issue 9, defect 5; the
-- plan test cmd/portico/plans_test.go checks it at state scale).

-- The inbox (and the dashboard's latest messages) read one person's in-app
-- messages newest first: WHERE account_id = $1 AND channel = $2 ORDER BY
-- id DESC LIMIT n. The partial index of 00013 could not serve it on
-- SQLite, which uses a partial index only when the query's WHERE implies
-- the index's condition (account_id <> ''), and a bound parameter never
-- does: it scanned every notification in id order. This index answers the
-- equality and the order, so the read stops after n rows of the person's
-- own.
DROP INDEX notifications_inbox;
CREATE INDEX notifications_inbox ON notifications (account_id, channel, id);
