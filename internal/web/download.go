package web

import (
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
)

// Download serves body as a file to save, never to render: the name as
// Content-Disposition: attachment (or no name when the header cannot carry
// it), the given type with nosniff, no caching, and a sandbox CSP in case
// a browser opens it anyway. Callers have authorised the request and
// checked contentType (sniffed from the content, not the name).
func Download(w http.ResponseWriter, r *http.Request, logger *slog.Logger, name, contentType string, size int64, body io.Reader) {
	hd := w.Header()
	hd.Set("Content-Type", contentType)
	disp := mime.FormatMediaType("attachment", map[string]string{"filename": name})
	if disp == "" {
		disp = "attachment"
	}
	hd.Set("Content-Disposition", disp)
	if size >= 0 {
		hd.Set("Content-Length", strconv.FormatInt(size, 10))
	}
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Cache-Control", "private, no-store")
	hd.Set("Content-Security-Policy", "sandbox")
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, body); err != nil && logger != nil {
		logger.WarnContext(r.Context(), "file download cut short", "err", err)
	}
}
