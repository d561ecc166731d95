package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"

	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/reminder"
)

// ScopeObligationsWrite is the scope an agency system's client is
// registered with (`portico oidc client add --grant client_credentials
// --scope obligations.write --agency A`) and asks for, to load amounts
// its agency's people owe.
const ScopeObligationsWrite = "obligations.write"

// MaxObligationsPerRequest bounds one POST /api/v1/obligations; larger
// loads go in several requests or through `portico obligations import`.
const MaxObligationsPerRequest = 1000

// ObligationRowResult is what became of one element of the request.
type ObligationRowResult struct {
	// Index is the element's position in the request array, from 0.
	Index int `json:"index" jsonschema:"minimum=0"`
	// Status is created, updated, unchanged or rejected.
	Status       string `json:"status" jsonschema:"enum=created,enum=updated,enum=unchanged,enum=rejected"`
	ObligationID string `json:"obligation_id,omitempty"`
	// Field is the field a rejected element got wrong ("" for the
	// element as a whole); Reason says what.
	Field  string `json:"field,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// ObligationsResult answers POST /api/v1/obligations: the counts and one
// result per element, in order.
type ObligationsResult struct {
	Agency    string                `json:"agency"`
	Created   int                   `json:"created"`
	Updated   int                   `json:"updated"`
	Unchanged int                   `json:"unchanged"`
	Rejected  int                   `json:"rejected"`
	Results   []ObligationRowResult `json:"results"`
}

// ObligationImporter is what the operation needs of the reminder block's
// importer, which decides which agency the client may load for and
// audits the load.
type ObligationImporter interface {
	ForClient(ctx context.Context, actor platform.Actor, src reminder.RowSource, opt reminder.ImportOptions) (reminder.ImportSummary, error)
}

// Obligations serves POST /api/v1/obligations.
type Obligations struct {
	Importer ObligationImporter
}

// Register adds the operation to a.
func (h *Obligations) Register(a *API) {
	a.Handle(Op{
		Method: http.MethodPost, Path: "/api/v1/obligations", ID: "loadObligations", Tag: "obligations", Auth: AgencySystem, Scope: ScopeObligationsWrite,
		Summary: "Load amounts the caller's agency's people owe (property-tax instalments, fees)",
		Description: "The body is a JSON array of at most 1000 objects with the columns of `portico obligations import`: " +
			"`person` (sign-in email or account id), `kind`, `title_en`, `title_es`, `amount` (\"612.50\"), `currency` (default USD), " +
			"`due` (MM/DD/YYYY or YYYY-MM-DD) and `reference`. Each element is an obligation of the caller's agency keyed by reference " +
			"and due date: sending it again changes nothing. Bad elements are rejected one by one, with the field and reason; the good " +
			"ones are loaded. A body that is not such an array is a 400 problem. The load is audited once.",
		Response: ObligationsResult{},
	}, h.load)
}

func (h *Obligations) load(r *http.Request, _ Principal) (any, error) {
	rows, err := DecodeObligations(r.Body)
	if err != nil {
		return nil, err
	}
	ctx := r.Context()
	out := ObligationsResult{Results: make([]ObligationRowResult, 0, len(rows))}
	sum, err := h.Importer.ForClient(ctx, platform.ActorFrom(ctx), &reminder.Lines{Rows: rows}, reminder.ImportOptions{Name: "api",
		OnRow: func(res reminder.RowResult) error {
			rr := ObligationRowResult{Index: res.Line, Status: res.Status, ObligationID: res.ObligationID}
			if res.Error != nil {
				rr.Field, rr.Reason = res.Error.Field, res.Error.Reason
			}
			out.Results = append(out.Results, rr)
			return nil
		}})
	if err != nil {
		return nil, err
	}
	// Rejections are known before the good rows' batch commits: answer in
	// the request's order.
	slices.SortFunc(out.Results, func(a, b ObligationRowResult) int { return a.Index - b.Index })
	out.Agency, out.Created, out.Updated, out.Unchanged, out.Rejected = sum.Agency, sum.Created, sum.Updated, sum.Unchanged, sum.Rejected
	return out, nil
}

// DecodeObligations reads the body of POST /api/v1/obligations: one JSON
// array of 1 to MaxObligationsPerRequest objects with only the known
// fields, each a string. Anything else is an invalid-input error saying
// what is wrong (the element's index for a bad element).
func DecodeObligations(body io.Reader) ([]reminder.ImportRow, error) {
	raw, err := io.ReadAll(body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, platform.Invalid("body", "the request body could not be read")
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil || elems == nil {
		return nil, platform.Invalid("body", "send a JSON array of obligations: [{\"person\": …, \"kind\": …, \"amount\": \"612.50\", \"due\": \"03/31/2027\", \"reference\": …}]")
	}
	if len(elems) == 0 || len(elems) > MaxObligationsPerRequest {
		return nil, platform.Invalid("body", fmt.Sprintf("send from 1 to %d obligations per request; this one has %d", MaxObligationsPerRequest, len(elems)))
	}
	rows := make([]reminder.ImportRow, len(elems))
	for i, e := range elems {
		dec := json.NewDecoder(bytes.NewReader(e))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rows[i]); err != nil || bytes.TrimSpace(e)[0] != '{' {
			msg := "must be an object whose fields are strings"
			if err != nil {
				msg += ": " + clip(err.Error())
			}
			return nil, platform.Invalid(fmt.Sprintf("[%d]", i), fmt.Sprintf("element %d %s", i, msg))
		}
	}
	return rows, nil
}
