package platform

import (
	"slices"
	"testing"
)

func TestActorAuthority(t *testing.T) {
	citizen := Actor{Kind: ActorCitizen, ID: "acct-ana"}
	clerk := Actor{Kind: ActorStaff, ID: "acct-eli", Grants: []Grant{{"adams-clerk", "caseworker"}, {"adams-clerk", "finance"}, {"dmv", "caseworker"}}}
	admin := Actor{Kind: ActorStaff, ID: "acct-pat", PlatformAdmin: true}
	tests := []struct {
		name string
		got  bool
		want bool
	}{
		{"owner citizen", citizen.IsCitizen("acct-ana"), true},
		{"other citizen", citizen.IsCitizen("acct-beto"), false},
		{"empty id is nobody", Actor{Kind: ActorCitizen}.IsCitizen(""), false},
		{"staff is not the citizen", Actor{Kind: ActorStaff, ID: "acct-ana"}.IsCitizen("acct-ana"), false},
		{"citizen signed in", citizen.SignedIn(), true},
		{"anonymous not signed in", Actor{}.SignedIn(), false},
		{"client not signed in", Actor{Kind: ActorClient, ID: "c"}.SignedIn(), false},
		{"role held", clerk.HasRole("adams-clerk", "finance"), true},
		{"any role in agency", clerk.HasRole("dmv"), true},
		{"role not held", clerk.HasRole("dmv", "finance"), false},
		{"other agency", clerk.HasRole("baker-clerk"), false},
		{"empty agency", clerk.HasRole(""), false},
		{"citizen has no roles", Actor{Kind: ActorCitizen, ID: "x", Grants: []Grant{{"dmv", "caseworker"}}}.HasRole("dmv"), false},
		{"platform admin holds no agency role by itself", admin.HasRole("dmv"), false},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
	if got := clerk.Agencies(); !slices.Equal(got, []string{"adams-clerk", "dmv"}) {
		t.Errorf("Agencies = %v", got)
	}
}
