package payment

import "testing"

func TestMoves(t *testing.T) {
	tests := []struct {
		from, to Status
		code     string
		ok       bool
	}{
		{Created, Started, "", true},
		{Created, Failed, CodeExpired, true},
		{Created, Cancelled, CodeCancelledBySystem, true},
		{Created, Success, "", false}, // never straight to success
		{Started, Submitted, "", true},
		{Started, Failed, CodeCancelledByUser, true},
		{Started, Failed, CodeRejected, true},
		{Submitted, Success, "", true},
		{Submitted, Capturable, "", true},
		{Submitted, Failed, CodeRejected, true},
		{Submitted, Cancelled, CodeCancelledBySystem, false}, // authorisation under way
		{Capturable, Success, "", true},
		{Capturable, Cancelled, CodeCancelledBySystem, true},
		{Success, Failed, CodeRejected, false}, // finished is final
		{Failed, Started, "", false},
		{Cancelled, Created, "", false},
		{Error, Success, "", false},
		{Submitted, Error, CodeProviderError, true},
		{Submitted, Error, "", false},
		{Started, Failed, CodeProviderError, false},     // a provider error is "error"
		{Started, Failed, "", false},                    // a failure names its code
		{Started, Failed, CodeCancelledBySystem, false}, // the service cancelling is "cancelled"
		{Started, Submitted, CodeRejected, false},       // only failures carry codes
		{Created, Cancelled, CodeCancelledByUser, false},
	}
	for _, tt := range tests {
		err := checkMove(tt.from, tt.to, tt.code)
		if (err == nil) != tt.ok {
			t.Errorf("%s → %s (%q): err = %v, want ok %v", tt.from, tt.to, tt.code, err, tt.ok)
		}
	}
}

func TestStateOf(t *testing.T) {
	s := StateOf(Failed, CodeExpired)
	if !s.Finished || s.Message != "Payment expired" || s.Code != "P0020" {
		t.Errorf("StateOf(failed, P0020) = %+v", s)
	}
	if s := StateOf(Started, ""); s.Finished || s.Message != "" {
		t.Errorf("StateOf(started) = %+v", s)
	}
	for _, st := range []Status{Created, Started, Submitted, Capturable, Success, Failed, Cancelled, Error} {
		if !st.Valid() {
			t.Errorf("%s not valid", st)
		}
		if st.Finished() != (len(transitions[st]) == 0) {
			t.Errorf("%s: finished %v but %d moves", st, st.Finished(), len(transitions[st]))
		}
	}
	if Status("paid").Valid() {
		t.Error("paid is valid")
	}
}
