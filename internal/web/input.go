package web

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/portico-gov/portico/internal/i18n"
	"github.com/portico-gov/portico/internal/platform"
)

// Text inputs.
//
// Every piece of text a client sends ends up compared with or stored in a
// database column. PostgreSQL refuses bytes that are not UTF-8 and the NUL
// character in text (an error that would otherwise surface as a 500), and
// SQLite stores whatever it is given, so a name of raw bytes would be kept
// and shown back broken. No person types either, so the shell refuses them
// once, before any handler runs (checkInput), instead of every handler
// remembering to.

// ValidText reports whether s is text Portico accepts from a client: valid
// UTF-8 without NUL characters.
func ValidText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// errInvalidText is the client's mistake behind every refusal of checkInput.
func errInvalidText(field string) error {
	if !ValidText(field) {
		field = ""
	}
	return platform.Invalid(field, "The request contains text that is not valid UTF-8, or a NUL character.")
}

// CheckValues returns an invalid-input error when a name or a value in vs is
// not ValidText.
func CheckValues(vs url.Values) error {
	for name, values := range vs {
		if !ValidText(name) {
			return errInvalidText("")
		}
		for _, v := range values {
			if !ValidText(v) {
				return errInvalidText(name)
			}
		}
	}
	return nil
}

// CheckMultipart returns an invalid-input error when a field name or value,
// or the name of an uploaded file, in f is not ValidText. Handlers that
// parse multipart bodies themselves (routes given a raised limit with
// AllowBody) must call it before using the form.
func CheckMultipart(f *multipart.Form) error {
	if f == nil {
		return nil
	}
	if err := CheckValues(url.Values(f.Value)); err != nil {
		return err
	}
	for name, files := range f.File {
		if !ValidText(name) {
			return errInvalidText("")
		}
		for _, fh := range files {
			if !ValidText(fh.Filename) {
				return errInvalidText(name)
			}
		}
	}
	return nil
}

// multipartMemory is how much of a multipart form the shell keeps in memory
// while checking it; larger parts go to temporary files, as they would in
// the handler.
const multipartMemory = 1 << 20

// checkInput refuses with 400 (a page or a problem, as for any client
// error) a request whose path, query (names and values), or form body
// (urlencoded or multipart, names, values and file names) is not
// ValidText. Urlencoded bodies (within the default body limit: they carry
// no files) and JSON bodies are read, checked and handed on unread; JSON is
// checked for invalid UTF-8 and for escaped NULs (`\u0000`), which a
// decoder would turn into a NUL. Multipart bodies are parsed here, within
// the route's body limit, so handlers read the checked r.MultipartForm,
// except under an AllowBody prefix: those handlers parse their uploads
// themselves, under their own tighter limits, and call CheckMultipart.
func (s *Server) checkInput(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !ValidText(r.URL.Path) {
			s.refuseInput(w, r, errInvalidText(""))
			return
		}
		// The values handlers would see: url.ParseQuery keeps the pairs it
		// could parse, as r.URL.Query does.
		query, _ := url.ParseQuery(r.URL.RawQuery)
		if err := CheckValues(query); err != nil {
			s.refuseInput(w, r, err)
			return
		}
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		switch {
		case ct == "application/x-www-form-urlencoded" && hasFormBody(r.Method):
			// Checked on a copy, and handed on unread: a handler keeps
			// its own answer to a malformed body (OAuth's JSON error,
			// a form error), as it keeps it to a malformed query.
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
			if err != nil {
				s.refuseInput(w, r, formError(err))
				return
			}
			form, _ := url.ParseQuery(string(body))
			if err := CheckValues(form); err != nil {
				s.refuseInput(w, r, err)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		case ct == "multipart/form-data" && hasFormBody(r.Method) && !s.ownsUploads(r.URL.Path):
			if err := r.ParseMultipartForm(multipartMemory); err != nil {
				s.refuseInput(w, r, formError(err))
				return
			}
			// The server removes the temporary files only of the request
			// it created, not of this copy.
			defer r.MultipartForm.RemoveAll()
			if err := CheckMultipart(r.MultipartForm); err != nil {
				s.refuseInput(w, r, err)
				return
			}
		case ct == "application/json" || strings.HasSuffix(ct, "+json"):
			body, err := io.ReadAll(r.Body)
			if err != nil {
				s.refuseInput(w, r, formError(err))
				return
			}
			if !utf8.Valid(body) || hasEscapedNUL(body) {
				s.refuseInput(w, r, errInvalidText(""))
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		next.ServeHTTP(w, r)
	})
}

func hasFormBody(method string) bool {
	return method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch
}

// ownsUploads reports whether path is under an AllowBody prefix, whose
// handler parses multipart bodies itself.
func (s *Server) ownsUploads(path string) bool {
	for prefix := range s.bodyLimits {
		if strings.HasPrefix(path, prefix) {
			return true
		}
	}
	return false
}

// formError classifies a failure to read a form body: too large, or
// malformed (the client's mistake either way).
func formError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return err
	}
	return &platform.Error{Code: platform.CodeInvalid, Message: "The request body could not be read as a form.", Err: err}
}

// hasEscapedNUL reports whether a JSON text contains the escape \u0000
// (preceded by an odd number of backslashes, so "\\u0000", an escaped
// backslash followed by "u0000", does not count).
func hasEscapedNUL(body []byte) bool {
	for i := 0; ; {
		j := bytes.Index(body[i:], []byte(`u0000`))
		if j < 0 {
			return false
		}
		j += i
		n := 0
		for k := j - 1; k >= 0 && body[k] == '\\'; k-- {
			n++
		}
		if n%2 == 1 {
			return true
		}
		i = j + 1
	}
}

// refuseInput answers a request the shell will not pass on: a problem for
// the API, the accessible error page otherwise.
func (s *Server) refuseInput(w http.ResponseWriter, r *http.Request, err error) {
	if IsAPI(r) {
		WriteProblem(w, r, s.logger, err)
		return
	}
	if Status(err) != http.StatusBadRequest {
		s.ErrorPage(w, r, Status(err))
		return
	}
	// The page says what was wrong with the text (ErrorPage's generic
	// page is for failures on our side).
	if rerr := s.renderer.Render(w, http.StatusBadRequest, "badrequest", s.renderer.NewPage(r, nil)); rerr != nil {
		s.logger.ErrorContext(r.Context(), "error page failed", "err", rerr)
		http.Error(w, http.StatusText(http.StatusBadRequest), http.StatusBadRequest)
	}
}

// DateField is a date asked with the USWDS memorable date pattern, for
// the "date_input" template in the layout: a fieldset whose legend is the
// question, one hint, one error for the group, and three numeric text
// boxes in the order of the page's language (month, day, year in English;
// día, mes, año in Spanish). The box a problem is about is highlighted;
// a problem with the whole date highlights all three.
type DateField struct {
	ID, Legend, Hint, Error string
	Parts                   []DatePart
}

// DatePart is one box of a DateField.
type DatePart struct {
	ID, Name, Label, Value, Autocomplete, Class string
	MaxLength                                   int
	Invalid                                     bool
}

// DateField describes a date question for the "date_input" template.
// id is the HTML id prefix (boxes are id-month, id-day, id-year), name the
// form name prefix (name-month, …); legend and hint are already
// translated (hint may be ""; the example of the pattern follows it).
// errMsg is the translated problem and errPart the box it is about ("" for
// the whole date). bday asks browsers to fill a date of birth.
func (p *Page) DateField(id, name, legend, hint string, typed i18n.DateInput, errMsg, errPart string, bday bool) DateField {
	example := p.T("date.input.hint")
	if hint != "" {
		hint += " " + example
	} else {
		hint = example
	}
	d := DateField{ID: id, Legend: legend, Hint: hint, Error: errMsg}
	for _, part := range p.format.DateParts() {
		dp := DatePart{ID: id + "-" + part, Name: name + "-" + part, Label: p.T("date.input." + part), MaxLength: 2,
			Class: "usa-form-group--" + part, Invalid: errMsg != "" && (errPart == "" || errPart == part)}
		switch part {
		case i18n.PartMonth:
			dp.Value = typed.Month
		case i18n.PartDay:
			dp.Value = typed.Day
		case i18n.PartYear:
			dp.Value, dp.MaxLength = typed.Year, 4
		}
		if bday {
			dp.Autocomplete = "bday-" + part
		}
		d.Parts = append(d.Parts, dp)
	}
	return d
}

// FirstDateInput is the id of the first box of a date asked on this page
// (where the error summary and "Change" links land), or of the box
// part when a problem is about one box.
func (p *Page) FirstDateInput(id, part string) string {
	if part != "" {
		return id + "-" + part
	}
	return id + "-" + p.format.DateParts()[0]
}

// DateInputFrom reads the three boxes of a date named name from a form.
func DateInputFrom(form url.Values, name string) i18n.DateInput {
	return i18n.DateInput{Month: form.Get(name + "-month"), Day: form.Get(name + "-day"), Year: form.Get(name + "-year")}
}
