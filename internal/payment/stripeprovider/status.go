package stripeprovider

import (
	"fmt"

	"github.com/stripe/stripe-go/v82"

	"github.com/portico-gov/portico/internal/payment"
)

// Map is a Checkout Session's state (read with its PaymentIntent and
// that intent's latest charge expanded) in GOV.UK Pay's statuses:
//
//   - open: the payer is on Stripe's page: started. A declined card
//     leaves the session open (Stripe's page says so and lets the payer
//     try another), so a decline is not final until the session ends.
//     An intent already processing (an asynchronous method) is
//     submitted; one authorised or paid is capturable or success.
//   - complete and paid (or nothing to pay): success; complete and
//     unpaid: capturable when authorised for delayed capture, submitted
//     while an asynchronous payment is processing, failed (P0010) or
//     error (P0050) when that payment failed.
//   - expired: failed with P0020, or P0010 when the last attempt was a
//     decline, or error P0050 when Stripe failed to process it; an
//     intent canceled by the service is cancelled (P0040).
//
// The card (brand, first and last digits, expiry, funding as the card
// type, the billing name as the cardholder's) comes from the latest
// charge, for the receipt and GOV.UK Pay's card_details.
func Map(s *stripe.CheckoutSession) payment.Outcome {
	pi := s.PaymentIntent
	o := payment.Outcome{}
	if pi != nil && pi.LatestCharge != nil && pi.LatestCharge.PaymentMethodDetails != nil && pi.LatestCharge.PaymentMethodDetails.Card != nil {
		card := pi.LatestCharge.PaymentMethodDetails.Card
		o.CardBrand, o.LastDigits = string(card.Brand), card.Last4
		if len(card.IIN) >= 6 {
			o.FirstDigits = card.IIN[:6]
		}
		if card.ExpMonth > 0 && card.ExpYear > 0 {
			o.ExpiryDate = fmt.Sprintf("%02d/%02d", card.ExpMonth, card.ExpYear%100)
		}
		if card.Funding == stripe.CardFundingCredit || card.Funding == stripe.CardFundingDebit {
			o.CardType = string(card.Funding)
		}
		if bd := pi.LatestCharge.BillingDetails; bd != nil {
			o.CardholderName = bd.Name
		}
	}
	switch s.Status {
	case stripe.CheckoutSessionStatusComplete:
		switch {
		case s.PaymentStatus == stripe.CheckoutSessionPaymentStatusPaid, s.PaymentStatus == stripe.CheckoutSessionPaymentStatusNoPaymentRequired:
			o.Status = payment.Success
		case pi == nil:
			o.Status = payment.Submitted
		default:
			o.Status, o.Code = mapFinishedIntent(pi)
		}
	case stripe.CheckoutSessionStatusExpired:
		if pi != nil && (pi.Status == stripe.PaymentIntentStatusSucceeded || pi.Status == stripe.PaymentIntentStatusRequiresCapture) {
			o.Status, o.Code = mapFinishedIntent(pi)
			break
		}
		if pi != nil && pi.Status == stripe.PaymentIntentStatusCanceled {
			o.Status, o.Code = MapIntent(pi)
			break
		}
		o.Status, o.Code = payment.Failed, payment.CodeExpired
		if pi != nil && pi.LastPaymentError != nil {
			o.Status, o.Code = declined(pi.LastPaymentError)
		}
	default: // open, or a status Stripe adds later: the payer is not done
		o.Status = payment.Started
		if pi != nil {
			switch pi.Status {
			case stripe.PaymentIntentStatusProcessing, stripe.PaymentIntentStatusRequiresCapture, stripe.PaymentIntentStatusSucceeded:
				o.Status, o.Code = MapIntent(pi)
			}
		}
	}
	return o
}

// mapFinishedIntent maps the intent of a session the payer has finished
// with: what MapIntent says, except that an intent asking for a payment
// method again has failed (the payer has left Stripe's page).
func mapFinishedIntent(pi *stripe.PaymentIntent) (payment.Status, string) {
	st, code := MapIntent(pi)
	if st == payment.Started {
		if pi.LastPaymentError != nil {
			return declined(pi.LastPaymentError)
		}
		return payment.Failed, payment.CodeRejected
	}
	return st, code
}

// MapIntent maps a PaymentIntent's status by itself:
// requires_payment_method, requires_confirmation and requires_action are
// started (the payer is still choosing, confirming or authenticating);
// processing is submitted; requires_capture is capturable; succeeded is
// success; canceled is cancelled (P0040) when the service canceled it,
// failed P0030 when the payer did, failed P0020 when it lapsed, failed
// P0010 when it was refused as fraudulent or after a decline.
func MapIntent(pi *stripe.PaymentIntent) (payment.Status, string) {
	switch pi.Status {
	case stripe.PaymentIntentStatusProcessing:
		return payment.Submitted, ""
	case stripe.PaymentIntentStatusRequiresCapture:
		return payment.Capturable, ""
	case stripe.PaymentIntentStatusSucceeded:
		return payment.Success, ""
	case stripe.PaymentIntentStatusCanceled:
		switch pi.CancellationReason {
		case stripe.PaymentIntentCancellationReasonRequestedByCustomer:
			return payment.Failed, payment.CodeCancelledByUser
		case stripe.PaymentIntentCancellationReasonExpired, stripe.PaymentIntentCancellationReasonAutomatic:
			return payment.Failed, payment.CodeExpired
		case stripe.PaymentIntentCancellationReasonFraudulent:
			return payment.Failed, payment.CodeRejected
		}
		if pi.LastPaymentError != nil {
			return declined(pi.LastPaymentError)
		}
		return payment.Cancelled, payment.CodeCancelledBySystem
	}
	return payment.Started, ""
}

// declined maps the error of a failed attempt: Stripe failing to process
// it is error P0050 (no money taken, not the payer's fault); any decline
// (card_declined with its decline code, expired_card, incorrect_cvc,
// insufficient funds, authentication failed…) is failed P0010, "payment
// method rejected".
func declined(e *stripe.Error) (payment.Status, string) {
	if e.Code == stripe.ErrorCodeProcessingError || e.Type == stripe.ErrorTypeAPI {
		return payment.Error, payment.CodeProviderError
	}
	return payment.Failed, payment.CodeRejected
}
