package stripeprovider_test

import (
	"testing"

	"github.com/stripe/stripe-go/v82"

	"github.com/portico-gov/portico/internal/payment"
	"github.com/portico-gov/portico/internal/payment/stripeprovider"
)

func intent(status stripe.PaymentIntentStatus, mods ...func(*stripe.PaymentIntent)) *stripe.PaymentIntent {
	pi := &stripe.PaymentIntent{ID: "pi_1", Status: status}
	for _, m := range mods {
		m(pi)
	}
	return pi
}

func lastError(code stripe.ErrorCode, decline stripe.DeclineCode) func(*stripe.PaymentIntent) {
	return func(pi *stripe.PaymentIntent) {
		pi.LastPaymentError = &stripe.Error{Type: stripe.ErrorTypeCard, Code: code, DeclineCode: decline}
	}
}

func canceled(reason stripe.PaymentIntentCancellationReason) func(*stripe.PaymentIntent) {
	return func(pi *stripe.PaymentIntent) { pi.CancellationReason = reason }
}

func card(brand stripe.PaymentMethodCardBrand, last4 string) func(*stripe.PaymentIntent) {
	return func(pi *stripe.PaymentIntent) {
		pi.LatestCharge = &stripe.Charge{PaymentMethodDetails: &stripe.ChargePaymentMethodDetails{Card: &stripe.ChargePaymentMethodDetailsCard{Brand: brand, Last4: last4}}}
	}
}

// TestMap: every state a Checkout Session and its PaymentIntent can be in
// maps to the GOV.UK Pay status (and failure code) its payments move to.
// The cases are the states Stripe documents for each object; the
// session's status decides whether the payer is still on Stripe's page.
func TestMap(t *testing.T) {
	open, complete, expired := stripe.CheckoutSessionStatusOpen, stripe.CheckoutSessionStatusComplete, stripe.CheckoutSessionStatusExpired
	paid, unpaid, free := stripe.CheckoutSessionPaymentStatusPaid, stripe.CheckoutSessionPaymentStatusUnpaid, stripe.CheckoutSessionPaymentStatusNoPaymentRequired
	for _, tc := range []struct {
		name          string
		status        stripe.CheckoutSessionStatus
		paid          stripe.CheckoutSessionPaymentStatus
		pi            *stripe.PaymentIntent
		want          payment.Status
		code          string
		brand, digits string
	}{
		{"open, no intent yet", open, unpaid, nil, payment.Started, "", "", ""},
		{"open, choosing a card", open, unpaid, intent(stripe.PaymentIntentStatusRequiresPaymentMethod), payment.Started, "", "", ""},
		{"open, 3-D Secure in progress", open, unpaid, intent(stripe.PaymentIntentStatusRequiresAction), payment.Started, "", "", ""},
		{"open, confirming", open, unpaid, intent(stripe.PaymentIntentStatusRequiresConfirmation), payment.Started, "", "", ""},
		{"open, a declined card the payer may replace", open, unpaid, intent(stripe.PaymentIntentStatusRequiresPaymentMethod, lastError(stripe.ErrorCodeCardDeclined, "insufficient_funds")), payment.Started, "", "", ""},
		{"open, processing", open, unpaid, intent(stripe.PaymentIntentStatusProcessing), payment.Submitted, "", "", ""},
		{"open, intent already succeeded", open, unpaid, intent(stripe.PaymentIntentStatusSucceeded), payment.Success, "", "", ""},
		{"complete and paid", complete, paid, intent(stripe.PaymentIntentStatusSucceeded, card("visa", "4242")), payment.Success, "", "visa", "4242"},
		{"complete, nothing to pay", complete, free, nil, payment.Success, "", "", ""},
		{"complete, authorised for delayed capture", complete, unpaid, intent(stripe.PaymentIntentStatusRequiresCapture, card("mastercard", "4444")), payment.Capturable, "", "mastercard", "4444"},
		{"complete, asynchronous payment processing", complete, unpaid, intent(stripe.PaymentIntentStatusProcessing), payment.Submitted, "", "", ""},
		{"complete, unpaid, intent not expanded", complete, unpaid, nil, payment.Submitted, "", "", ""},
		{"complete, asynchronous payment failed", complete, unpaid, intent(stripe.PaymentIntentStatusRequiresPaymentMethod, lastError(stripe.ErrorCodePaymentIntentPaymentAttemptFailed, "")), payment.Failed, payment.CodeRejected, "", ""},
		{"complete, payment failed without an error", complete, unpaid, intent(stripe.PaymentIntentStatusRequiresPaymentMethod), payment.Failed, payment.CodeRejected, "", ""},
		{"complete, Stripe failed to process", complete, unpaid, intent(stripe.PaymentIntentStatusRequiresPaymentMethod, lastError(stripe.ErrorCodeProcessingError, "")), payment.Error, payment.CodeProviderError, "", ""},
		{"complete, authorisation released by the service", complete, unpaid, intent(stripe.PaymentIntentStatusCanceled), payment.Cancelled, payment.CodeCancelledBySystem, "", ""},
		{"complete, authorisation lapsed", complete, unpaid, intent(stripe.PaymentIntentStatusCanceled, canceled(stripe.PaymentIntentCancellationReasonAutomatic)), payment.Failed, payment.CodeExpired, "", ""},
		{"expired, nobody paid", expired, unpaid, nil, payment.Failed, payment.CodeExpired, "", ""},
		{"expired, intent waiting for a card", expired, unpaid, intent(stripe.PaymentIntentStatusRequiresPaymentMethod), payment.Failed, payment.CodeExpired, "", ""},
		{"expired after a decline", expired, unpaid, intent(stripe.PaymentIntentStatusRequiresPaymentMethod, lastError(stripe.ErrorCodeCardDeclined, "generic_decline"), card("visa", "0002")), payment.Failed, payment.CodeRejected, "visa", "0002"},
		{"expired after an expired card", expired, unpaid, intent(stripe.PaymentIntentStatusRequiresPaymentMethod, lastError(stripe.ErrorCodeExpiredCard, "")), payment.Failed, payment.CodeRejected, "", ""},
		{"expired after a wrong CVC", expired, unpaid, intent(stripe.PaymentIntentStatusRequiresPaymentMethod, lastError(stripe.ErrorCodeIncorrectCVC, "")), payment.Failed, payment.CodeRejected, "", ""},
		{"expired after a processing error", expired, unpaid, intent(stripe.PaymentIntentStatusRequiresPaymentMethod, lastError(stripe.ErrorCodeProcessingError, "")), payment.Error, payment.CodeProviderError, "", ""},
		{"expired, intent canceled as expired", expired, unpaid, intent(stripe.PaymentIntentStatusCanceled, canceled(stripe.PaymentIntentCancellationReasonExpired)), payment.Failed, payment.CodeExpired, "", ""},
		{"expired by the service's cancel", expired, unpaid, intent(stripe.PaymentIntentStatusCanceled, canceled(stripe.PaymentIntentCancellationReasonAbandoned)), payment.Cancelled, payment.CodeCancelledBySystem, "", ""},
		{"expired but the payment went through", expired, unpaid, intent(stripe.PaymentIntentStatusSucceeded), payment.Success, "", "", ""},
		{"a status Stripe adds later", "pending_review", unpaid, nil, payment.Started, "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := stripeprovider.Map(&stripe.CheckoutSession{ID: "cs_1", Status: tc.status, PaymentStatus: tc.paid, PaymentIntent: tc.pi})
			if got.Status != tc.want || got.Code != tc.code || got.CardBrand != tc.brand || got.LastDigits != tc.digits {
				t.Fatalf("Map = %+v, want %s %q %s %s", got, tc.want, tc.code, tc.brand, tc.digits)
			}
			if !got.Status.Valid() {
				t.Fatalf("invalid status %q", got.Status)
			}
		})
	}
}

// TestMapIntent: each PaymentIntent status and cancellation reason, by
// itself.
func TestMapIntent(t *testing.T) {
	for _, tc := range []struct {
		pi   *stripe.PaymentIntent
		want payment.Status
		code string
	}{
		{intent(stripe.PaymentIntentStatusRequiresPaymentMethod), payment.Started, ""},
		{intent(stripe.PaymentIntentStatusRequiresConfirmation), payment.Started, ""},
		{intent(stripe.PaymentIntentStatusRequiresAction), payment.Started, ""},
		{intent(stripe.PaymentIntentStatusProcessing), payment.Submitted, ""},
		{intent(stripe.PaymentIntentStatusRequiresCapture), payment.Capturable, ""},
		{intent(stripe.PaymentIntentStatusSucceeded), payment.Success, ""},
		{intent(stripe.PaymentIntentStatusCanceled), payment.Cancelled, payment.CodeCancelledBySystem},
		{intent(stripe.PaymentIntentStatusCanceled, canceled(stripe.PaymentIntentCancellationReasonDuplicate)), payment.Cancelled, payment.CodeCancelledBySystem},
		{intent(stripe.PaymentIntentStatusCanceled, canceled(stripe.PaymentIntentCancellationReasonRequestedByCustomer)), payment.Failed, payment.CodeCancelledByUser},
		{intent(stripe.PaymentIntentStatusCanceled, canceled(stripe.PaymentIntentCancellationReasonExpired)), payment.Failed, payment.CodeExpired},
		{intent(stripe.PaymentIntentStatusCanceled, canceled(stripe.PaymentIntentCancellationReasonAutomatic)), payment.Failed, payment.CodeExpired},
		{intent(stripe.PaymentIntentStatusCanceled, canceled(stripe.PaymentIntentCancellationReasonFraudulent)), payment.Failed, payment.CodeRejected},
		{intent(stripe.PaymentIntentStatusCanceled, lastError(stripe.ErrorCodeCardDeclined, "lost_card")), payment.Failed, payment.CodeRejected},
		{intent(stripe.PaymentIntentStatusCanceled, lastError(stripe.ErrorCodeProcessingError, "")), payment.Error, payment.CodeProviderError},
	} {
		st, code := stripeprovider.MapIntent(tc.pi)
		if st != tc.want || code != tc.code {
			t.Errorf("%s (%s): %s %q, want %s %q", tc.pi.Status, tc.pi.CancellationReason, st, code, tc.want, tc.code)
		}
	}
}

func TestRefundStatus(t *testing.T) {
	for in, want := range map[stripe.RefundStatus]string{
		stripe.RefundStatusSucceeded: "success", stripe.RefundStatusPending: "submitted", stripe.RefundStatusRequiresAction: "submitted",
		stripe.RefundStatusFailed: "error", stripe.RefundStatusCanceled: "error",
	} {
		if got := stripeprovider.RefundStatus(in); got != want {
			t.Errorf("RefundStatus(%s) = %s, want %s", in, got, want)
		}
	}
}

// TestMapCardDetails: the latest charge's card gives GOV.UK Pay's
// card_details: the first six digits of the IIN, the expiry as MM/YY,
// credit or debit (any other funding is unknown) and the billing name.
func TestMapCardDetails(t *testing.T) {
	for _, tc := range []struct {
		name    string
		card    stripe.ChargePaymentMethodDetailsCard
		billing *stripe.ChargeBillingDetails
		want    payment.Outcome
	}{
		{"everything", stripe.ChargePaymentMethodDetailsCard{Brand: "visa", Last4: "4242", IIN: "42424242", ExpMonth: 4, ExpYear: 2029, Funding: stripe.CardFundingCredit},
			&stripe.ChargeBillingDetails{Name: "Ana Citizen"},
			payment.Outcome{Status: payment.Success, CardBrand: "visa", LastDigits: "4242", FirstDigits: "424242", ExpiryDate: "04/29", CardType: "credit", CardholderName: "Ana Citizen"}},
		{"debit, no name", stripe.ChargePaymentMethodDetailsCard{Brand: "mastercard", Last4: "4444", ExpMonth: 12, ExpYear: 2030, Funding: stripe.CardFundingDebit},
			nil, payment.Outcome{Status: payment.Success, CardBrand: "mastercard", LastDigits: "4444", ExpiryDate: "12/30", CardType: "debit"}},
		{"prepaid is no card type", stripe.ChargePaymentMethodDetailsCard{Brand: "visa", Last4: "0000", IIN: "4000", Funding: stripe.CardFundingPrepaid},
			nil, payment.Outcome{Status: payment.Success, CardBrand: "visa", LastDigits: "0000"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.card
			s := &stripe.CheckoutSession{Status: stripe.CheckoutSessionStatusComplete, PaymentStatus: stripe.CheckoutSessionPaymentStatusPaid,
				PaymentIntent: &stripe.PaymentIntent{Status: stripe.PaymentIntentStatusSucceeded,
					LatestCharge: &stripe.Charge{BillingDetails: tc.billing, PaymentMethodDetails: &stripe.ChargePaymentMethodDetails{Card: &c}}}}
			if got := stripeprovider.Map(s); got != tc.want {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}
