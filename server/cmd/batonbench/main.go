// Command batonbench measures Baton against baselines measured in the same
// run, and prints ratios (machines here are shared and noisy: only ratios
// within one run mean something).
//
//	batonbench [-d 3s] [-runs 3] [-c 8,64,256] [-out FILE]   run every benchmark
//	batonbench load -url URL -c N -d DUR                     the load generator (a separate process)
//
// The click benchmark drives GET /c/{link} (which commits each click before
// its 302) and a bare Go handler answering the same 302 without recording
// anything, over loopback with keep-alive connections, from a separate
// process. Baton runs on an embedded PostgreSQL on the same machine (or
// BATON_BENCH_DATABASE_URL).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/batonhq/baton/server/internal/app"
	"github.com/batonhq/baton/server/internal/config"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "load" {
		if err := load(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "batonbench load:", err)
			os.Exit(1)
		}
		return
	}
	if err := orchestrate(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "batonbench:", err)
		os.Exit(1)
	}
}

// ---------------------------------------------------------------- load generator

// Result is what one load run measured.
type Result struct {
	Requests int64   `json:"requests"`
	Errors   int64   `json:"errors"`
	Seconds  float64 `json:"seconds"`
	RPS      float64 `json:"rps"`
	P50ms    float64 `json:"p50_ms"`
	P99ms    float64 `json:"p99_ms"`
}

func load(args []string) error {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	target := fs.String("url", "", "URL to GET (a query parameter n=<counter> is appended)")
	conc := fs.Int("c", 8, "concurrent keep-alive clients")
	dur := fs.Duration("d", 3*time.Second, "duration")
	want := fs.Int("status", http.StatusFound, "expected status")
	if err := fs.Parse(args); err != nil {
		return err
	}
	tr := &http.Transport{MaxIdleConnsPerHost: *conc, MaxConnsPerHost: *conc, DisableCompression: true, IdleConnTimeout: time.Minute}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	sep := "?"
	if strings.Contains(*target, "?") {
		sep = "&"
	}
	deadline := time.Now().Add(*dur)
	lat := make([][]time.Duration, *conc)
	errs := make([]int64, *conc)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range *conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]time.Duration, 0, 1<<16)
			for i := 0; time.Now().Before(deadline); i++ {
				t0 := time.Now()
				res, err := client.Get(*target + sep + "param1=w" + strconv.Itoa(w) + "-" + strconv.Itoa(i))
				if err != nil {
					errs[w]++
					continue
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != *want {
					errs[w]++
					continue
				}
				buf = append(buf, time.Since(t0))
			}
			lat[w] = buf
		}()
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	var all []time.Duration
	var nerr int64
	for w := range *conc {
		all = append(all, lat[w]...)
		nerr += errs[w]
	}
	slices.Sort(all)
	pct := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return float64(all[int(p*float64(len(all)-1))].Microseconds()) / 1000
	}
	return json.NewEncoder(os.Stdout).Encode(Result{
		Requests: int64(len(all)), Errors: nerr, Seconds: elapsed, RPS: float64(len(all)) / elapsed,
		P50ms: pct(0.50), P99ms: pct(0.99),
	})
}

// runLoad runs the load generator as a child process.
func runLoad(ctx context.Context, url string, conc int, dur time.Duration) (Result, error) {
	self, err := os.Executable()
	if err != nil {
		return Result{}, err
	}
	cmd := exec.CommandContext(ctx, self, "load", "-url", url, "-c", strconv.Itoa(conc), "-d", dur.String())
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return Result{}, fmt.Errorf("load generator: %w", err)
	}
	var r Result
	if err := json.Unmarshal(out, &r); err != nil {
		return r, fmt.Errorf("load generator output %q: %w", out, err)
	}
	return r, nil
}

// ---------------------------------------------------------------- orchestration

type series struct {
	rps, p50, p99 []float64
	errors        int64
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

// spread is (max-min)/median in percent.
func spread(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	m := median(xs)
	if m == 0 {
		return 0
	}
	return (slices.Max(xs) - slices.Min(xs)) / m * 100
}

func orchestrate(args []string) error {
	fs := flag.NewFlagSet("batonbench", flag.ContinueOnError)
	dur := fs.Duration("d", 3*time.Second, "duration of each run")
	runs := fs.Int("runs", 3, "runs per figure (the median is reported)")
	concList := fs.String("c", "8,64,256", "concurrency levels")
	out := fs.String("out", "bench-results.txt", "file to write the table to")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the server side to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var concs []int
	for _, s := range strings.Split(*concList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fmt.Errorf("bad concurrency %q", s)
		}
		concs = append(concs, n)
	}
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	// Baton on its database, in this process; the load comes from a child.
	dataDir, err := os.MkdirTemp("", "batonbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dataDir)
	_ = os.Chmod(dataDir, 0o711)
	cfg, err := config.Load(nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		return err
	}
	cfg.DataDir = dataDir
	cfg.DatabaseURL = os.Getenv("BATON_BENCH_DATABASE_URL")
	cfg.AdminKey = "bench-admin-key-0123456789"
	batonLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	cfg.Addr = batonLn.Addr().String()
	cfg.PublicURL = "http://" + cfg.Addr
	fmt.Fprintln(os.Stderr, "starting PostgreSQL and Baton...")
	db, err := app.OpenDatabase(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer db.Close(context.Background())
	if _, err := app.Bootstrap(ctx, cfg, db.Store); err != nil {
		return err
	}
	if err := app.SeedDemo(ctx, db.Store, io.Discard); err != nil {
		return err
	}
	srv, err := app.New(cfg, log, db)
	if err != nil {
		return err
	}
	serveCtx, stopServe := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(serveCtx, batonLn) }()
	defer func() { stopServe(); <-served }()

	// The baseline: a bare Go handler answering the same 302, recording nothing.
	bareLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	bare := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://shop.example.com/lp?sid=00000000000000000000000000000&aff_userid=1000&aff_siteid=1000", http.StatusFound)
	})}
	go func() { _ = bare.Serve(bareLn) }()
	defer bare.Close()

	targets := []struct{ name, url string }{
		{"bare Go 302 handler", "http://" + bareLn.Addr().String() + "/c/demo"},
		{"Baton redirect (durable)", "http://" + cfg.Addr + "/c/" + app.DemoLinkID},
	}
	// Warm up both (connections, caches, the database).
	for _, t := range targets {
		if _, err := runLoad(ctx, t.url, 8, time.Second); err != nil {
			return err
		}
	}
	results := map[string]map[int]*series{}
	for _, t := range targets {
		results[t.name] = map[int]*series{}
		for _, c := range concs {
			results[t.name][c] = &series{}
		}
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	// Interleave baseline and Baton so drift on a shared machine hits both.
	for _, c := range concs {
		for r := range *runs {
			for _, t := range targets {
				res, err := runLoad(ctx, t.url, c, *dur)
				if err != nil {
					return err
				}
				s := results[t.name][c]
				s.rps = append(s.rps, res.RPS)
				s.p50 = append(s.p50, res.P50ms)
				s.p99 = append(s.p99, res.P99ms)
				s.errors += res.Errors
				fmt.Fprintf(os.Stderr, "  c=%-3d run %d %-26s %8.0f req/s  p50 %6.2f ms  p99 %6.2f ms  errors %d\n",
					c, r+1, t.name, res.RPS, res.P50ms, res.P99ms, res.Errors)
			}
		}
	}

	var b strings.Builder
	fmt.Fprintf(&b, "Baton benchmarks, %s, %d runs of %s per figure (median, spread = (max-min)/median)\n",
		time.Now().UTC().Format(time.RFC3339), *runs, *dur)
	fmt.Fprintf(&b, "machine: %d CPUs; load from a separate process over loopback, keep-alive\n\n", numCPU())
	fmt.Fprintf(&b, "Click redirect: Baton (click committed before the 302) vs a bare Go 302 handler\n")
	fmt.Fprintf(&b, "%-6s %-26s %12s %8s %9s %9s %7s %10s\n", "conc", "target", "req/s", "spread", "p50 ms", "p99 ms", "errors", "ratio")
	for _, c := range concs {
		base := median(results[targets[0].name][c].rps)
		for _, t := range targets {
			s := results[t.name][c]
			ratio := "1.00 (base)"
			if t.name != targets[0].name && base > 0 {
				ratio = fmt.Sprintf("%.2f", median(s.rps)/base)
			}
			fmt.Fprintf(&b, "%-6d %-26s %12.0f %7.0f%% %9.2f %9.2f %7d %10s\n", c, t.name, median(s.rps), spread(s.rps), median(s.p50), median(s.p99), s.errors, ratio)
		}
	}
	fmt.Fprintf(&b, "\ntargets (issue 3): durable clicks >= 0.40 of the bare handler's rate; p99 < 20 ms at 64 clients\n")
	fmt.Print("\n" + b.String())
	if *out != "" {
		if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
		if err := os.WriteFile(*out, []byte(b.String()), 0o644); err != nil {
			return err
		}
		fmt.Printf("written to %s\n", *out)
	}
	return nil
}

func numCPU() int {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "processor") {
			n++
		}
	}
	return n
}
