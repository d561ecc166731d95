package password_test

import (
	"strings"
	"testing"

	"github.com/portico-gov/portico/internal/identity/password"
)

// fast keeps tests quick; production uses password.Default.
var fast = password.Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32}

func TestCheck(t *testing.T) {
	tests := []struct {
		name, pw, email string
		mfa             bool
		want            password.Problem
	}{
		{"15 chars single factor", "mauve-otter-rain", "", false, ""},
		{"14 chars single factor", "mauve-otter-ra", "", false, password.TooShort},
		{"8 chars with MFA", "q7#vLm2x", "", true, ""},
		{"7 chars with MFA", "q7#vLm2", "", true, password.TooShort},
		{"multibyte counts code points", "ñandú-ñandú-ñan", "", false, ""},
		{"emoji counts code points", "🦉🐸🦊🐙🦉🐸🦊🐙🦉🐸🦊🐙🦉🐸🐢", "", false, ""},
		{"256 allowed", strings.Repeat("correct horse battery staple ", 9)[:256], "", false, ""},
		{"257 refused", strings.Repeat("x", 257), "", false, password.TooLong},
		{"common", "password1234", "", true, password.Common},
		{"common any case", "PaSsWoRd1234", "", true, password.Common},
		{"breached long", "1qaz2wsx3edc4rfv", "", false, password.Common},
		{"email as password", "maria.lopez@example.com", "maria.lopez@example.com", false, password.ContainsID},
		{"email name plus digits", "maria.lopez123", "Maria.Lopez@example.com", true, password.ContainsID},
		{"spaces kept", "   correct horse battery   ", "", false, ""},
		{"no composition rules", "alllowercaseletters", "", false, ""},
		{"digit run", "123456789012345", "", false, password.Common},
		{"descending run", "987654321098765", "", true, password.Common},
		{"one character", "aaaaaaaaaaaaaaa", "", false, password.Common},
		{"common word twice", "iloveyouiloveyou", "", false, password.Common},
		{"short unit repeated", "abcabcabcabcabc", "", false, password.Common},
		{"keyboard row", "qwertyuiopqwerty", "", false, password.Common},
		{"uncommon word twice is fine", "zephyrquokkazephyrquokka", "", false, ""},
		{"invalid utf8", "abcdefgh\xff\xfeijklmnop", "", false, password.InvalidUTF8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := password.Check(tt.pw, tt.email, tt.mfa); got != tt.want {
				t.Fatalf("Check(%q) = %q, want %q", tt.pw, got, tt.want)
			}
		})
	}
	if n := password.BlocklistSize(); n < 10000 {
		t.Fatalf("blocklist has %d entries; ASVS 6.2.4 wants at least the top 3,000 and we ship more", n)
	}
}

func TestHashVerifyExactlyAsTyped(t *testing.T) {
	h, err := password.Hash("Correct Horse 🐎 battery", fast)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		pw   string
		want bool
	}{
		{"Correct Horse 🐎 battery", true},
		{"correct Horse 🐎 battery", false},
		{"Correct Horse 🐎 battery ", false},
		{" Correct Horse 🐎 battery", false},
		{"Correct Horse 🐎 batter", false},
		{"", false},
	}
	for _, tt := range tests {
		ok, err := password.Verify(tt.pw, h)
		if err != nil || ok != tt.want {
			t.Errorf("Verify(%q) = %v, %v; want %v", tt.pw, ok, err, tt.want)
		}
	}
	h2, _ := password.Hash("Correct Horse 🐎 battery", fast)
	if h == h2 {
		t.Fatal("two hashes of one password are equal: salt not random")
	}
}

func TestNeedsRehash(t *testing.T) {
	weak, _ := password.Hash("some long passphrase here", fast)
	if !password.NeedsRehash(weak, password.Default) {
		t.Fatal("weak hash not flagged for upgrade")
	}
	if password.NeedsRehash(weak, fast) {
		t.Fatal("hash at current parameters flagged")
	}
	if !password.NeedsRehash("$2a$10$bcrypt", password.Default) {
		t.Fatal("foreign hash not flagged")
	}
}

func TestParseRejects(t *testing.T) {
	for _, s := range []string{
		"", "$argon2id$", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=64,t=1,p=1$!!$a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=18$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5",
	} {
		if _, _, _, err := password.Parse(s); err == nil {
			t.Errorf("Parse(%q) accepted", s)
		}
	}
}

func FuzzCheck(f *testing.F) {
	f.Add("mauve-otter-rain", "a@b.c", false)
	f.Add("\xff", "", true)
	f.Fuzz(func(t *testing.T, pw, email string, mfa bool) {
		_ = password.Check(pw, email, mfa)
	})
}

func FuzzParse(f *testing.F) {
	h, _ := password.Hash("x", fast)
	f.Add(h)
	f.Add("$argon2id$v=19$m=64,t=1,p=1$$")
	f.Fuzz(func(t *testing.T, s string) {
		p, _, _, err := password.Parse(s)
		if err == nil && (p.Memory > 1<<20 || p.Time > 20) {
			t.Fatalf("accepted expensive parameters %+v", p)
		}
	})
}

func BenchmarkHashDefault(b *testing.B) {
	for b.Loop() {
		if _, err := password.Hash("correct horse battery staple", password.Default); err != nil {
			b.Fatal(err)
		}
	}
}
