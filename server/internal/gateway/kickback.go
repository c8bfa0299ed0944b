package gateway

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"unicode/utf8"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/batonhq/baton/server/internal/domain"
	"github.com/batonhq/baton/server/internal/service"
	"github.com/batonhq/baton/server/internal/telemetry"
)

// Kickback serves GET and POST /postback: the next network down the chain
// reports a conversion on a click Baton sent it. Answers are one line of
// text: "OK" (200) or why not (4xx).
type Kickback struct {
	kb  *service.Kickbacks
	log *slog.Logger
}

// NewKickback returns the inbound kickback handler.
func NewKickback(kb *service.Kickbacks, log *slog.Logger) *Kickback {
	return &Kickback{kb: kb, log: log}
}

func text(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg+"\n")
}

// params merges the query and, for POST, the form body (body wins). Names
// and values must be UTF-8 text without NUL: PostgreSQL's text cannot hold
// anything else, and no network sends it on purpose.
func params(r *http.Request) (url.Values, error) {
	q := r.URL.Query()
	if r.Method == http.MethodPost {
		if err := r.ParseForm(); err != nil {
			return nil, err
		}
		q = r.Form
	}
	for k, vs := range q {
		if !plainText(k) {
			return nil, errNotText
		}
		for _, v := range vs {
			if !plainText(v) {
				return nil, errNotText
			}
		}
	}
	return q, nil
}

var errNotText = errors.New("parameters must be UTF-8 text without NUL")

func plainText(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

func (h *Kickback) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		text(w, http.StatusMethodNotAllowed, "use GET or POST")
		return
	}
	q, err := params(r)
	if errors.Is(err, errNotText) {
		text(w, http.StatusBadRequest, err.Error())
		return
	}
	if err != nil {
		text(w, http.StatusBadRequest, "malformed parameters")
		return
	}
	ip := ClientIP(r)
	remote, _ := netip.ParseAddr(ip) //nolint:errcheck // an address that does not parse is the zero Addr, which no allow-list matches
	n, err := h.identify(r.Context(), q, remote)
	if err != nil {
		h.answer(w, r, err)
		return
	}
	// Trace context from a trusted network continues its trace; from any
	// other, a new trace starts, linked to the caller's.
	caller := otel.GetTextMapPropagator().Extract(context.Background(), propagation.HeaderCarrier(r.Header))
	opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String(telemetry.Partner, n.ID))}
	ctx := r.Context()
	if rsc := trace.SpanContextFromContext(caller); rsc.IsValid() {
		if n.TrustTraceContext {
			ctx = trace.ContextWithRemoteSpanContext(ctx, rsc)
		} else {
			opts = append(opts, trace.WithNewRoot(), trace.WithLinks(trace.Link{SpanContext: rsc}))
		}
	}
	ctx, span := tracer.Start(ctx, "baton.kickback", opts...)
	defer span.End()
	conv, dup, err := h.kb.Receive(ctx, n, kickbackInput(service.Params(n), q, ip))
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	} else {
		span.SetAttributes(attribute.String(telemetry.ConversionID, conv.ID), attribute.String(telemetry.ClickID, conv.ClickID),
			attribute.String(telemetry.OrderID, conv.OrderID), attribute.String(telemetry.DownstreamID, conv.DownstreamID))
	}
	if err != nil {
		h.answer(w, r, err)
		return
	}
	h.log.InfoContext(r.Context(), "kickback received", "network", n.ID, "conversion_id", conv.ID, "duplicate", dup, "status", conv.Status)
	text(w, http.StatusOK, "OK")
}

// identify finds the network a kickback comes from: the one it names
// (network=<id>), authenticated by its token under the network's own
// parameter name or by its address, or else the one its token belongs to.
func (h *Kickback) identify(ctx context.Context, q url.Values, remote netip.Addr) (domain.Network, error) {
	id := q.Get("network")
	if id == "" {
		return h.kb.NetworkByToken(ctx, q.Get(service.KickbackParamDefaults.Token))
	}
	n, err := h.kb.Network(ctx, id)
	if err != nil {
		return n, err
	}
	return n, h.kb.Authenticate(ctx, n, q.Get(service.Params(n).Token), remote)
}

// kickbackInput reads a kickback's values under the network's parameter
// names.
func kickbackInput(pn domain.KickbackParams, q url.Values, ip string) service.KickbackInput {
	return service.KickbackInput{
		ClickID: q.Get(pn.ClickID), OrderID: q.Get(pn.OrderID), OrderID2: q.Get(pn.OrderID2),
		DownstreamID: q.Get(pn.DownstreamID), UserName: q.Get(pn.UserName),
		Amount: q.Get(pn.Amount), AmountMinor: q.Get(pn.AmountMinor), Currency: q.Get(pn.Currency), Status: q.Get(pn.Status),
		RemoteIP: ip,
	}
}

func (h *Kickback) answer(w http.ResponseWriter, r *http.Request, err error) {
	if status, e, ok := legacyStatus(err); ok {
		h.log.WarnContext(r.Context(), "kickback refused", "status", status, "reason", e.Public, "remote_ip", ClientIP(r))
		text(w, status, e.Public)
		return
	}
	h.log.ErrorContext(r.Context(), "kickback failed", "error", err)
	w.Header().Set("Retry-After", "5")
	text(w, http.StatusServiceUnavailable, "temporarily unavailable, retry")
}
