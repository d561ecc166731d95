package satisfactionweb

import (
	"net/http"
	"strconv"

	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/satisfaction"
)

// serviceLink is one service on the console's list.
type serviceLink struct{ ID, Title, Agency string }

func (h *handlers) services(w http.ResponseWriter, r *http.Request) {
	svcs, err := h.svc.Services(r.Context(), platform.ActorFrom(r.Context()))
	if err != nil {
		h.web.Error(w, r, err)
		return
	}
	p := h.web.Renderer().NewPage(r, nil)
	lang := string(p.Lang)
	links := []serviceLink{}
	for _, s := range svcs {
		links = append(links, serviceLink{ID: s.ID, Title: s.Title.In(lang), Agency: s.Agency.In(lang)})
	}
	p.Data = links
	h.web.Page(w, r, http.StatusOK, "satisfaction_services", p)
}

// commentView is one comment on the console's page.
type commentView struct {
	satisfaction.Response
	Score, After string // in words
}

// commentsView is the console's page of a service's comments.
type commentsView struct {
	ID, Title, Agency string
	Items             []commentView
	Older, Newer      string
}

func (h *handlers) comments(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	c := satisfaction.Cursor{Before: q.Get("before"), After: q.Get("after")}
	if c.Before != "" && c.After != "" {
		c.After = ""
	}
	page, err := h.svc.Comments(r.Context(), platform.ActorFrom(r.Context()), r.PathValue("service"), c)
	if err != nil {
		if platform.ErrorCode(err) == platform.CodeInvalid {
			err = platform.Errorf(platform.CodeNotFound, "No such page of comments.")
		}
		h.web.Error(w, r, err)
		return
	}
	p := h.web.Renderer().NewPage(r, nil)
	lang := string(p.Lang)
	v := commentsView{ID: page.Service.ID, Title: page.Service.Title.In(lang), Agency: page.Service.Agency.In(lang), Older: page.Older, Newer: page.Newer}
	for _, it := range page.Items {
		after := "satisfaction.after.banner"
		if it.After != satisfaction.AfterBanner {
			after = "satisfaction.after." + it.After
		}
		v.Items = append(v.Items, commentView{Response: it, Score: p.T("satisfaction.score." + strconv.Itoa(it.Score)), After: p.T(after)})
	}
	p.Data = v
	h.web.Page(w, r, http.StatusOK, "satisfaction_comments", p)
}
