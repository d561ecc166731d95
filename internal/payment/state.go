package payment

import "fmt"

// Status is a payment's state, with GOV.UK Pay's names and meanings
// (docs/payments.md): created by the service, started when the payer
// reaches the payment page, submitted when they have entered their
// details, capturable when a delayed-capture payment is authorised and
// waits for the service to capture it, and finished as success, failed
// (with a code), cancelled (by the service) or error (no money taken).
type Status string

// Statuses.
const (
	Created    Status = "created"
	Started    Status = "started"
	Submitted  Status = "submitted"
	Capturable Status = "capturable"
	Success    Status = "success"
	Failed     Status = "failed"
	Cancelled  Status = "cancelled"
	Error      Status = "error"
)

// Finished reports whether s is final: nothing can happen to the payment
// after it (refunds are separate).
func (s Status) Finished() bool {
	switch s {
	case Success, Failed, Cancelled, Error:
		return true
	}
	return false
}

// Valid reports whether s is one of the statuses.
func (s Status) Valid() bool {
	switch s {
	case Created, Started, Submitted, Capturable, Success, Failed, Cancelled, Error:
		return true
	}
	return false
}

// Failure codes of a finished payment, as GOV.UK Pay gives them in
// state.code with state.message.
const (
	CodeRejected          = "P0010" // payment method rejected (declined, expired card, bad CVC)
	CodeExpired           = "P0020" // not finished within Expiry of its creation
	CodeCancelledByUser   = "P0030" // the payer cancelled on the payment page
	CodeCancelledBySystem = "P0040" // the service cancelled it
	CodeProviderError     = "P0050" // the payment provider failed
)

// messages are the state messages GOV.UK Pay gives with each code.
var messages = map[string]string{
	CodeRejected:          "Payment method rejected",
	CodeExpired:           "Payment expired",
	CodeCancelledByUser:   "Payment was cancelled by the user",
	CodeCancelledBySystem: "Payment was cancelled by the service",
	CodeProviderError:     "Payment provider returned an error",
}

// State is a payment's status with, for a failure, its code and message.
type State struct {
	Status   Status `json:"status"`
	Finished bool   `json:"finished"`
	Code     string `json:"code,omitempty"`
	Message  string `json:"message,omitempty"`
}

// StateOf builds the State for status s and failure code (empty unless
// s is failed, cancelled or error).
func StateOf(s Status, code string) State {
	return State{Status: s, Finished: s.Finished(), Code: code, Message: messages[code]}
}

// transitions lists, for each status, the statuses a payment may move to
// from it. Failed covers a rejection (P0010), expiry (P0020) and the
// payer cancelling (P0030); cancelled is the service cancelling (P0040),
// possible until the payment is submitted, or while it is capturable;
// error is a provider failure with no money taken (P0050).
var transitions = map[Status][]Status{
	Created:    {Started, Failed, Cancelled, Error},
	Started:    {Submitted, Failed, Cancelled, Error},
	Submitted:  {Capturable, Success, Failed, Error},
	Capturable: {Success, Cancelled, Failed, Error},
}

// CanMove reports whether a payment in status from may move to to.
func CanMove(from, to Status) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// codes lists the failure codes each finished status may carry.
var codes = map[Status][]string{
	Failed:    {CodeRejected, CodeExpired, CodeCancelledByUser},
	Cancelled: {CodeCancelledBySystem},
	Error:     {CodeProviderError},
}

// checkMove returns an error unless a payment in from may move to to with
// code (the failure code, required for failed and cancelled, absent
// otherwise).
func checkMove(from, to Status, code string) error {
	if !CanMove(from, to) {
		return fmt.Errorf("payment: cannot move from %s to %s", from, to)
	}
	allowed := codes[to]
	if len(allowed) == 0 {
		if code != "" {
			return fmt.Errorf("payment: %s carries no code (got %s)", to, code)
		}
		return nil
	}
	for _, c := range allowed {
		if c == code {
			return nil
		}
	}
	return fmt.Errorf("payment: %s needs one of the codes %v (got %q)", to, allowed, code)
}
