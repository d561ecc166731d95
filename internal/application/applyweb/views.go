package applyweb

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/portico-gov/portico/internal/application"
	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/i18n"
	"github.com/portico-gov/portico/internal/web"
)

// text picks the person's language from a manifest text.
func text(p *web.Page, t manifest.Text) string {
	if p.Lang == i18n.Spanish && t.ES != "" {
		return t.ES
	}
	return t.EN
}

// optionLabel is the manifest's label of a choice in the page's language,
// or the value tidied ("home_based" reads "Home based"; yes and no are
// translated), as every summary of answers shows it.
func optionLabel(p *web.Page, fd *application.Field, v string) string {
	return application.OptionLabel(fd, v, p.Format())
}

// problemText translates a problem into the page's language.
func problemText(p *web.Page, pr application.Problem) string {
	if pr.Message != nil {
		return text(p, *pr.Message)
	}
	label := text(p, pr.Label)
	if pr.Part != "" && !strings.HasPrefix(pr.Key, "date.") { // a date's message names its box
		label += " – " + partLabel(p, pr.Part)
	}
	if pr.Arg != "" {
		return p.T(pr.Key, label, pr.Arg)
	}
	return p.T(pr.Key, label)
}

func partLabel(p *web.Page, part string) string {
	switch part {
	case "line1", "line2", "street", "city", "state", "zip":
		return p.T("apply.address." + part)
	}
	return application.OptionLabel(&application.Field{}, part, p.Format())
}

// pageView is a form page.
type pageView struct {
	App       *application.Application
	Title     string
	Fields    []fieldView
	Action    string
	Multipart bool
	Return    string
	Prefilled bool
	Back      string
	// Alert is a warning about the page's plug-in (down, or nothing
	// found); Note an information (filled from another system, or
	// consent declined).
	Alert, Note string
}

// fieldView is everything the template needs to draw one field.
type fieldView struct {
	Widget, Name, ID, Label, Hint, Error string
	Value                                string
	InputType, InputMode, Autocomplete   string
	Options                              []optionView
	Date                                 web.DateField
	Parts                                []partView
	File                                 *application.Attachment
	FileURL                              string
	Accept, Limit                        string
}

type optionView struct {
	ID, Value, Label string
	Checked          bool
}

type partView struct {
	ID, Name, Label, Value, Error, Autocomplete string
}

func (h *Handlers) renderPage(w http.ResponseWriter, r *http.Request, status int, a application.Applicant, app *application.Application, f *application.Form, page *application.Page, typed url.Values, probs []application.Problem, prefilled bool) {
	h.renderPageNotes(w, r, status, a, app, f, page, typed, probs, prefilled, pageNotes{})
}

// unavailableText is the message of a plug-in that is down, naming its
// providing agency (the service's when it has none).
func (h *Handlers) unavailableText(r *http.Request, p *web.Page, f *application.Form, un *application.Unavailable) string {
	agency := un.Agency
	if agency == "" {
		agency = f.AgencyID
	}
	return p.T(un.Key, text(p, h.svc.AgencyName(r.Context(), agency)))
}

func (h *Handlers) renderPageNotes(w http.ResponseWriter, r *http.Request, status int, a application.Applicant, app *application.Application, f *application.Form, page *application.Page, typed url.Values, probs []application.Problem, prefilled bool, notes pageNotes) {
	p := h.web.Renderer().NewPage(r, nil)
	errs := map[string]string{}
	dateErrs := map[string]application.Problem{} // by property: a date's boxes share one message
	for _, pr := range probs {
		msg := problemText(p, pr)
		if fd := fieldNamed(page, pr.Name); fd != nil && fd.Widget == "date" {
			// The summary links to the box the problem is about, or to
			// the first box in the page's language.
			pr.Field = p.FirstDateInput(fd.ID(), pr.Part)
			dateErrs[pr.Name] = pr
		}
		errs[pr.Field] = msg
		p.Errors = append(p.Errors, web.FieldError{Field: pr.Field, Message: msg})
	}
	files, err := h.svc.Attachments(r.Context(), app.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if notes.Choices == nil {
		ch, err := h.svc.PluginChoices(r.Context(), a, app, f, page, r.URL.Query().Get("consent") == "declined")
		if err != nil {
			h.fail(w, r, err)
			return
		}
		notes.Choices = &ch
	}
	noChoices := false
	switch notes.Choices.Outcome {
	case application.PrefillUnavailable:
		if notes.Unavailable == nil {
			notes.Unavailable = notes.Choices.Unavailable
		}
	case application.PrefillNotFound, application.PrefillDeclined, application.PrefillConsent:
		noChoices = true
	}
	v := pageView{App: app, Title: text(p, page.Title), Action: pageURL(app.ID, page.ID), Prefilled: prefilled && !notes.Plugin}
	switch {
	case noChoices && notes.Unavailable == nil:
		v.Alert = p.T("apply.choices.none")
		if m := f.ChoicesMessage(page.ID); m != nil {
			v.Alert = text(p, *m)
		}
	case notes.PrefillDown && notes.Choices.Outcome != application.PrefillUnavailable && notes.Unavailable.Key == application.UnavailableKey:
		// Only the prefill is down: the page works without it, so say
		// what the person can do now rather than only "later".
		agency := notes.Unavailable.Agency
		if agency == "" {
			agency = f.AgencyID
		}
		v.Alert = p.T("apply.plugin.unavailable", text(p, h.svc.AgencyName(r.Context(), agency)))
	case notes.Unavailable != nil:
		v.Alert = h.unavailableText(r, p, f, notes.Unavailable)
	case notes.NotFound:
		v.Alert = p.T("apply.plugin.notfound", text(p, h.svc.AgencyName(r.Context(), f.AgencyID)))
		if m := f.PrefillMessage(page.ID); m != nil {
			v.Alert = text(p, *m)
		}
	case notes.Declined:
		v.Note = p.T("apply.plugin.declined")
	case notes.Plugin:
		v.Note = p.T("apply.plugin.prefilled", text(p, h.svc.AgencyName(r.Context(), f.AgencyID)))
	}
	if r.URL.Query().Get("return") == "check" || typed.Get("return") == "check" {
		v.Return = "check"
	}
	now := h.svc.Now()
	vis := f.Visible(app.Answers, a.Person(now), now)
	for i, vp := range vis {
		if vp.ID == page.ID && i > 0 {
			v.Back = pageURL(app.ID, vis[i-1].ID)
		}
	}
	for _, fd := range page.Fields {
		fv := fieldView{Widget: fd.Widget, Name: fd.Name, ID: fd.ID(), Label: text(p, fd.Label), Value: typed.Get(fd.Name), InputType: "text"}
		if fd.Hint != nil {
			fv.Hint = text(p, *fd.Hint)
		}
		fv.Error = errs[fd.FirstInputID()]
		switch fd.Widget {
		case "email", "tel":
			fv.InputType = fd.Widget
		case "number":
			fv.InputMode = "decimal"
			if fd.Type == "integer" {
				fv.InputMode = "numeric"
			}
		case "radios", "checkboxes", "select":
			if fd.Dynamic {
				if len(notes.Choices.Choices) == 0 {
					continue // nothing to choose from: the alert says why
				}
				for i, c := range notes.Choices.Choices {
					fv.Options = append(fv.Options, optionView{ID: fv.ID + "-" + strconv.Itoa(i), Value: c.Value,
						Label: application.ChoiceLabel(c.Label, p.Format()), Checked: typed.Get(fd.Name) == c.Value})
				}
				break
			}
			if fd.Widget == "checkboxes" && fd.Type == "boolean" {
				fv.Options = []optionView{{ID: fv.ID + "-0", Value: "true", Label: fv.Label, Checked: typed.Get(fd.Name) == "true"}}
				break
			}
			for i, o := range fd.Options {
				checked := false
				for _, t := range typed[fd.Name] {
					checked = checked || t == o
				}
				fv.Options = append(fv.Options, optionView{ID: fv.ID + "-" + strconv.Itoa(i), Value: o, Label: optionLabel(p, fd, o), Checked: checked})
			}
		case "date":
			hint := ""
			if fd.Hint != nil {
				hint = text(p, *fd.Hint)
			}
			pr, bad := dateErrs[fd.Name]
			msg := ""
			if bad {
				msg = errs[pr.Field]
			}
			fv.Date = p.DateField(fd.ID(), fd.Name, label(p, fd), hint, web.DateInputFrom(typed, fd.Name), msg, pr.Part, fd.Prefill == "profile.date_of_birth")
		case "address":
			for _, part := range fd.Parts {
				id := application.InputID(fd.Name + "-" + part)
				pv := partView{ID: id, Name: fd.Name + "-" + part, Label: partLabel(p, part), Value: typed.Get(fd.Name + "-" + part), Error: errs[id]}
				if fd.Prefill == "profile.residential_address" {
					pv.Autocomplete = addressAutocomplete[part]
				}
				fv.Parts = append(fv.Parts, pv)
			}
		case "file":
			v.Multipart = true
			if at, ok := files[typed.Get(fd.Name)]; ok && at.Page == page.ID && at.Field == fd.Name {
				fv.File = &at
				fv.FileURL = appURL(app.ID, "files", at.ID)
			}
			fv.Accept = strings.Join(fd.Accept, ",")
			fv.Limit = p.T("apply.file.limits", acceptNames(fd.Accept), sizeName(fd.MaxBytes))
		}
		fv.Autocomplete = autocomplete[fd.Prefill]
		fv.Label = label(p, fd)
		v.Fields = append(v.Fields, fv)
	}
	p.Data = v
	h.web.Page(w, r, status, "apply_page", p)
}

// fieldNamed is the field of page for property name, or nil.
func fieldNamed(page *application.Page, name string) *application.Field {
	for _, fd := range page.Fields {
		if fd.Name == name {
			return fd
		}
	}
	return nil
}

// autocomplete tokens for prefilled fields, so browsers can help too.
var autocomplete = map[string]string{
	"profile.legal_name": "name", "profile.email": "email", "profile.phone": "tel", "profile.date_of_birth": "bday",
}

var addressAutocomplete = map[string]string{
	"line1": "address-line1", "street": "address-line1", "line2": "address-line2", "city": "address-level2", "state": "address-level1", "zip": "postal-code",
}

func acceptNames(types []string) string {
	names := map[string]string{"application/pdf": "PDF", "image/jpeg": "JPG", "image/png": "PNG"}
	var out []string
	for _, t := range types {
		out = append(out, names[t])
	}
	return strings.Join(out, ", ")
}

func sizeName(n int64) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MB", n>>20)
	}
	return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
}

// checkView is the check-your-answers page.
type checkView struct {
	App      *application.Application
	Sections []section
	Missing  string // URL of the first page still to answer; "" when complete
	Fee      string
	Changed  bool
	// Alert: a plug-in the submission needs (a check, the fee) is down.
	Alert string
	// The words of the service's kind: the heading, the sending section's
	// heading, the declaration ("" when none is asked) and the button.
	Title, SendTitle, Declaration, Button string
}

// kindWords fills in the check page's words for the service's kind and
// its declaration: "Accept and send" under a declaration, otherwise the
// kind's own ("Send report").
func kindWords(p *web.Page, m *manifest.Manifest, v *checkView) {
	v.Title, v.SendTitle = p.T(m.Kind.Key("check.title")), p.T(m.Kind.Key("check.send.title"))
	v.Button = p.T(m.Kind.Key("check.send"))
	if m.AsksDeclaration() {
		v.Declaration = p.T(m.Kind.Key("check.declaration"))
		if m.Declaration != nil && m.Declaration.Text != nil {
			v.Declaration = text(p, *m.Declaration.Text)
		}
		v.Button = p.T("apply.check.submit")
	}
}

// label is a field's label as the form page shows it: the manifest's,
// with "(optional)" added to a question that need not be answered
// (unless the label says so already).
func label(p *web.Page, fd *application.Field) string {
	l := text(p, fd.Label)
	if fd.Required || manifest.SaysOptional(l) {
		return l
	}
	return p.T("apply.optional", l)
}

type section struct {
	Title string
	Rows  []row
}

type row struct {
	Label     string
	Lines     []string
	FileURL   string
	ChangeURL string
}

func (h *Handlers) renderCheck(w http.ResponseWriter, r *http.Request, status int, app *application.Application, f *application.Form, a application.Applicant, changed bool) {
	p := h.web.Renderer().NewPage(r, nil)
	files, err := h.svc.Attachments(r.Context(), app.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	now := h.svc.Now()
	person := a.Person(now)
	v := checkView{App: app, Changed: changed}
	kindWords(p, f.Manifest, &v)
	shown := map[string]map[string]any{}
	pages := []string{}
	for _, pg := range f.Visible(app.Answers, person, now) {
		ans, ok := app.Answers[pg.ID]
		if !ok {
			if v.Missing == "" {
				v.Missing = pageURL(app.ID, pg.ID)
			}
			continue
		}
		shown[pg.ID] = ans
		pages = append(pages, pg.ID)
	}
	change := func(pageID string, rw application.AnswerRow) string {
		return pageURL(app.ID, pageID) + "?return=check#" + firstInput(p, f.Page(pageID), rw.Name)
	}
	for _, sec := range application.Summarize(f.Runtime(), shown, p.Format(), application.SummaryOptions{Pages: pages, ChangeURL: change}) {
		out := section{Title: sec.Title}
		for _, ar := range sec.Rows {
			rw := row{Label: ar.Label, Lines: ar.Lines, ChangeURL: ar.ChangeURL}
			if ar.Widget == "file" {
				if id, ok := ar.Value.(string); ok {
					if at, ok := files[id]; ok {
						rw.Lines = []string{at.Filename}
						rw.FileURL = appURL(app.ID, "files", id)
					}
				}
			}
			out.Rows = append(out.Rows, rw)
		}
		v.Sections = append(v.Sections, out)
	}
	if v.Missing == "" {
		fee, ok, err := h.svc.Fee(r.Context(), a, app, f, shown)
		var un *application.Unavailable
		switch {
		case errors.As(err, &un):
			// The fee comes from a plug-in that is down: the page says so,
			// and sending waits (Submit works the fee out again).
			v.Alert = h.unavailableText(r, p, f, un)
		case err == nil && ok:
			v.Fee = p.Money(fee.Amount, fee.Currency)
		}
	}
	if status == http.StatusServiceUnavailable && v.Alert == "" {
		v.Alert = h.unavailableText(r, p, f, &application.Unavailable{Key: application.UnavailableKey})
	}
	p.Data = v
	h.web.Page(w, r, status, "apply_check", p)
}

// firstInput is the id of the first input of field name on page, where
// "Change" and the error summary land: for a date, the first of its boxes
// in the page's language (month in English, day in Spanish).
func firstInput(p *web.Page, page *application.Page, name string) string {
	if page != nil {
		for _, fd := range page.Fields {
			if fd.Name == name {
				if fd.Widget == "date" {
					return p.FirstDateInput(fd.ID(), "")
				}
				return fd.FirstInputID()
			}
		}
	}
	return application.InputID(name)
}
