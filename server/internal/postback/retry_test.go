package postback

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	transport := errors.New("dial tcp: connection refused")
	cases := []struct {
		status int
		err    error
		want   Outcome
	}{
		{200, nil, Success},
		{201, nil, Success},
		{204, nil, Success},
		{299, nil, Success},
		{0, transport, Retry},
		{0, nil, Retry},
		{200, transport, Retry},
		{408, nil, Retry},
		{429, nil, Retry},
		{500, nil, Retry},
		{502, nil, Retry},
		{503, nil, Retry},
		{599, nil, Retry},
		{100, nil, Refuse},
		{199, nil, Refuse},
		{301, nil, Refuse},
		{302, nil, Refuse},
		{304, nil, Refuse},
		{400, nil, Refuse},
		{401, nil, Refuse},
		{403, nil, Refuse},
		{404, nil, Refuse},
		{409, nil, Refuse},
		{410, nil, Refuse},
		{422, nil, Refuse},
		{600, nil, Refuse},
		{-1, nil, Refuse},
	}
	for _, c := range cases {
		if got := Classify(c.status, c.err); got != c.want {
			t.Errorf("Classify(%d, %v) = %d, want %d", c.status, c.err, got, c.want)
		}
	}
}

func TestDefaultSchedule(t *testing.T) {
	want := []time.Duration{5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute, 30 * time.Minute,
		time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour}
	if !slices.Equal(DefaultSchedule, want) {
		t.Errorf("DefaultSchedule = %v, want %v", DefaultSchedule, want)
	}
	// 11 attempts in all: NextDelay allows a wait after attempts 1..10, not after 11.
	for a := 1; a <= 10; a++ {
		if _, ok := NextDelay(DefaultSchedule, a, 0, nil); !ok {
			t.Errorf("NextDelay(DefaultSchedule, %d) exhausted", a)
		}
	}
	if _, ok := NextDelay(DefaultSchedule, 11, 0, nil); ok {
		t.Error("NextDelay(DefaultSchedule, 11) not exhausted")
	}
	parsed, err := ParseSchedule("5s,30s,2m,10m,30m,1h,3h,6h,12h,24h")
	if err != nil || !slices.Equal(parsed, DefaultSchedule) {
		t.Errorf("ParseSchedule(default) = %v, %v", parsed, err)
	}
}

func TestParseSchedule(t *testing.T) {
	got, err := ParseSchedule(" 1s , 1m30s,2h ")
	if want := []time.Duration{time.Second, 90 * time.Second, 2 * time.Hour}; err != nil || !slices.Equal(got, want) {
		t.Errorf("ParseSchedule = %v, %v; want %v", got, err, want)
	}
	thirty := strings.Repeat("1s,", 29) + "1s"
	if got, err := ParseSchedule(thirty); err != nil || len(got) != 30 {
		t.Errorf("ParseSchedule(30 items) = %d items, %v", len(got), err)
	}
	bad := []string{
		"",
		"   ",
		"5s,,30s",
		"5s,",
		",5s",
		"5",
		"5 s",
		"five seconds",
		"0s",
		"5s,0",
		"-5s",
		"5s,-1m",
		"1d",
		thirty + ",1s",
	}
	for _, s := range bad {
		if got, err := ParseSchedule(s); err == nil {
			t.Errorf("ParseSchedule(%q) = %v, want an error", s, got)
		}
	}
}

func TestNextDelay(t *testing.T) {
	sched := []time.Duration{10 * time.Second, time.Hour, 20 * time.Hour}
	rnd := func(v float64) func() float64 { return func() float64 { return v } }
	cases := []struct {
		name       string
		sched      []time.Duration
		attempts   int
		retryAfter time.Duration
		rnd        func() float64
		want       time.Duration
		ok         bool
	}{
		{"no jitter", sched, 1, 0, nil, 10 * time.Second, true},
		{"rnd 0 is -20%", sched, 1, 0, rnd(0), 8 * time.Second, true},
		{"rnd 0.5 is exact", sched, 2, 0, rnd(0.5), time.Hour, true},
		{"rnd 0.999 is almost +20%", sched, 1, 0, rnd(0.999), 11996 * time.Millisecond, true},
		{"rnd 0 second step", sched, 2, 0, rnd(0), 48 * time.Minute, true},
		{"rnd below range clamps", sched, 1, 0, rnd(-3), 8 * time.Second, true},
		{"rnd above range clamps", sched, 1, 0, rnd(7), 12 * time.Second, true},
		{"rnd NaN clamps", sched, 1, 0, rnd(math.NaN()), 8 * time.Second, true},
		{"last step", sched, 3, 0, nil, 20 * time.Hour, true},
		{"exhausted", sched, 4, 0, nil, 0, false},
		{"exhausted despite Retry-After", sched, 4, time.Minute, nil, 0, false},
		{"empty schedule", nil, 1, 0, nil, 0, false},
		{"nothing sent yet", sched, 0, 0, rnd(0.999), 0, true},
		{"Retry-After bigger", sched, 1, 5 * time.Minute, rnd(0.999), 5 * time.Minute, true},
		{"Retry-After smaller", sched, 2, 5 * time.Minute, rnd(0), 48 * time.Minute, true},
		{"Retry-After not jittered", sched, 1, 30 * time.Second, rnd(0), 30 * time.Second, true},
		{"Retry-After capped at 24h", sched, 1, 48 * time.Hour, nil, 24 * time.Hour, true},
		{"Retry-After huge", sched, 1, math.MaxInt64, nil, 24 * time.Hour, true},
		{"Retry-After cap does not shorten schedule", []time.Duration{25 * time.Hour}, 1, 48 * time.Hour, nil, 25 * time.Hour, true},
		{"negative Retry-After ignored", sched, 1, -time.Hour, nil, 10 * time.Second, true},
		{"huge step saturates", []time.Duration{math.MaxInt64}, 1, 0, rnd(0.999), math.MaxInt64, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := NextDelay(c.sched, c.attempts, c.retryAfter, c.rnd)
			if got != c.want || ok != c.ok {
				t.Errorf("NextDelay(%v, %d, %v) = %v, %v; want %v, %v", c.sched, c.attempts, c.retryAfter, got, ok, c.want, c.ok)
			}
		})
	}
	// Jitter stays within ±20% of every default step.
	for a, base := range DefaultSchedule {
		for _, r := range []float64{0, 0.25, 0.5, 0.75, 0.999} {
			d, ok := NextDelay(DefaultSchedule, a+1, 0, rnd(r))
			lo, hi := time.Duration(float64(base)*0.8), time.Duration(float64(base)*1.2)
			if !ok || d < lo || d >= hi {
				t.Errorf("NextDelay(default, %d, rnd=%v) = %v, want in [%v, %v)", a+1, r, d, lo, hi)
			}
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		h    string
		want time.Duration
		ok   bool
	}{
		{"120", 2 * time.Minute, true},
		{" 120 ", 2 * time.Minute, true},
		{"0", 0, true},
		{"86400", 24 * time.Hour, true},
		{"99999999999999999999999", math.MaxInt64, true},
		{"9223372037", math.MaxInt64, true},
		{"Sat, 01 Mar 2025 12:05:00 GMT", 5 * time.Minute, true},
		{"Saturday, 01-Mar-25 12:00:30 GMT", 30 * time.Second, true},
		{"Sat Mar  1 13:00:00 2025", time.Hour, true},
		{"Sat, 01 Mar 2025 12:00:00 GMT", 0, true},
		{"Sat, 01 Mar 2025 11:59:59 GMT", 0, false},
		{"-5", 0, false},
		{"+5", 0, false},
		{"1.5", 0, false},
		{"5s", 0, false},
		{"", 0, false},
		{"   ", 0, false},
		{"soon", 0, false},
		{"2025-03-01T12:05:00Z", 0, false},
		{"Sat, 01 Mar 2025 12:05:00 +0900", 0, false},
	}
	for _, c := range cases {
		got, ok := ParseRetryAfter(c.h, now)
		if got != c.want || ok != c.ok {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", c.h, got, ok, c.want, c.ok)
		}
	}
	// A date is relative to now, whatever now's location.
	if got, ok := ParseRetryAfter("Sat, 01 Mar 2025 12:05:00 GMT", now.In(time.FixedZone("JST", 9*3600))); !ok || got != 5*time.Minute {
		t.Errorf("ParseRetryAfter in JST = %v, %v", got, ok)
	}
}
