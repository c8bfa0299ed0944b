package delivery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/riverqueue/river"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/net/http/httpguts"

	"github.com/batonhq/baton/server/internal/domain"
	"github.com/batonhq/baton/server/internal/postback"
	"github.com/batonhq/baton/server/internal/telemetry"
)

var (
	tracer   = otel.Tracer("github.com/batonhq/baton/server/internal/delivery")
	meter    = otel.Meter("github.com/batonhq/baton/server/internal/delivery")
	attempts = telemetry.Int64Counter(meter, "baton.postback.attempts", metric.WithDescription("Postback attempts, by outcome and endpoint."))
	latency  = telemetry.Float64Histogram(meter, "baton.postback.attempt.duration", metric.WithUnit("s"), metric.WithDescription("Time of one postback attempt."))
)

// MaxResponseBytes is how much of an answer is read; ExcerptBytes how much
// of it is kept in the attempt log.
const (
	MaxResponseBytes = 64 << 10
	ExcerptBytes     = 512
)

type worker struct {
	river.WorkerDefaults[DeliverArgs]
	store        Store
	client       *http.Client
	schedule     []time.Duration
	disableAfter time.Duration
	now          func() time.Time
	log          *slog.Logger
	rnd          func() float64
	labels       *endpointLabels
	loads        *batcher[string, loaded]
	records      *batcher[domain.AttemptRecord, error]
}

// Request is a rendered postback, ready to send.
type Request struct {
	Method    string
	URL       string
	MaskedURL string
	Header    http.Header
	Body      []byte
	// Scrubber masks the endpoint's secret values in what is logged.
	Scrubber postback.Scrubber
}

// Render builds the HTTP request of a delivery (postback.Render).
func Render(ep domain.PostbackEndpoint, d domain.Delivery, secrets []string, now time.Time) (Request, error) {
	r, err := postback.Render(ep, d, secrets, now)
	if err != nil {
		return Request{}, err
	}
	return Request{Method: r.Method, URL: r.URL, MaskedURL: r.MaskedURL, Header: http.Header(r.Header), Body: r.Body, Scrubber: r.Scrubber}, nil
}

// Work implements river.Worker: one attempt of one delivery.
func (w *worker) Work(ctx context.Context, job *river.Job[DeliverArgs]) error {
	l, err := w.loads.do(ctx, job.Args.DeliveryID)
	if err != nil {
		return err // River retries: the database is down
	}
	if !l.found {
		return nil // rolled back or purged: nothing owed
	}
	d := l.d
	if d.State != domain.DeliveryPending {
		return nil // already settled (a duplicate job, or cancelled)
	}
	ep, secrets := l.ep.Endpoint, l.ep.Secrets
	if !l.epFound || ep.State != domain.EndpointEnabled {
		w.log.InfoContext(ctx, "postback cancelled: endpoint disabled or deleted", "delivery_id", d.ID, "endpoint_id", d.EndpointID)
		return w.store.SetDeliveryState(ctx, d.ID, domain.DeliveryCancelled)
	}
	if l.ep.Err != nil {
		return l.ep.Err
	}
	number := d.AttemptCount + 1
	ctx, span := tracer.Start(telemetry.ContextFrom(ctx, d.TraceParent), "baton.postback.deliver", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String(telemetry.DeliveryID, d.ID), attribute.Int(telemetry.Attempt, number),
			attribute.String(telemetry.ConversionID, d.ConversionID), attribute.String(telemetry.Partner, d.PublisherID),
			attribute.String("baton.endpoint_id", ep.ID), attribute.String("baton.event", string(d.Event))))
	defer span.End()
	now := w.now()
	attempt := domain.Attempt{Number: number, At: now}
	_, rspan := tracer.Start(ctx, "baton.postback.render")
	req, err := Render(ep, d, secrets, now)
	if err != nil {
		rspan.SetStatus(codes.Error, err.Error())
	} else {
		// Only the masked URL: the sent one may carry sealed secrets.
		span.SetAttributes(attribute.String("url.full", req.MaskedURL), attribute.String("http.request.method", req.Method))
	}
	rspan.End()
	var outcome postback.Outcome
	var retryAfter time.Duration
	if err != nil {
		// A template that no longer renders cannot succeed by retrying.
		attempt.Outcome, attempt.Error, outcome = "refused", "cannot render: "+err.Error(), postback.Refuse
		attempt.URL = ep.URLTemplate
	} else {
		attempt.URL = req.MaskedURL
		outcome, retryAfter = w.send(ctx, req, d, number, &attempt)
	}

	state, nextAt := domain.DeliveryPending, (*time.Time)(nil)
	var snooze time.Duration
	switch outcome {
	case postback.Success:
		state = domain.DeliverySucceeded
	case postback.Refuse:
		state = domain.DeliveryFailed
	case postback.Retry:
		delay, ok := postback.NextDelay(w.schedule, number, retryAfter, w.rnd)
		if !ok {
			state = domain.DeliveryFailed
		} else {
			t := now.Add(delay)
			nextAt, snooze = &t, delay
		}
	}
	span.SetAttributes(attribute.String("baton.outcome", attempt.Outcome), attribute.Int("http.response.status_code", attempt.StatusCode))
	if state != domain.DeliverySucceeded {
		span.SetStatus(codes.Error, attempt.Outcome+" "+attempt.Error)
	}
	attempt.Error, attempt.ResponseExcerpt = req.Scrubber.Scrub(attempt.Error), req.Scrubber.Scrub(attempt.ResponseExcerpt)
	attempts.Add(ctx, 1, metric.WithAttributes(attribute.String("outcome", attempt.Outcome), attribute.String("endpoint", w.labels.label(ep.ID))))
	latency.Record(ctx, attempt.Latency.Seconds(), metric.WithAttributes(attribute.String("outcome", attempt.Outcome)))
	if err := w.record(ctx, domain.AttemptRecord{DeliveryID: d.ID, Attempt: attempt, State: state, NextAt: nextAt}); err != nil {
		return err
	}
	w.log.InfoContext(ctx, "postback attempt", "delivery_id", d.ID, "endpoint_id", ep.ID, "attempt", number,
		"status", attempt.StatusCode, "outcome", attempt.Outcome, "latency", attempt.Latency, "state", state)
	switch state {
	case domain.DeliverySucceeded:
		if ep.FailingSince == nil {
			return nil
		}
		return w.store.EndpointSucceeded(ctx, ep.ID)
	case domain.DeliveryFailed:
		disabled, err := w.store.EndpointFailed(ctx, ep.ID, now, now.Add(-w.disableAfter))
		if err != nil {
			return err
		}
		if disabled {
			w.log.WarnContext(ctx, "postback endpoint disabled after failing for days", "endpoint_id", ep.ID, "publisher_id", ep.PublisherID)
		}
		return nil
	}
	return river.JobSnooze(snooze)
}

// batchParallel is how many read (and write) batches may be in the
// database at once: one forms while another runs.
const batchParallel = 2

// loaded is a delivery as the worker reads it, with its endpoint.
type loaded struct {
	d       domain.Delivery
	found   bool
	ep      domain.SendableEndpoint
	epFound bool
}

// loadBatch reads the deliveries of a batch of jobs and their endpoints:
// two statements for the whole batch.
func (w *worker) loadBatch(ctx context.Context, ids []string) ([]loaded, error) {
	list, err := w.store.LoadDeliveries(ctx, ids)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]domain.Delivery, len(list))
	var endpoints []string
	seen := map[string]bool{}
	for _, d := range list {
		byID[d.ID] = d
		if d.State == domain.DeliveryPending && !seen[d.EndpointID] {
			seen[d.EndpointID] = true
			endpoints = append(endpoints, d.EndpointID)
		}
	}
	var eps map[string]domain.SendableEndpoint
	if len(endpoints) > 0 {
		if eps, err = w.store.EndpointsForDeliveries(ctx, endpoints); err != nil {
			return nil, err
		}
	}
	out := make([]loaded, len(ids))
	for i, id := range ids {
		d, ok := byID[id]
		out[i].d, out[i].found = d, ok
		out[i].ep, out[i].epFound = eps[d.EndpointID]
	}
	return out, nil
}

// record writes one attempt within a batch of them.
func (w *worker) record(ctx context.Context, r domain.AttemptRecord) error {
	err, batchErr := w.records.do(ctx, r)
	if batchErr != nil {
		return batchErr
	}
	return err
}

// recordBatch writes a batch of attempts in one statement. If it fails
// (one attempt in it is refused: a duplicate job recorded the same attempt
// first, or its delivery is gone), each is written alone, so that one bad
// attempt fails only its own job, which River retries.
func (w *worker) recordBatch(ctx context.Context, recs []domain.AttemptRecord) ([]error, error) {
	errs := make([]error, len(recs))
	seen := make(map[string]bool, len(recs))
	unique := true
	for _, r := range recs {
		unique = unique && !seen[r.DeliveryID]
		seen[r.DeliveryID] = true
	}
	if unique && w.store.RecordAttempts(ctx, recs) == nil {
		return errs, nil
	}
	for i, r := range recs {
		errs[i] = w.store.RecordAttempt(ctx, r.DeliveryID, r.Attempt, r.State, r.NextAt)
	}
	return errs, nil
}

// send makes one HTTP attempt and fills in the attempt's record.
func (w *worker) send(ctx context.Context, r Request, d domain.Delivery, number int, a *domain.Attempt) (postback.Outcome, time.Duration) {
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, body)
	if err != nil {
		a.Outcome, a.Error = "refused", "bad request: "+err.Error()
		return postback.Refuse, 0
	}
	req.Header = r.Header.Clone()
	req.Header.Set("X-Baton-Attempt", strconv.Itoa(number))
	if err := checkHeaders(req.Header); err != nil {
		// Retrying cannot fix it: the same request would be built again.
		a.Outcome, a.Error = "refused", "cannot build the request: "+err.Error()
		return postback.Refuse, 0
	}
	start := time.Now()
	res, err := w.client.Do(req)
	a.Latency = time.Since(start)
	if err != nil {
		a.Error = sanitizeError(err, r)
		switch {
		case errors.Is(err, ErrBlockedAddress):
			a.Outcome = "blocked_address"
			return postback.Refuse, 0
		case isTimeout(err):
			a.Outcome = "timeout"
		default:
			a.Outcome = "network_error"
		}
		return postback.Retry, 0
	}
	defer res.Body.Close()
	// A body the receiver cuts short is kept as far as it came: the status
	// code decides the outcome, the body is only shown.
	buf, _ := io.ReadAll(io.LimitReader(res.Body, MaxResponseBytes)) //nolint:errcheck // see above
	a.Latency = time.Since(start)
	a.StatusCode = res.StatusCode
	a.ResponseExcerpt = excerpt(buf)
	outcome := postback.Classify(res.StatusCode, nil)
	if 300 <= res.StatusCode && res.StatusCode <= 399 {
		a.Error = redirectError(res)
	}
	switch outcome {
	case postback.Success:
		a.Outcome = "success"
	case postback.Retry:
		a.Outcome = "retryable_status"
	default:
		a.Outcome = "refused"
	}
	retryAfter, _ := postback.ParseRetryAfter(res.Header.Get("Retry-After"), w.now())
	return outcome, retryAfter
}

// checkHeaders reports a header the HTTP client would refuse to send (a
// name that is not a token, a value holding CR, LF or another control
// character), naming the header but not its value (it may be a secret).
func checkHeaders(h http.Header) error {
	for name, vals := range h {
		if !httpguts.ValidHeaderFieldName(name) {
			return fmt.Errorf("header name %q is not valid", name)
		}
		for _, v := range vals {
			if !httpguts.ValidHeaderFieldValue(v) {
				return fmt.Errorf("header %s holds a control character", name)
			}
		}
	}
	return nil
}

// redirectError says why a redirect ends the delivery, naming where it
// pointed (scheme and host only: its query may hold secrets).
func redirectError(res *http.Response) string {
	where := "elsewhere"
	if loc, err := res.Location(); err == nil {
		where = loc.Scheme + "://" + loc.Host
	}
	return fmt.Sprintf("redirected (%d) to %s: redirects are not followed, so that the postback's body, signature and headers go nowhere else; point the endpoint at the final URL", res.StatusCode, where)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// sanitizeError keeps secrets in the URL out of the attempt log.
func sanitizeError(err error, r Request) string {
	msg := err.Error()
	if r.URL != "" {
		msg = strings.ReplaceAll(msg, r.URL, r.MaskedURL)
		msg = strings.ReplaceAll(msg, strconv.Quote(r.URL), strconv.Quote(r.MaskedURL))
	}
	return r.Scrubber.Scrub(msg)
}

func excerpt(b []byte) string {
	if len(b) > ExcerptBytes {
		b = b[:ExcerptBytes]
	}
	s := strings.ToValidUTF8(string(b), "")
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return strings.ReplaceAll(s, "\x00", "")
}
