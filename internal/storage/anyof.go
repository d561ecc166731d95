package storage

import (
	"encoding/json"
	"strconv"
)

// AnyOf returns a condition that col equals one of the strings in
// parameter $param, whose value is ListArg's: `col = ANY($n)` on
// PostgreSQL (a text[] parameter), `col IN (SELECT value FROM
// json_each($n))` on SQLite (a JSON array). The statement's text does not
// depend on the list's length, so a batch of any size is one statement
// that each engine prepares, plans and caches once; a list of "$1, $2, …"
// placeholders is a new statement for every length (pgx keeps each text in
// its per-connection cache).
func (db *DB) AnyOf(col string, param int) string {
	if db.Dialect == Postgres {
		return col + " = ANY($" + strconv.Itoa(param) + ")"
	}
	return col + " IN (SELECT value FROM json_each($" + strconv.Itoa(param) + "))"
}

// ListArg is the value of an AnyOf parameter: ss itself on PostgreSQL
// (pgx sends it as text[]), a JSON array on SQLite.
func (db *DB) ListArg(ss []string) any {
	if db.Dialect == Postgres {
		if ss == nil {
			ss = []string{}
		}
		return ss
	}
	b, _ := json.Marshal(ss) // strings always marshal
	if ss == nil {
		b = []byte("[]")
	}
	return string(b)
}
