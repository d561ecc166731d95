package backup

import "testing"

// TestLibpqURL: pg_dump and pg_restore refuse parameters only pgx knows,
// so they are dropped from the URL handed to them; libpq's are kept.
func TestLibpqURL(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"postgres://u@db:5432/portico", "postgres://u@db:5432/portico"},
		{"postgres://u@db/portico?sslmode=verify-full&pool_max_conns=20", "postgres://u@db/portico?sslmode=verify-full"},
		{"postgres://u@db/portico?options=-c%20synchronous_commit%3Doff&statement_cache_capacity=0&pool_min_conns=2", "postgres://u@db/portico?options=-c%20synchronous_commit%3Doff"},
		{"postgres://u@db/portico?application_name=portico&default_query_exec_mode=exec", "postgres://u@db/portico?application_name=portico"},
	} {
		if got := libpqURL(tt.in); got != tt.want {
			t.Errorf("libpqURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
