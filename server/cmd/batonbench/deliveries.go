package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/batonhq/baton/server/internal/config"
)

// recordConversion records one conversion for clickID through the API.
func recordConversion(ctx context.Context, client *http.Client, cfg config.Config, clickID, order string) error {
	body := `{"clickId":"` + clickID + `","orderId":"` + order + `","amountJpy":"1980"}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+cfg.Addr+"/baton.v1.ConversionService/RecordConversion", strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+cfg.AdminKey)
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("RecordConversion: %s", res.Status)
	}
	return nil
}

// sustained is what one sustained run measured.
type sustained struct {
	intake, delivered float64 // per second, over the steady window
	p50, p99          float64 // ms, conversion recorded → postback received
	backlog           int     // postbacks owed when the intake stopped
	drain             float64 // ms from the intake's end to the last postback
	bare              float64 // bare HTTP client loop, per second
}

// deliveriesBench is issue 18's delivery target: conc clients record
// conversions for dur without pause (each causing one postback), and the
// receiver notes each postback. Intake/s and delivered/s are counted over
// the same steady window (the first 5 s left out as warm-up, or a sixth of
// a shorter run), so a queue that keeps up shows delivered/s equal to
// intake/s and a drain time of about one delivery; one that falls behind
// shows a backlog at the end and a long drain. Each run is preceded by the
// bare HTTP client loop with conc clients to the same receiver.
func deliveriesBench(ctx context.Context, cfg config.Config, clickID string, recv *postbackReceiver, recvURL string, conc, runs int, dur time.Duration) (string, error) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * conc}, Timeout: 10 * time.Second}
	nonce := strconv.FormatInt(time.Now().UnixNano(), 36)
	warm := 5 * time.Second
	if dur < 6*warm {
		warm = dur / 6
	}
	bare := func() float64 {
		var n atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		deadline := start.Add(3 * time.Second)
		for range conc {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(deadline) {
					res, err := client.Get(recvURL + "/pb?o=bare-" + nonce + "-" + strconv.FormatInt(n.Add(1), 10))
					if err == nil {
						_, _ = io.Copy(io.Discard, res.Body)
						res.Body.Close()
					}
				}
			}()
		}
		wg.Wait()
		return float64(n.Load()) / time.Since(start).Seconds()
	}
	one := func(r int) (sustained, error) {
		var out sustained
		out.bare = bare()
		type conv struct {
			order string
			at    time.Time
		}
		var mu sync.Mutex
		var done []conv
		var failed atomic.Int64
		var seq atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		end := start.Add(dur)
		for range conc {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(end) {
					order := fmt.Sprintf("sus-%s-%d-%d", nonce, r, seq.Add(1))
					if err := recordConversion(ctx, client, cfg, clickID, order); err != nil {
						failed.Add(1)
						continue
					}
					now := time.Now()
					mu.Lock()
					done = append(done, conv{order, now})
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		stopped := time.Now()
		if f := failed.Load(); f > 0 {
			return out, fmt.Errorf("%d conversions failed", f)
		}
		for _, c := range done {
			if t, ok := recv.at(c.order); !ok || t.After(stopped) {
				out.backlog++
			}
		}
		deadline := time.Now().Add(3 * time.Minute)
		var lat []float64
		var last time.Time
		var in, delivered int
		from := start.Add(warm)
		for _, c := range done {
			for {
				if t, ok := recv.at(c.order); ok {
					lat = append(lat, float64(t.Sub(c.at).Microseconds())/1000)
					if t.After(last) {
						last = t
					}
					if !t.Before(from) && t.Before(stopped) {
						delivered++
					}
					break
				}
				if time.Now().After(deadline) {
					return out, fmt.Errorf("postback for %s never arrived", c.order)
				}
				time.Sleep(5 * time.Millisecond)
			}
			if !c.at.Before(from) {
				in++
			}
		}
		window := stopped.Sub(from).Seconds()
		sort.Float64s(lat)
		out.intake, out.delivered = float64(in)/window, float64(delivered)/window
		out.p50, out.p99 = lat[len(lat)/2], lat[len(lat)*99/100]
		out.drain = float64(last.Sub(stopped).Microseconds()) / 1000
		return out, nil
	}
	var intake, delivered, p50, p99, drain, backlog, bareRates, ratio []float64
	for r := range runs {
		s, err := one(r)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(os.Stderr, "  c=%d run %d sustained %s: intake %6.0f/s delivered %6.0f/s (bare loop %6.0f/s), delay p50 %.1f ms p99 %.1f ms, backlog %d, drain %.0f ms\n",
			conc, r+1, dur, s.intake, s.delivered, s.bare, s.p50, s.p99, s.backlog, s.drain)
		intake, delivered, p50, p99 = append(intake, s.intake), append(delivered, s.delivered), append(p50, s.p50), append(p99, s.p99)
		drain, backlog, bareRates = append(drain, s.drain), append(backlog, float64(s.backlog)), append(bareRates, s.bare)
		ratio = append(ratio, s.delivered/s.intake)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Deliveries that keep up: %d clients record conversions for %s without pause, each causing one postback to a receiver on loopback;\n", conc, dur)
	fmt.Fprintf(&b, "intake/s and delivered/s over the same window (from %s in to the intake's end); delay from a conversion's success to its postback received\n", warm)
	fmt.Fprintf(&b, "%-36s %12s %8s\n", "figure", "median", "spread")
	row := func(name string, xs []float64, format string) {
		fmt.Fprintf(&b, "%-36s %12s %7.0f%%\n", name, fmt.Sprintf(format, median(xs)), spread(xs))
	}
	row("bare HTTP client loop, per second", bareRates, "%.0f")
	row("intake, conversions/s", intake, "%.0f")
	row("delivered, postbacks/s", delivered, "%.0f")
	row("delivered/intake", ratio, "%.3f")
	row("delivered/bare loop", div(delivered, bareRates), "%.3f")
	row("delay p50 ms", p50, "%.1f")
	row("delay p99 ms", p99, "%.1f")
	row("backlog when the intake stopped", backlog, "%.0f")
	row("drain after the intake stopped, ms", drain, "%.0f")
	keeps := median(ratio) >= 0.99 && median(p50) < 50
	fmt.Fprintf(&b, "target (issue 18): delivered/s >= intake/s (delivered/intake >= 0.99 allowing for the in-flight ones) and p50 < 50 ms: %s\n\n", map[bool]string{true: "HOLDS", false: "NOT MET"}[keeps])
	return b.String(), nil
}

func div(a, b []float64) []float64 {
	out := make([]float64, len(a))
	for i := range a {
		if b[i] > 0 {
			out[i] = a[i] / b[i]
		}
	}
	return out
}
