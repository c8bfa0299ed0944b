package gateway

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/batonhq/baton/server/internal/domain"
	"github.com/batonhq/baton/server/internal/service"
)

// tagJS is the first-party tag a shop puts on its landing and thank-you
// pages (see tag/t.js).
//
//go:embed tag/t.js
var tagJS []byte

// Tag serves GET /t.js, the first-party tag, and GET /t/c/{id}, which tells
// the tag until when a click ID on the landing URL can earn a sale.
type Tag struct {
	clicks *service.Clicks
	log    *slog.Logger
	gz     []byte
	etag   string
}

// NewTag returns the first-party tag's handlers.
func NewTag(clicks *service.Clicks, log *slog.Logger) *Tag {
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression) //nolint:errcheck // the level is a valid constant
	_, _ = zw.Write(tagJS)
	_ = zw.Close()
	sum := sha256.Sum256(tagJS)
	return &Tag{clicks: clicks, log: log, gz: b.Bytes(), etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
}

// Script serves /t.js: cacheable for an hour (a changed tag reaches shops
// within that), revalidated by its ETag, gzipped when the browser accepts it.
func (t *Tag) Script(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/javascript; charset=utf-8")
	h.Set("Cache-Control", "public, max-age=3600")
	h.Set("ETag", t.etag)
	h.Set("Vary", "Accept-Encoding")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cross-Origin-Resource-Policy", "cross-origin")
	if r.Header.Get("If-None-Match") == t.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := tagJS
	if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		h.Set("Content-Encoding", "gzip")
		body = t.gz
	}
	_, _ = w.Write(body)
}

// Click serves /t/c/{id}: {"expires_at": <ms>} for a click that can still
// earn a sale, {"expires_at": null} otherwise — a 200 either way, so a shop's
// page never shows a failed request in its console. Any site may ask (the
// shop's pages do), without credentials.
func (t *Tag) Click(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "application/json")
	end, err := t.clicks.WindowEnd(r.Context(), r.PathValue("id"))
	switch {
	case errors.Is(err, domain.ErrNotFound):
		_, _ = w.Write([]byte(`{"expires_at":null}` + "\n"))
		return
	case err != nil:
		t.log.WarnContext(r.Context(), "first-party tag: click lookup failed", "error", err)
		h.Set("Retry-After", "5")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"error":"temporarily unavailable"}`))
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]int64{"expires_at": end.UnixMilli()})
}
