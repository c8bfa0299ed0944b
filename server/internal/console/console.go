// Package console serves Baton's web console: the files `make console`
// builds from console/ into assets/ (committed, like gen/), embedded in the
// binary. The page at "/" is the app; its script and style are under
// /console/ with content-hashed names, so they are cached for good while
// the page itself is revalidated. The console calls the public API on the
// same origin, like any partner's client: it has no endpoint of its own.
package console

import (
	"bytes"
	"compress/gzip"
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
)

//go:embed assets
var assets embed.FS

type file struct {
	body, gz    []byte
	contentType string
}

// Handler serves "/" (the app) and "/console/<file>".
type Handler struct {
	files map[string]file
}

// New reads the embedded assets once and compresses them.
func New() *Handler {
	h := &Handler{files: map[string]file{}}
	_ = fs.WalkDir(assets, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := assets.ReadFile(p)
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression) //nolint:errcheck // the only error is an invalid level, and BestCompression is valid
		_, _ = zw.Write(body)
		_ = zw.Close()
		ct := "application/octet-stream"
		switch path.Ext(p) {
		case ".html":
			ct = "text/html; charset=utf-8"
		case ".js":
			ct = "text/javascript; charset=utf-8"
		case ".css":
			ct = "text/css; charset=utf-8"
		}
		h.files[strings.TrimPrefix(p, "assets/")] = file{body: body, gz: buf.Bytes(), contentType: ct}
		return nil
	})
	return h
}

// securityHeaders: everything from this origin, nothing inline, no framing.
func securityHeaders(w http.ResponseWriter) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := "index.html"
	if r.URL.Path != "/" {
		name = strings.TrimPrefix(r.URL.Path, "/console/")
		if name == "index.html" || strings.Contains(name, "/") {
			http.NotFound(w, r)
			return
		}
	}
	f, ok := h.files[name]
	if !ok {
		http.Error(w, "404 page not found: no such console file (the console was rebuilt; reload the page)", http.StatusNotFound)
		return
	}
	securityHeaders(w)
	w.Header().Set("Content-Type", f.contentType)
	w.Header().Set("Vary", "Accept-Encoding")
	if name == "index.html" {
		w.Header().Set("Cache-Control", "no-cache")
	} else {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	}
	body := f.body
	if acceptsGzip(r) {
		w.Header().Set("Content-Encoding", "gzip")
		body = f.gz
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(body)
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.TrimSpace(q) != "q=0" {
			return true
		}
	}
	return false
}
