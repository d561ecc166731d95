package caseweb

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/portico-gov/portico/internal/application"
	"github.com/portico-gov/portico/internal/platform"

	"github.com/portico-gov/portico/internal/casework"
	"github.com/portico-gov/portico/internal/identity/identityweb"
	"github.com/portico-gov/portico/internal/web"
)

// linkFiles names each attachment answer by its file and links it: staff
// to the console's download, the applicant to their own (applyweb's).
func (h *Handlers) linkFiles(ctx context.Context, p *web.Page, c casework.Case, staff bool, pages []answerPage) error {
	if h.files == nil {
		return nil
	}
	var files map[string]application.Attachment
	for i := range pages {
		for j := range pages[i].Fields {
			f := &pages[i].Fields[j]
			if !f.Attachment {
				continue
			}
			if files == nil {
				var err error
				if files, err = h.files.Attachments(ctx, c.ID); err != nil {
					return err
				}
			}
			id := f.RawID
			at, ok := files[id]
			if !ok {
				continue
			}
			f.Value = p.T("case.answers.file", at.Filename, formatBytes(at.Size))
			if staff {
				f.URL = "/console/cases/" + url.PathEscape(c.ID) + "/files/" + url.PathEscape(at.ID)
			} else {
				f.URL = "/apply/" + url.PathEscape(c.ID) + "/files/" + url.PathEscape(at.ID)
			}
		}
	}
	return nil
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MB"
	case n >= 1<<10:
		return strconv.FormatInt((n+1023)>>10, 10) + " KB"
	}
	return strconv.FormatInt(n, 10) + " B"
}

// staffFile serves an attachment of a case to staff of its agency, as a
// download (never rendered inline), and audits the read.
func (h *Handlers) staffFile(w http.ResponseWriter, r *http.Request) {
	_, a := identityweb.Current(r)
	c, _, ok := h.staffCaseFor(w, r, a, false)
	if !ok {
		return
	}
	if h.files == nil {
		h.web.ErrorPage(w, r, http.StatusNotFound)
		return
	}
	at, rc, err := h.files.Attachment(r.Context(), c.ID, r.PathValue("file"))
	if err != nil {
		h.web.Error(w, r, err)
		return
	}
	defer rc.Close()
	if err := h.cases.ViewFile(r.Context(), platform.ActorFrom(r.Context()), c, at.ID, at.Filename); err != nil {
		h.web.Error(w, r, err)
		return
	}
	web.Download(w, r, h.web.Logger(), at.Filename, at.ContentType, at.Size, rc)
}
