package gateway

import (
	"io/fs"
	"net/http"
	"sync"
	"testing"

	"github.com/portico-gov/portico/examples/plugins"
)

// TestValidatorConcurrent: many calls validate at once, each with its own
// validator from the free list (go test -race), and each gets the verdict
// of its own response; the free list keeps no more than its capacity.
func TestValidatorConcurrent(t *testing.T) {
	doc, err := fs.ReadFile(plugins.FS(), "vehicle-registry/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	v, err := newValidator(doc, 4)
	if err != nil {
		t.Fatal(err)
	}
	json := http.Header{"Content-Type": {"application/json"}}
	problem := http.Header{"Content-Type": {"application/problem+json"}}
	cases := []struct {
		name   string
		status int
		header http.Header
		body   string
		valid  bool
	}{
		{"a vehicle", 200, json, `{"plate":"EX4KQ218","vin":"1HGCM82633A004352","make":"Honda","model":"Civic","year":2019,"registration_expires":"2027-01-31"}`, true},
		{"a vehicle without its vin", 200, json, `{"plate":"EX4KQ218","make":"Honda","model":"Civic","year":2019,"registration_expires":"2027-01-31"}`, false},
		{"a year as a string", 200, json, `{"plate":"EX4KQ218","vin":"1HGCM82633A004352","make":"Honda","model":"Civic","year":"2019","registration_expires":"2027-01-31"}`, false},
		{"a declared 404", 404, problem, `{"title":"Not found","status":404}`, true},
		{"an undeclared 418", 418, json, `{}`, false},
	}
	var wg sync.WaitGroup
	for round := range 40 {
		for _, c := range cases {
			wg.Go(func() {
				err := v.check("GET", "/vehicles/EX4KQ218", &http.Response{StatusCode: c.status, Header: c.header}, []byte(c.body))
				if (err == nil) != c.valid {
					t.Errorf("round %d, %s: valid=%v, got error %v", round, c.name, c.valid, err)
				}
			})
		}
	}
	wg.Wait()
	if n := len(v.free); n < 1 || n > cap(v.free) {
		t.Fatalf("%d validators kept, want 1 to %d", n, cap(v.free))
	}
	if _, err := newValidator([]byte("{not yaml"), 4); err == nil {
		t.Fatal("a broken document gave a validator")
	}
}
