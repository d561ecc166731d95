package catalogweb

import (
	"encoding/json"
	"sort"

	"github.com/portico-gov/portico/internal/catalog/manifest"
)

// facts is what a start page says about a service, derived from its
// manifest alone so the page can never promise what the form does not do.
type facts struct {
	Pages     int
	Questions int
	// Conditional is how many pages are shown only when earlier answers
	// call for them.
	Conditional int
	// Minutes is a rough allowance: a minute a question, two more for each
	// upload, at least five, rounded up to five.
	Minutes   int
	Documents []DocumentNeed
	Fee       FeeInfo
}

func deriveFacts(m *manifest.Manifest) facts {
	f := facts{Pages: len(m.Pages), Fee: FeeInfo{Kind: "none"}}
	files := 0
	for _, p := range m.Pages {
		var schema struct {
			Properties map[string]json.RawMessage `json:"properties"`
			Required   []string                   `json:"required"`
		}
		_ = json.Unmarshal(p.Schema, &schema) // validated on publish; a surprise only lowers the counts
		f.Questions += len(schema.Properties)
		if p.When != "" {
			f.Conditional++
		}
		required := map[string]bool{}
		for _, r := range schema.Required {
			required[r] = true
		}
		props := make([]string, 0, len(p.Fields))
		for name := range p.Fields {
			props = append(props, name)
		}
		sort.Strings(props) // fields is a map; keep the list stable
		for _, name := range props {
			fld := p.Fields[name]
			if fld.Widget != "file" {
				continue
			}
			files++
			f.Documents = append(f.Documents, DocumentNeed{Label: fld.Label, Conditional: p.When != "", Optional: !required[name]})
		}
	}
	f.Minutes = max(5, (f.Questions+2*files+4)/5*5)
	if m.Fee != nil {
		f.Fee.Currency = m.Fee.Currency
		if m.Fee.Amount != nil {
			f.Fee.Kind, f.Fee.Amount = "fixed", m.Fee.Amount
		} else {
			f.Fee.Kind = "variable"
		}
	}
	return f
}
