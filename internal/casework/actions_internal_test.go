package casework

import (
	"context"
	"encoding/json"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/portico-gov/portico/internal/catalog/manifest"
)

// TestActionExecutors checks the executor table against the manifest
// format: every on_enter action kind the schema allows has an executor or
// is refused by validation, every field of manifest.Action is a kind the
// schema names, and no executor waits for a kind nothing can produce.
func TestActionExecutors(t *testing.T) {
	var schema struct {
		Defs map[string]struct {
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(manifest.SchemaJSON(), &schema); err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for k := range schema.Defs["action"].Properties {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	if len(kinds) == 0 {
		t.Fatal("schema.json has no $defs/action properties")
	}
	// refused names kinds validation refuses, with the manifest that
	// proves it; such a kind needs no executor. None is refused today
	// (call_plugin was, until the gateway made its calls).
	refused := map[string]string{}
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			if file, ok := refused[kind]; ok {
				src, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				_, probs, err := manifest.Validate(context.Background(), file, src, manifest.Options{})
				if err != nil {
					t.Fatal(err)
				}
				found := false
				for _, p := range probs {
					found = found || strings.Contains(p.Message, kind)
				}
				if !found {
					t.Errorf("%s is listed as refused, but validating %s reports nothing about it: %v", kind, file, probs)
				}
				return
			}
			if _, ok := actionExecutors[kind]; !ok {
				t.Errorf("the manifest schema allows on_enter action %q, but actionExecutors has no executor for it and validation does not refuse it", kind)
			}
		})
	}
	typ := reflect.TypeOf(manifest.Action{})
	for i := range typ.NumField() {
		// A value with only this field set must be named by actionKind
		// as the schema names it.
		var a manifest.Action
		f := reflect.ValueOf(&a).Elem().Field(i)
		f.Set(reflect.New(f.Type().Elem()))
		if k := actionKind(a); !contains(kinds, k) {
			t.Errorf("manifest.Action.%s: actionKind says %q, which the schema does not allow (%v)", typ.Field(i).Name, k, kinds)
		}
	}
	for k := range actionExecutors {
		if !contains(kinds, k) {
			t.Errorf("actionExecutors[%q]: the manifest schema has no such action", k)
		}
	}
	if k := actionKind(manifest.Action{}); k != "" {
		t.Errorf("actionKind of an empty action = %q, want \"\"", k)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
