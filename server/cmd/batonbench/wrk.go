package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/batonhq/baton/server/internal/app"
)

// The click suite runs on wrk (Debian's package): a few µs of CPU per
// request, so the generator takes little of the 2 cores from the servers and
// does not compress the ratios the way the Go load generator does.

// errNoWrk says how to get wrk.
var errNoWrk = errors.New("make bench needs wrk (the load generator of the click suite): apt-get install -y wrk")

var (
	wrkRPS     = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkTotal   = regexp.MustCompile(`(\d+) requests in ([0-9.]+)(us|ms|s|m)`)
	wrkPct     = regexp.MustCompile(`(?m)^\s+(50|99)(?:\.000)?%\s+([0-9.]+)(us|ms|s)`)
	wrkNon2xx  = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	wrkSockErr = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

// num is wrk's number v, 0 if it is none.
func num(v string) float64 {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0
	}
	return f
}

func wrkMillis(v, unit string) float64 {
	f := num(v)
	switch unit {
	case "us":
		return f / 1000
	case "s":
		return f * 1000
	case "m":
		return f * 60000
	}
	return f
}

// runWrk runs wrk on url with conns connections for dur.
func runWrk(ctx context.Context, url string, conns int, dur time.Duration) (Result, error) {
	threads := min(2, conns)
	cmd := exec.CommandContext(ctx, "wrk", "-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns), "-d", dur.String(), "--latency", "--timeout", "10s", url)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return Result{}, fmt.Errorf("wrk: %w: %s", err, stderr.String())
	}
	s := string(out)
	var r Result
	if m := wrkRPS.FindStringSubmatch(s); m != nil {
		r.RPS = num(m[1])
	} else {
		return r, fmt.Errorf("wrk output without Requests/sec: %q", s)
	}
	if m := wrkTotal.FindStringSubmatch(s); m != nil {
		r.Requests = int64(num(m[1]))
		r.Seconds = wrkMillis(m[2], m[3]) / 1000
	}
	for _, m := range wrkPct.FindAllStringSubmatch(s, -1) {
		if m[1] == "50" {
			r.P50ms = wrkMillis(m[2], m[3])
		} else {
			r.P99ms = wrkMillis(m[2], m[3])
		}
	}
	if m := wrkNon2xx.FindStringSubmatch(s); m != nil {
		r.Errors += int64(num(m[1]))
	}
	if m := wrkSockErr.FindStringSubmatch(s); m != nil {
		for _, v := range m[1:] {
			r.Errors += int64(num(v))
		}
	}
	return r, nil
}

// cpuTicks is a process's user+system CPU in clock ticks (1/100 s here);
// with children, also what its exited children used.
func cpuTicks(pid int, children bool) int64 {
	f := statFields(pid)
	if len(f) < 15 {
		return 0
	}
	var t int64
	end := 13 // f[11:13]: utime, stime (fields 14, 15)
	if children {
		end = 15 // and cutime, cstime
	}
	for _, v := range f[11:end] {
		t += int64(num(v))
	}
	return t
}

// statFields are /proc/PID/stat's fields after the command name: f[0] is
// field 3 (state), f[1] the parent's PID, f[11] utime.
func statFields(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(s[i+1:])
}

// ppid is a process's parent.
func ppid(pid int) int {
	f := statFields(pid)
	if len(f) < 2 {
		return 0
	}
	return int(num(f[1]))
}

// postgresTicks is the CPU of the bench's PostgreSQL: the postmaster, its
// exited children and its live ones (backends, walwriter, checkpointer).
func postgresTicks(postmaster int) int64 {
	t := cpuTicks(postmaster, true)
	dirs, err := filepath.Glob("/proc/[0-9]*")
	if err != nil {
		return t
	}
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil || ppid(pid) != postmaster {
			continue
		}
		t += cpuTicks(pid, false)
	}
	return t
}

// postmasterOf finds the server process behind pool: the parent of a backend.
func postmasterOf(ctx context.Context, pool *pgxpool.Pool) int {
	var backend int
	if err := pool.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&backend); err != nil {
		return 0
	}
	return ppid(backend)
}

// wrkClicks is the click suite on wrk: Baton's redirect (durable in the
// click spool) against the bare Go 302 handler (and nginx when installed),
// interleaved run by run, with CPU µs per click for Baton (this process) and
// for its PostgreSQL, and how far the spool's loader lagged.
func wrkClicks(ctx context.Context, srv *app.Server, pool *pgxpool.Pool, targets []target, concs []int, runs int, dur time.Duration, profile bool) (string, error) {
	if _, err := exec.LookPath("wrk"); err != nil {
		return "", errNoWrk
	}
	for _, t := range targets { // warm up
		if _, err := runWrk(ctx, t.url, 8, time.Second); err != nil {
			return "", fmt.Errorf("%s: %w", t.name, err)
		}
	}
	postmaster := postmasterOf(ctx, pool)
	self := os.Getpid()
	type cpu struct{ baton, pg, bare []float64 }
	results := map[string]map[int]*series{}
	cpus := map[int]*cpu{}
	var lagMu sync.Mutex
	var lags []time.Duration // the spool's oldest unloaded click, sampled under load
	maxPending := 0
	for _, t := range targets {
		results[t.name] = map[int]*series{}
		for _, c := range concs {
			results[t.name][c] = &series{}
		}
	}
	baton := targets[1].name
	for _, c := range concs {
		cpus[c] = &cpu{}
		for r := range runs {
			for _, t := range targets {
				b0, p0 := cpuTicks(self, false), postgresTicks(postmaster)
				stop := make(chan struct{})
				var wg sync.WaitGroup
				if t.name == baton {
					wg.Add(1)
					go func() {
						defer wg.Done()
						tick := time.NewTicker(5 * time.Millisecond)
						defer tick.Stop()
						for {
							select {
							case <-stop:
								return
							case <-tick.C:
								if st, ok := srv.ClickSpoolStats(); ok {
									lagMu.Lock()
									lags = append(lags, st.OldestAge)
									maxPending = max(maxPending, st.Pending)
									lagMu.Unlock()
								}
							}
						}
					}()
				}
				res, err := runWrk(ctx, t.url, c, dur)
				close(stop)
				wg.Wait()
				if err != nil {
					return "", fmt.Errorf("%s: %w", t.name, err)
				}
				if t.name == targets[0].name && res.Requests > 0 { // the bare handler runs in this process too
					cpus[c].bare = append(cpus[c].bare, float64(cpuTicks(self, false)-b0)*10_000/float64(res.Requests))
				}
				if t.name == baton && res.Requests > 0 {
					// 1 tick = 10 ms = 10,000 µs
					cpus[c].baton = append(cpus[c].baton, float64(cpuTicks(self, false)-b0)*10_000/float64(res.Requests))
					cpus[c].pg = append(cpus[c].pg, float64(postgresTicks(postmaster)-p0)*10_000/float64(res.Requests))
				}
				s := results[t.name][c]
				s.rps = append(s.rps, res.RPS)
				s.p50 = append(s.p50, res.P50ms)
				s.p99 = append(s.p99, res.P99ms)
				s.errors += res.Errors
				fmt.Fprintf(os.Stderr, "  wrk c=%-3d run %d %-28s %8.0f req/s  p50 %6.2f ms  p99 %6.2f ms  errors %d\n",
					c, r+1, t.name, res.RPS, res.P50ms, res.P99ms, res.Errors)
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Click redirect on wrk (-t2, keep-alive): Baton (click fsynced in the spool before the 302, loaded into PostgreSQL in batches) vs a bare Go 302 handler (and nginx's return 302, when installed)\n")
	fmt.Fprintf(&b, "%-6s %-28s %12s %8s %9s %9s %9s %7s %12s\n", "conc", "target", "req/s", "spread", "p50 ms", "p99 ms", "p99 max", "errors", "ratio")
	ratios := map[int]float64{}
	p99s := map[int]float64{}
	for _, c := range concs {
		base := median(results[targets[0].name][c].rps)
		for i, t := range targets {
			s := results[t.name][c]
			ratio := "1.00 (base)"
			if i > 0 && base > 0 {
				ratio = fmt.Sprintf("%.2f", median(s.rps)/base)
			}
			if t.name == baton && base > 0 {
				ratios[c] = median(s.rps) / base
				p99s[c] = median(s.p99)
			}
			fmt.Fprintf(&b, "%-6d %-28s %12.0f %7.0f%% %9.2f %9.2f %9.2f %7d %12s\n", c, t.name, median(s.rps), spread(s.rps), median(s.p50), median(s.p99), maxOf(s.p99), s.errors, ratio)
		}
	}
	for _, c := range concs {
		fmt.Fprintf(&b, "CPU per click at %d connections (median of %d runs, spread): Baton %.1f µs (%.0f%%), its PostgreSQL %.1f µs (%.0f%%); the bare handler %.1f µs per request\n",
			c, runs, median(cpus[c].baton), spread(cpus[c].baton), median(cpus[c].pg), spread(cpus[c].pg), median(cpus[c].bare))
	}
	if len(lags) > 0 {
		fl := make([]float64, len(lags))
		for i, l := range lags {
			fl[i] = float64(l.Microseconds()) / 1000
		}
		fmt.Fprintf(&b, "loader lag under this load (age of the oldest click not yet in PostgreSQL, sampled every 5 ms): median %.1f ms, max %.1f ms; at most %d clicks waiting\n",
			median(fl), maxOf(fl), maxPending)
	}
	fmt.Fprintf(&b, "targets (issue 18): durable clicks >= 0.6 of the bare handler at 64 connections, p99 < 10 ms\n")
	if c := 64; ratios[c] > 0 {
		holds := ratios[c] >= 0.6 && p99s[c] < 10
		fmt.Fprintf(&b, "at 64: ratio %.2f, p99 %.2f ms: target %s\n", ratios[c], p99s[c], map[bool]string{true: "holds", false: "does NOT hold"}[holds])
		if !holds && profile {
			top, err := profileClicks(ctx, targets[1].url, 64, dur)
			if err != nil {
				fmt.Fprintf(&b, "(no profile: %v)\n", err)
			} else {
				fmt.Fprintf(&b, "CPU profile of this process (Baton) during one more run at 64 connections, go tool pprof -top:\n%s", top)
			}
		}
	}
	b.WriteString("\n")
	return b.String(), nil
}

func maxOf(xs []float64) float64 {
	m := 0.0
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}

// profileClicks profiles this process (Baton) during one wrk run and
// returns the top of `go tool pprof -top`.
func profileClicks(ctx context.Context, url string, conns int, dur time.Duration) (string, error) {
	f, err := os.CreateTemp("", "batonbench-clicks-*.pprof")
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name())
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return "", err
	}
	_, werr := runWrk(ctx, url, conns, dur)
	pprof.StopCPUProfile()
	f.Close()
	if werr != nil {
		return "", werr
	}
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	out, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-nodecount=25", exe, f.Name()).Output()
	if err != nil {
		return "", fmt.Errorf("go tool pprof: %w", err)
	}
	// Keep the table, not pprof's header lines about files.
	lines := strings.Split(string(out), "\n")
	var keep []string
	for _, l := range lines {
		if strings.HasPrefix(l, "File:") || strings.HasPrefix(l, "Build ID:") || strings.HasPrefix(l, "Type:") || strings.HasPrefix(l, "Time:") {
			continue
		}
		keep = append(keep, l)
	}
	return strings.Join(keep, "\n"), nil
}

// clickSuite runs wrkClicks with the bench's own pool on Baton's database.
func clickSuite(ctx context.Context, srv *app.Server, db *app.Database, targets []target, concList string, runs int, dur time.Duration, profile bool) (string, error) {
	var concs []int
	for _, s := range strings.Split(concList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return "", fmt.Errorf("bad -wrk-c %q", s)
		}
		concs = append(concs, n)
	}
	pool, err := pgxpool.New(ctx, db.Store.ConnString())
	if err != nil {
		return "", err
	}
	defer pool.Close()
	return wrkClicks(ctx, srv, pool, targets, concs, runs, dur, profile)
}
