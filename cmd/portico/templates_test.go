package main

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/config"
	"github.com/portico-gov/portico/internal/notify"
	"github.com/portico-gov/portico/internal/platform"
)

// TestManifestTemplates: a service's messages to applicants are its
// agency's email templates (in both languages), made once; a changed
// message is a new version of its template.
func TestManifestTemplates(t *testing.T) {
	ctx := platform.WithActor(context.Background(), platform.Actor{Kind: platform.ActorSystem})
	cfg := config.Config{DataDir: t.TempDir(), LogFormat: "text", LogLevel: 8}
	if err := cfg.Finish(); err != nil {
		t.Fatal(err)
	}
	a, err := app.New(ctx, cfg, app.NewLogger(cfg, io.Discard), app.Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Stop(context.Background()) })
	if err := seedDemo(ctx, a); err != nil {
		t.Fatal(err)
	}
	find := func(name string) (notify.Template, bool) {
		ts, err := a.Notify.Templates(ctx, "dmv", notify.TemplateEmail)
		if err != nil {
			t.Fatal(err)
		}
		for _, tp := range ts {
			if tp.Name == name {
				return tp, true
			}
		}
		return notify.Template{}, false
	}
	svc, err := a.Catalog.Latest(ctx, "vehicle-registration-renewal")
	if err != nil {
		t.Fatal(err)
	}
	var state string
	for id, st := range svc.Manifest.Workflow.States {
		for _, act := range st.OnEnter {
			if act.Notify != nil && act.Notify.To == "citizen" && state == "" {
				state = id
			}
		}
	}
	if state == "" {
		t.Fatal("the vehicle renewal sends applicants nothing")
	}
	name := "vehicle-registration-renewal: " + state
	tp, ok := find(name)
	if !ok || tp.Version != 1 || tp.Subject != svc.Manifest.Title.EN || tp.BodyES == "" {
		t.Fatalf("template %q = %+v, %v", name, tp, ok)
	}
	// Seeding again (every demo start) changes nothing.
	if n, err := a.ManifestTemplates(ctx, svc); err != nil || n != 0 {
		t.Fatalf("again: %d changed, %v", n, err)
	}
	// A new version of the service with a new message: a new template version.
	src := strings.Replace(svc.Source, "version: 1", "version: 2", 1)
	for _, act := range svc.Manifest.Workflow.States[state].OnEnter {
		if act.Notify != nil && act.Notify.To == "citizen" {
			src = strings.Replace(src, act.Notify.Message.EN, "Finished. "+act.Notify.Message.EN, 1)
			break
		}
	}
	p2, err := a.Catalog.Publish(ctx, "dmv", "v2.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := a.ManifestTemplates(ctx, p2); err != nil || n != 1 {
		t.Fatalf("v2: %d changed, %v", n, err)
	}
	if tp2, _ := find(name); tp2.ID != tp.ID || tp2.Version != 2 || !strings.HasPrefix(tp2.Body, "Finished. ") {
		t.Fatalf("after v2: %+v", tp2)
	}
}
