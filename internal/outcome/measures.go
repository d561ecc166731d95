package outcome

import (
	"math"
	"slices"
	"time"
)

// Counts are the raw counters of some days, agencies and services: the
// columns of outcome_daily, summed.
type Counts struct {
	Started    int64 // drafts started
	Ineligible int64 // told "not eligible" before a draft: completed
	Submitted  int64 // submitted: completed
	Withdrawn  int64 // drop-outs
	Expired    int64 // drop-outs

	Paper, Phone, Counter int64 // transactions staff recorded

	Decided        int64 // cases closed
	DecidedInSLA   int64 // closed, never overdue, with an SLA
	DecidedWithSLA int64 // closed, with an SLA on the way
	InfoRequests   int64

	PaymentsSucceeded, PaymentsFailed int64
	PaidMinor                         int64 // cents paid

	// Satisfaction counts answers per score: [0] is 1, very dissatisfied;
	// [4] is 5, very satisfied.
	Satisfaction [5]int64

	ObligationsDue, ObligationsOnTime                 int64
	ObligationsDueReminded, ObligationsOnTimeReminded int64
}

// columns are outcome_daily's counter columns in Counts' order (fields
// returns pointers in the same order).
var columns = []string{
	"started", "ineligible", "submitted", "withdrawn", "expired",
	"offline_paper", "offline_phone", "offline_counter",
	"decided", "decided_in_sla", "decided_with_sla", "info_requests",
	"payments_succeeded", "payments_failed", "paid_minor",
	"sat1", "sat2", "sat3", "sat4", "sat5",
	"obligations_due", "obligations_on_time", "obligations_due_reminded", "obligations_on_time_reminded",
}

func (c *Counts) fields() []*int64 {
	return []*int64{
		&c.Started, &c.Ineligible, &c.Submitted, &c.Withdrawn, &c.Expired,
		&c.Paper, &c.Phone, &c.Counter,
		&c.Decided, &c.DecidedInSLA, &c.DecidedWithSLA, &c.InfoRequests,
		&c.PaymentsSucceeded, &c.PaymentsFailed, &c.PaidMinor,
		&c.Satisfaction[0], &c.Satisfaction[1], &c.Satisfaction[2], &c.Satisfaction[3], &c.Satisfaction[4],
		&c.ObligationsDue, &c.ObligationsOnTime, &c.ObligationsDueReminded, &c.ObligationsOnTimeReminded,
	}
}

// Add adds o's counters to c.
func (c *Counts) Add(o Counts) {
	dst, src := c.fields(), o.fields()
	for i := range dst {
		*dst[i] += *src[i]
	}
}

// Completed is the transactions where the digital service did its job:
// submitted, and told "not eligible".
func (c Counts) Completed() int64 { return c.Submitted + c.Ineligible }

// Offline is the transactions staff recorded on paper, by phone or at the
// counter.
func (c Counts) Offline() int64 { return c.Paper + c.Phone + c.Counter }

// Transactions is every completed transaction through every channel.
func (c Counts) Transactions() int64 { return c.Completed() + c.Offline() }

// Respondents is how many answered the satisfaction question.
func (c Counts) Respondents() int64 {
	var n int64
	for _, v := range c.Satisfaction {
		n += v
	}
	return n
}

// Ratio is a measure as its numerator and denominator, so pages can show
// both; with a zero denominator there is no data.
type Ratio struct {
	Num, Den int64
}

// Valid reports whether there is data: a non-zero denominator.
func (r Ratio) Valid() bool { return r.Den > 0 }

// Value is Num/Den (0 when there is no data: check Valid first).
func (r Ratio) Value() float64 {
	if !r.Valid() {
		return 0
	}
	return float64(r.Num) / float64(r.Den)
}

// Percent is the ratio as a percentage rounded to a tenth.
func (r Ratio) Percent() float64 { return math.Round(r.Value()*1000) / 10 }

// DigitalTakeUp is completed digital transactions ÷ completed
// transactions through every channel (GOV.UK's definition).
func (c Counts) DigitalTakeUp() Ratio { return Ratio{c.Completed(), c.Transactions()} }

// CompletionRate is completed ÷ started. "Not eligible" is both a start
// and a completion (the service did its job before a draft was made);
// withdrawn and expired drafts are drop-outs. Over a short period the
// rate can pass 100%: submissions of drafts started before the period.
func (c Counts) CompletionRate() Ratio { return Ratio{c.Completed(), c.Started + c.Ineligible} }

// UserSatisfaction is the share of respondents satisfied or very
// satisfied (4 or 5).
func (c Counts) UserSatisfaction() Ratio {
	return Ratio{c.Satisfaction[3] + c.Satisfaction[4], c.Respondents()}
}

// SLAAdherence is the cases decided without ever going overdue ÷ the
// cases decided whose workflow set an SLA.
func (c Counts) SLAAdherence() Ratio { return Ratio{c.DecidedInSLA, c.DecidedWithSLA} }

// InfoRequestsPerCase is requests for more information ÷ cases opened
// (submissions) in the same period.
func (c Counts) InfoRequestsPerCase() Ratio { return Ratio{c.InfoRequests, c.Submitted} }

// OnTime is obligations completed by their due date ÷ obligations due.
func (c Counts) OnTime() Ratio { return Ratio{c.ObligationsOnTime, c.ObligationsDue} }

// OnTimeReminded is OnTime among obligations with reminders scheduled.
func (c Counts) OnTimeReminded() Ratio {
	return Ratio{c.ObligationsOnTimeReminded, c.ObligationsDueReminded}
}

// OnTimeNotReminded is OnTime among obligations without reminders.
func (c Counts) OnTimeNotReminded() Ratio {
	return Ratio{c.ObligationsOnTime - c.ObligationsOnTimeReminded, c.ObligationsDue - c.ObligationsDueReminded}
}

// Money is an amount in cents, or none (no data).
type Money struct {
	Cents int64
	Valid bool
}

// CostPerTransaction divides the cost of the months that have a cost
// model by the transactions of those same months, rounded to the cent.
// A month without a cost, or without transactions, has no data.
func CostPerTransaction(costCents, transactions int64) Money {
	if transactions <= 0 {
		return Money{}
	}
	return Money{Cents: int64(math.Round(float64(costCents) / float64(transactions))), Valid: true}
}

// Histogram counts decisions per bucket: the key is the bucket's lower
// bound in hours.
type Histogram map[int]int64

// maxBucket is "more than a year": its own open-ended bucket.
const maxBucket = 366 * 24

// Bucket is the histogram bucket of a decision that took d: whole hours
// below two days, whole days from two days, a year and a day at most.
func Bucket(d time.Duration) int {
	if d < 0 {
		d = 0
	}
	h := int(d / time.Hour)
	if h < 48 {
		return h
	}
	if h >= maxBucket {
		return maxBucket
	}
	return h / 24 * 24
}

// width is the span of the bucket starting at b, in hours.
func width(b int) int {
	switch {
	case b < 48:
		return 1
	case b >= maxBucket:
		return 0
	}
	return 24
}

// Add adds o's decisions to h.
func (h Histogram) Add(o Histogram) {
	for b, n := range o {
		h[b] += n
	}
}

// Total is the number of decisions.
func (h Histogram) Total() int64 {
	var n int64
	for _, v := range h {
		n += v
	}
	return n
}

// Percentile is the time within which the fraction p of decisions were
// made (nearest rank), as the upper bound of the bucket that holds that
// rank: "90% were decided within 5 days". ok is false with no decisions.
func (h Histogram) Percentile(p float64) (hours int, ok bool) {
	total := h.Total()
	if total == 0 {
		return 0, false
	}
	rank := int64(math.Ceil(p * float64(total)))
	if rank < 1 {
		rank = 1
	}
	buckets := make([]int, 0, len(h))
	for b := range h {
		buckets = append(buckets, b)
	}
	slices.Sort(buckets)
	var seen int64
	for _, b := range buckets {
		seen += h[b]
		if seen >= rank {
			return b + width(b), true
		}
	}
	last := buckets[len(buckets)-1]
	return last + width(last), true
}
