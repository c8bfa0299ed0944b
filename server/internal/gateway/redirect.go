// Package gateway serves Baton's plain-HTTP routes: the click redirect, and
// (in later issues) the FC2 image tag and server POST and inbound kickbacks.
// It turns query strings into service calls and service errors into HTTP
// answers a browser or a legacy shop understands; it never touches storage.
package gateway

import (
	"context"
	"errors"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/batonhq/baton/server/internal/domain"
	"github.com/batonhq/baton/server/internal/service"
	"github.com/batonhq/baton/server/internal/telemetry"
)

var (
	tracer     = otel.Tracer("github.com/batonhq/baton/server/internal/gateway")
	meter      = otel.Meter("github.com/batonhq/baton/server/internal/gateway")
	clicksSeen = telemetry.Int64Counter(meter, "baton.clicks", metric.WithDescription("Clicks recorded by the redirect, by uniqueness."))
)

// Redirect serves GET /c/{link}: it records the click, sets the click
// cookie and answers 302 to the landing page. The click is committed before
// the 302 is written.
type Redirect struct {
	clicks *service.Clicks
	log    *slog.Logger
	// secure marks cookies Secure and SameSite=None even for requests that
	// reached Baton over plain HTTP from a TLS-terminating proxy.
	secure bool
}

// NewRedirect returns the redirect handler. secure should be true when the
// public URL is https.
func NewRedirect(clicks *service.Clicks, log *slog.Logger, secure bool) *Redirect {
	return &Redirect{clicks: clicks, log: log, secure: secure}
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex">
<title>{{.Title}}</title></head>
<body style="font-family:sans-serif;max-width:40em;margin:4em auto">
<h1>{{.Title}}</h1><p>{{.Text}}</p></body></html>
`))

func page(w http.ResponseWriter, status int, title, text string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = pageTmpl.Execute(w, struct{ Title, Text string }{title, text})
}

// ClientIP returns the address of the TCP peer.
func ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (rd *Redirect) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	linkID := r.PathValue("link")
	if linkID == "" || len(linkID) > 64 || strings.Trim(linkID, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-") != "" {
		page(w, http.StatusNotFound, "Link not found", "This tracking link does not exist. Check the address, or go back to the page that sent you here.")
		return
	}
	if r.Method == http.MethodHead {
		// Link checkers and previewers probe with HEAD: answer without
		// recording a click.
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		return
	}
	ctx, span := tracer.Start(r.Context(), "baton.click", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String(telemetry.LinkID, linkID)))
	defer span.End()
	r = r.WithContext(ctx)
	q, cut := clickQuery(r.URL.RawQuery)
	deep := q.Get("jump") // FC2's name
	if deep == "" {
		deep = q.Get("url")
	}
	// Record reads the sub-IDs under the link's names as it resolves the
	// link: one lookup per click.
	res, err := rd.clicks.Record(r.Context(), service.ClickInput{
		LinkID:      linkID,
		Query:       q.Get,
		DeepLink:    deep,
		QueryCut:    cut,
		IP:          ClientIP(r),
		UserAgent:   r.UserAgent(),
		Referer:     r.Referer(),
		Source:      domain.ClickFromRedirect,
		TraceParent: telemetry.TraceParent(ctx),
	})
	if err == nil && !res.Gone {
		clicksSeen.Add(ctx, 1, metric.WithAttributes(attribute.Bool("unique", res.Click.Unique)))
		span.SetAttributes(attribute.String(telemetry.ClickID, res.Click.ID), attribute.String(telemetry.OfferID, res.Click.OfferID),
			attribute.String(telemetry.PublisherID, res.Click.PublisherID), attribute.String(telemetry.UpstreamID, res.Click.UpstreamID),
			attribute.String(telemetry.DownstreamID, res.Click.ID))
	} else if err != nil {
		span.SetStatus(codes.Error, "click not recorded")
	}
	switch {
	case errors.Is(err, service.ErrLinkNotFound):
		page(w, http.StatusNotFound, "Link not found", "This tracking link does not exist. Check the address, or go back to the page that sent you here.")
		return
	case err != nil:
		level := slog.LevelError
		if errors.Is(err, domain.ErrUnavailable) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			level = slog.LevelWarn
		}
		rd.log.Log(r.Context(), level, "click not recorded", "link_id", linkID, "error", err)
		w.Header().Set("Retry-After", "2")
		page(w, http.StatusServiceUnavailable, "Temporarily unavailable", "We could not record your visit just now. Please try again in a moment.")
		return
	case res.Gone:
		page(w, http.StatusGone, "Offer ended", "This offer is not available any more.")
		return
	case r.Context().Err() != nil:
		// The client went away (RST_STREAM, closed connection) before
		// the answer: the click is stored, and marked so.
		if err := rd.clicks.MarkCancelled(context.WithoutCancel(ctx), res.Click); err != nil {
			rd.log.WarnContext(ctx, "cancelled click not marked", "click_id", res.Click.ID, "error", err)
		}
		return
	}
	cookie := &http.Cookie{
		Name:     res.CookieName,
		Value:    res.Click.ID,
		Path:     "/",
		MaxAge:   int(res.CookieMaxAge / time.Second),
		Expires:  res.Click.CreatedAt.Add(res.CookieMaxAge),
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	}
	// https as the browser sees it: Baton's own TLS, an https public URL,
	// or a TLS-terminating proxy in BATON_TRUSTED_PROXIES saying so
	// (X-Forwarded-Proto or Forwarded proto, which set r.URL.Scheme).
	if rd.secure || r.TLS != nil || r.URL.Scheme == "https" {
		// An image pixel on the shop's page is a third-party request: it
		// carries the cookie only when it is SameSite=None, which requires
		// Secure.
		cookie.Secure = true
		cookie.SameSite = http.SameSiteNoneMode
	}
	h := w.Header()
	h.Set("Set-Cookie", cookie.String())
	h.Set("Cache-Control", "no-store")
	h.Set("Location", res.RedirectURL)
	w.WriteHeader(http.StatusFound)
}
