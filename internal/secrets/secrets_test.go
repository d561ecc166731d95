package secrets_test

import (
	"path/filepath"
	"testing"

	"github.com/portico-gov/portico/internal/secrets"
)

func TestSealOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "secrets.key")
	box, err := secrets.LoadOrCreate(path)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := box.Seal("JBSWY3DPEHPK3PXP", "totp:a1")
	if err != nil {
		t.Fatal(err)
	}
	again, err := secrets.LoadOrCreate(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := again.Open(sealed, "totp:a1"); err != nil || got != "JBSWY3DPEHPK3PXP" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	other, _ := secrets.LoadOrCreate(filepath.Join(t.TempDir(), "other.key"))
	tests := []struct {
		name, sealed, context string
		box                   *secrets.Box
	}{
		{"wrong context", sealed, "totp:a2", box},
		{"wrong key", sealed, "totp:a1", other},
		{"tampered", sealed[:len(sealed)-2] + "AA", "totp:a1", box},
		{"no prefix", sealed[3:], "totp:a1", box},
		{"garbage", "v1.!!!", "totp:a1", box},
		{"empty", "", "totp:a1", box},
	}
	for _, tt := range tests {
		if _, err := tt.box.Open(tt.sealed, tt.context); err != secrets.ErrOpen {
			t.Errorf("%s: err = %v, want ErrOpen", tt.name, err)
		}
	}
}

func FuzzOpen(f *testing.F) {
	box, _ := secrets.New(make([]byte, 32))
	s, _ := box.Seal("x", "c")
	f.Add(s)
	f.Add("v1.")
	f.Fuzz(func(t *testing.T, sealed string) {
		_, _ = box.Open(sealed, "c")
	})
}
