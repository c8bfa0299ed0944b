package postback

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Outcome is what to do with a postback after a delivery attempt.
type Outcome int

const (
	// Success: the partner accepted the postback; do not send it again.
	Success Outcome = iota
	// Retry: the attempt failed in a way that may be temporary; try again
	// after NextDelay, if the schedule allows.
	Retry
	// Refuse: the partner rejected the postback; retrying would not help.
	Refuse
)

// Classify maps the result of one delivery attempt to an Outcome. A non-nil
// err (a transport error: DNS, connection, TLS, timeout) means Retry whatever
// status is, and so does status 0, which means no response was received.
// Otherwise 2xx is Success; 408, 429 and 5xx are Retry; every other status
// (1xx, 3xx that were not followed, other 4xx, and values outside 100..599)
// is Refuse.
func Classify(status int, err error) Outcome {
	switch {
	case err != nil, status == 0:
		return Retry
	case 200 <= status && status <= 299:
		return Success
	case status == 408, status == 429, 500 <= status && status <= 599:
		return Retry
	default:
		return Refuse
	}
}

// DefaultSchedule holds the waits before attempts 2, 3, ... 11 (the first
// attempt is immediate): 5s, 30s, 2m, 10m, 30m, 1h, 3h, 6h, 12h, 24h, about
// 47 hours in all before jitter. Treat it as read-only; copy it before
// modifying.
var DefaultSchedule = []time.Duration{
	5 * time.Second,
	30 * time.Second,
	2 * time.Minute,
	10 * time.Minute,
	30 * time.Minute,
	1 * time.Hour,
	3 * time.Hour,
	6 * time.Hour,
	12 * time.Hour,
	24 * time.Hour,
}

// maxScheduleLen is the most retries ParseSchedule accepts.
const maxScheduleLen = 30

// maxRetryAfter caps how far a partner's Retry-After header can push the
// next attempt.
const maxRetryAfter = 24 * time.Hour

// ParseSchedule parses a comma-separated list of waits in time.ParseDuration
// syntax, such as "5s,30s,2m,1h30m"; spaces around items are ignored. Each
// item must be positive, and there must be between 1 and 30 items (an empty
// string, or an empty item, is an error). The items need not increase.
func ParseSchedule(s string) ([]time.Duration, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("postback: empty retry schedule")
	}
	items := strings.Split(s, ",")
	if len(items) > maxScheduleLen {
		return nil, fmt.Errorf("postback: retry schedule has %d items, at most %d allowed", len(items), maxScheduleLen)
	}
	out := make([]time.Duration, len(items))
	for i, item := range items {
		item = strings.TrimSpace(item)
		d, err := time.ParseDuration(item)
		if err != nil {
			return nil, fmt.Errorf("postback: retry schedule item %d (%q): %w", i+1, item, err)
		}
		if d <= 0 {
			return nil, fmt.Errorf("postback: retry schedule item %d (%q) is not positive", i+1, item)
		}
		out[i] = d
	}
	return out, nil
}

// NextDelay returns how long to wait before the next attempt once attempts
// attempts have been made: schedule[attempts-1] multiplied by a jitter factor
// 0.8 + 0.4*rnd(), that is within ±20%. rnd should return a value in [0, 1),
// like math/rand/v2's Float64; values outside [0, 1] (or NaN) are clamped,
// and a nil rnd means no jitter. ok is false when the schedule is exhausted
// (attempts > len(schedule)): give up. attempts < 1 means nothing was sent
// yet, so the next attempt is the immediate first one: (0, true).
//
// retryAfter > 0 (from ParseRetryAfter) raises the delay to at least
// retryAfter, but a partner's Retry-After is capped at 24h: the result is
// max(jittered scheduled delay, min(retryAfter, 24h)). A Retry-After never
// shortens the schedule, never extends it beyond its last attempt, and is
// not jittered.
func NextDelay(schedule []time.Duration, attempts int, retryAfter time.Duration, rnd func() float64) (d time.Duration, ok bool) {
	if attempts < 1 {
		return 0, true
	}
	if attempts > len(schedule) {
		return 0, false
	}
	r := 0.5
	if rnd != nil {
		r = rnd()
		if !(r >= 0) { // also catches NaN
			r = 0
		} else if r > 1 {
			r = 1
		}
	}
	f := float64(schedule[attempts-1]) * (0.8 + 0.4*r)
	switch {
	case f >= math.MaxInt64:
		d = math.MaxInt64
	case f > 0:
		d = time.Duration(f)
	}
	if retryAfter > 0 {
		d = max(d, min(retryAfter, maxRetryAfter))
	}
	return d, true
}

// HTTP date layouts a recipient must accept (RFC 9110, section 5.6.7): the
// preferred IMF-fixdate, then the obsolete RFC 850 and asctime forms.
var httpDateLayouts = []string{
	"Mon, 02 Jan 2006 15:04:05 GMT",
	"Monday, 02-Jan-06 15:04:05 GMT",
	time.ANSIC,
}

// ParseRetryAfter reads a Retry-After header value (surrounding spaces
// ignored): either delta-seconds (decimal digits only; values too large for
// a time.Duration saturate) or an HTTP date, returned as the time from now
// until that date. ok is false when h is empty, is neither form, or is a
// date before now. "0" yields (0, true).
func ParseRetryAfter(h string, now time.Time) (time.Duration, bool) {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0, false
	}
	if strings.Trim(h, "0123456789") == "" {
		n, err := strconv.ParseInt(h, 10, 64)
		if err != nil || n > math.MaxInt64/int64(time.Second) {
			return math.MaxInt64, true // only digits, so the error is ErrRange
		}
		return time.Duration(n) * time.Second, true
	}
	for _, layout := range httpDateLayouts {
		t, err := time.Parse(layout, h)
		if err != nil {
			continue
		}
		d := t.Sub(now)
		if d < 0 {
			return 0, false
		}
		return d, true
	}
	return 0, false
}
