package gateway

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/batonhq/baton/server/internal/service"
	"github.com/batonhq/baton/server/internal/signature"
	"github.com/batonhq/baton/server/internal/telemetry"
)

// transparentGIF is a 1×1 transparent GIF (43 bytes).
var transparentGIF = []byte{
	0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
	0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
	0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
}

// FC2 serves the FC2 legacy formats: the image tag and the server POST.
type FC2 struct {
	intake *service.FC2Intake
	log    *slog.Logger
}

// NewFC2 returns the FC2 gateway.
func NewFC2(intake *service.FC2Intake, log *slog.Logger) *FC2 { return &FC2{intake: intake, log: log} }

// fc2Report reads an FC2 report's parameters (the image tag's query, the
// server POST's form) as sent; the intake checks them.
func fc2Report(q url.Values, post bool) service.FC2Report {
	rep := service.FC2Report{
		Fields: signature.FC2Fields{
			ShopID: q.Get("shopid"), UniqueID: q.Get("unique_id"), UName: q.Get("uname"), Email: q.Get("email"),
			AmountY: q.Get("amount_y"), AmountD: q.Get("amount_d"), TS: q.Get("ts"), Recurring: q.Get("recurring"),
			ItemCode: q.Get("item_code"), UnitNum: q.Get("unit_num"),
		},
		SH: q.Get("sh"), Passwd: q.Get("passwd"), Test: q.Get("test"), ClickID: q.Get("click_id"), Via: q.Get("via"),
	}
	if post {
		rep.RefUserID, rep.RefSiteID, rep.IP = q.Get("ref_userid"), q.Get("ref_siteid"), q.Get("ip")
	}
	return rep
}

func noCache(h http.Header) {
	h.Set("Cache-Control", "no-cache, no-store, must-revalidate, private, max-age=0")
	h.Set("Pragma", "no-cache")
	h.Set("Expires", "0")
}

// Pixel serves GET /tracking/tracking_img.php. It always answers the 1×1
// image so the shop's page never breaks; in test mode (email test@fc2.com or
// test=on) it answers plain text saying what happened instead.
func (g *FC2) Pixel(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	rep := fc2Report(q, false)
	if shopID, err := strconv.ParseInt(rep.Fields.ShopID, 10, 64); err == nil {
		if c, err := r.Cookie(service.CookieName(shopID)); err == nil {
			rep.CookieClickID = c.Value
		}
	}
	ctx, span := tracer.Start(r.Context(), "baton.fc2.image_tag", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String(telemetry.OrderID, q.Get("unique_id")), attribute.String("baton.shop_id", q.Get("shopid"))))
	defer span.End()
	res, err := g.intake.Pixel(ctx, rep, ClientIP(r), r.UserAgent())
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	} else {
		span.SetAttributes(attribute.String(telemetry.ConversionID, res.Conversion.ID), attribute.String(telemetry.ClickID, res.Conversion.ClickID))
	}
	var msg string
	switch {
	case err == nil && res.Duplicate:
		msg = fmt.Sprintf("OK: unique_id %s was already recorded (conversion %s); not counted again", res.Conversion.OrderID, res.Conversion.ID)
	case err == nil:
		msg = fmt.Sprintf("OK: recorded conversion %s. %s", res.Conversion.ID, res.Conversion.Attribution.Summary)
	default:
		if _, e, ok := legacyStatus(err); ok {
			msg = "ERROR: " + strings.Join(problems(e), "\nERROR: ")
		} else {
			g.log.ErrorContext(r.Context(), "image tag not recorded", "error", err)
			msg = "ERROR: temporarily unavailable; the sale was not recorded"
		}
	}
	if res.Test {
		noCache(w.Header())
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = fmt.Fprintln(w, "TEST MODE (this sale is a test: it is never paid)")
		_, _ = fmt.Fprintln(w, msg)
		return
	}
	noCache(w.Header())
	w.Header().Set("Content-Type", "image/gif")
	_, _ = w.Write(transparentGIF)
}

// Post serves POST /tracking/tracking_post.php: "OK" on success, otherwise a
// 4xx with one line that says why.
func (g *FC2) Post(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		text(w, http.StatusBadRequest, "ERROR: malformed form body")
		return
	}
	ctx, span := tracer.Start(r.Context(), "baton.fc2.server_post", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String(telemetry.OrderID, r.PostForm.Get("unique_id")), attribute.String("baton.shop_id", r.PostForm.Get("shopid"))))
	defer span.End()
	res, err := g.intake.ServerPost(ctx, fc2Report(r.PostForm, true), ClientIP(r))
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	} else {
		span.SetAttributes(attribute.String(telemetry.ConversionID, res.Conversion.ID), attribute.String(telemetry.ClickID, res.Conversion.ClickID))
	}
	if err == nil {
		text(w, http.StatusOK, "OK")
		return
	}
	if status, e, ok := legacyStatus(err); ok {
		text(w, status, "ERROR: "+strings.Join(problems(e), "; "))
		return
	}
	g.log.ErrorContext(r.Context(), "server POST not recorded", "error", err)
	w.Header().Set("Retry-After", "5")
	text(w, http.StatusServiceUnavailable, "ERROR: temporarily unavailable, retry")
}
