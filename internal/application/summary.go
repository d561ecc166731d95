package application

import (
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/i18n"
)

// AnswerSection is one form page of a summary of answers: check your
// answers, the citizen's case page and the staff case page all show
// answers through Summarize, so they agree on order and on how a date, a
// choice or an address reads.
type AnswerSection struct {
	PageID string
	Title  string // in the reader's language
	Rows   []AnswerRow
}

// AnswerRow is one question and its answer, ready to show.
type AnswerRow struct {
	Name      string // the property
	Label     string // the question, in the reader's language
	Widget    string // how it was asked (date, radios, file, …)
	Lines     []string
	Answered  bool
	Value     any    // the stored answer (callers link attachments from it)
	ChangeURL string // "" when the summary has no change links
}

// SummaryOptions say which pages to show and how to change an answer.
type SummaryOptions struct {
	// Pages are the page ids to show, in order; nil shows every page of
	// the manifest that has answers, in the manifest's order.
	Pages []string
	// ChangeURL returns the link that changes one answer (nil: none).
	ChangeURL func(pageID string, row AnswerRow) string
}

// Summarize turns stored answers into what a person reads: the pages in
// the order the form asked them, and within a page the questions in the
// order the manifest wrote them (manifest.Runtime.Fields), each with its
// label and its answer written for the reader's language by f: dates as
// "March 27, 2021" / "27 de marzo de 2021", choices by their labels,
// yes and no translated, addresses line by line. Answers the manifest has
// no question for (a field since removed) follow, by name. A question not
// answered reads "Not answered".
func Summarize(rt *manifest.Runtime, stored map[string]map[string]any, f i18n.Formatter, opt SummaryOptions) []AnswerSection {
	pages := opt.Pages
	if pages == nil {
		for _, mp := range rt.Manifest.Pages {
			if _, ok := stored[mp.ID]; ok {
				pages = append(pages, mp.ID)
			}
		}
	}
	var out []AnswerSection
	for _, id := range pages {
		i := slices.IndexFunc(rt.Manifest.Pages, func(mp manifest.Page) bool { return mp.ID == id })
		if i < 0 {
			continue // a page the manifest no longer has cannot be labelled
		}
		mp := rt.Manifest.Pages[i]
		got := stored[id]
		order := rt.Fields(id)
		var rest []string
		for k := range got {
			if !slices.Contains(order, k) {
				rest = append(rest, k)
			}
		}
		sort.Strings(rest)
		fields, err := describeFields(mp, append(slices.Clip(order), rest...))
		if err != nil {
			continue // the manifest was validated when published
		}
		sec := AnswerSection{PageID: id, Title: textIn(mp.Title, f.Lang())}
		for _, fd := range fields {
			v, answered := got[fd.Name]
			row := AnswerRow{Name: fd.Name, Label: textIn(fd.Label, f.Lang()), Widget: fd.Widget, Value: v, Answered: answered && v != nil}
			label, labelled := got[fd.LabelField].(string)
			switch {
			case row.Answered && fd.Dynamic && labelled:
				// A plug-in's choice reads as the person chose it, not
				// by the plug-in's id for it.
				row.Lines = []string{ChoiceLabel(label, f)}
			case row.Answered:
				row.Lines = AnswerLines(fd, v, f)
			default:
				row.Lines = []string{f.T("answer.none")}
			}
			if opt.ChangeURL != nil {
				row.ChangeURL = opt.ChangeURL(id, row)
			}
			sec.Rows = append(sec.Rows, row)
		}
		out = append(out, sec)
	}
	return out
}

// textIn picks a manifest text in lang (English when it has no Spanish).
func textIn(t manifest.Text, lang i18n.Lang) string {
	if lang == i18n.Spanish && t.ES != "" {
		return t.ES
	}
	return t.EN
}

// AnswerLines writes one answer for a reader. Files are written by their
// stored value; pages that can name and link them replace the line.
func AnswerLines(fd *Field, v any, f i18n.Formatter) []string {
	switch x := v.(type) {
	case nil:
		return []string{f.T("answer.none")}
	case bool:
		return []string{yesNo(x, f)}
	}
	switch fd.Widget {
	case "date":
		if s, ok := v.(string); ok {
			// A date answer is a calendar day, not an instant: no zone.
			return []string{f.DateAnswer(s)}
		}
	case "radios", "select":
		return []string{OptionLabel(fd, scalarText(v), f)}
	case "checkboxes":
		if list, ok := v.([]any); ok {
			var out []string
			for _, e := range list {
				out = append(out, OptionLabel(fd, scalarText(e), f))
			}
			return []string{strings.Join(out, ", ")}
		}
	case "address":
		if m, ok := v.(map[string]any); ok {
			parts := fd.Parts
			if len(parts) == 0 {
				parts = addressOrder
			}
			var extra []string // parts the schema does not name, last, by name
			for k := range m {
				if !slices.Contains(parts, k) {
					extra = append(extra, k)
				}
			}
			sort.Strings(extra)
			parts = append(slices.Clip(parts), extra...)
			var out []string
			for _, part := range parts {
				if s := scalarText(m[part]); s != "" {
					out = append(out, s)
				}
			}
			return out
		}
	case "textarea":
		return strings.Split(scalarText(v), "\n")
	}
	switch x := v.(type) {
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, strings.Join(AnswerLines(&Field{Widget: "text"}, e, f), " "))
		}
		return []string{strings.Join(out, ", ")}
	case map[string]any:
		return AnswerLines(&Field{Widget: "address"}, x, f)
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			return []string{strconv.FormatInt(int64(x), 10)}
		}
	}
	return []string{scalarText(v)}
}

// OptionLabel is the manifest's label of a choice in f's language, or
// the value tidied: "home_based" reads "Home based"; yes and no are
// translated ("Yes"/"Sí").
func OptionLabel(fd *Field, v string, f i18n.Formatter) string {
	if l, ok := fd.OptionLabels[v]; ok {
		return textIn(l, f.Lang())
	}
	switch v {
	case "yes", "true":
		return f.T("answer.yes")
	case "no", "false":
		return f.T("answer.no")
	}
	r := []rune(strings.ReplaceAll(v, "_", " "))
	if len(r) == 0 {
		return ""
	}
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}

func yesNo(b bool, f i18n.Formatter) string {
	if b {
		return f.T("answer.yes")
	}
	return f.T("answer.no")
}
