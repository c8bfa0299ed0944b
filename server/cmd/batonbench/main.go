// Command batonbench measures Baton against baselines measured in the same
// run, and prints ratios (machines here are shared and noisy: only ratios
// within one run mean something).
//
//	batonbench [-d 3s] [-runs 3] [-c 8,64,256] [-out FILE]   run every benchmark
//	batonbench load -url URL -c N -d DUR                     the load generator (a separate process)
//
// The click benchmark (on wrk, wrk.go) drives GET /c/{link} (which makes each click durable before
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
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/batonhq/baton/server/internal/app"
	"github.com/batonhq/baton/server/internal/clickid"
	"github.com/batonhq/baton/server/internal/config"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		if err := serve(); err != nil {
			fmt.Fprintln(os.Stderr, "batonbench serve:", err)
			os.Exit(1)
		}
		return
	}
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
	body := fs.String("body", "", "POST this JSON body instead of GET; %s is replaced by a unique key")
	auth := fs.String("auth", "", "Authorization header value")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx := context.Background() // the load child process runs until -d elapses
	nonce := strconv.FormatInt(time.Now().UnixNano(), 36)
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
				key := nonce + "-w" + strconv.Itoa(w) + "-" + strconv.Itoa(i)
				var req *http.Request
				var err error
				if *body != "" {
					req, err = http.NewRequestWithContext(ctx, http.MethodPost, *target, strings.NewReader(strings.ReplaceAll(*body, "%s", key)))
					if req != nil {
						req.Header.Set("Content-Type", "application/json")
					}
				} else {
					req, err = http.NewRequestWithContext(ctx, http.MethodGet, *target+sep+"param1="+key, nil)
				}
				if err != nil { // a malformed -target: count it rather than crash
					errs[w]++
					continue
				}
				req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0 batonbench")
				if *auth != "" {
					req.Header.Set("Authorization", *auth)
				}
				res, err := client.Do(req)
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

// runLoad runs the load generator as a child process; extra are more flags.
func runLoad(ctx context.Context, url string, conc int, dur time.Duration, extra ...string) (Result, error) {
	self, err := os.Executable()
	if err != nil {
		return Result{}, err
	}
	cmd := exec.CommandContext(ctx, self, append([]string{"load", "-url", url, "-c", strconv.Itoa(conc), "-d", dur.String()}, extra...)...)
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
	suites := fs.String("suites", defaultSuites(), "which benchmarks to run (growth, filling the click table to 10M rows, only with BATON_BENCH_10M=1 or named here)")
	sustain := fs.Duration("sustain", 30*time.Second, "how long the deliveries benchmark records conversions without pause")
	sustainConc := fs.Int("sustain-c", 64, "clients of the deliveries benchmark")
	pbWorkers := fs.Int("postback-workers", 0, "BATON_POSTBACK_WORKERS of the Baton measured (0: its default)")
	growth := fs.String("growth", "1000000,10000000", "click table sizes for the growth benchmark")
	wrkConcs := fs.String("wrk-c", "64,256", "connections for the click suite on wrk")
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
	if os.Getenv("BATON_BENCH_NO_SPOOL") != "" { // the synchronous click path, for comparison
		cfg.ClickSpoolMaxBytes = 0
	}
	cfg.PostbackAllow = "127.0.0.0/8" // the receiver is on loopback
	if *pbWorkers > 0 {
		cfg.PostbackWorkers = *pbWorkers
	}
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
	defer func() {
		stopServe()
		if err := <-served; err != nil {
			fmt.Fprintln(os.Stderr, "batonbench: serve:", err)
		}
	}()

	// The baseline: a bare Go handler answering the same 302, recording nothing.
	bareLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	bareDBLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	bare := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := clickid.Default.New() // a fresh click ID, as Baton's redirect carries
		http.Redirect(w, r, "https://shop.example.com/lp?sid="+id+"&aff_userid=1000&aff_siteid=1000", http.StatusFound)
	})}
	go func() { _ = bare.Serve(bareLn) }()
	defer bare.Close()

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
	var b strings.Builder
	fmt.Fprintf(&b, "Baton benchmarks, %s, %d runs of %s per figure (median, spread = (max-min)/median)\n",
		time.Now().UTC().Format(time.RFC3339), *runs, *dur)
	fmt.Fprintf(&b, "machine: %d CPUs; load from a separate process over loopback, keep-alive; PostgreSQL on the same machine\n\n", numCPU())

	run := func(name string) bool { return strings.Contains(","+*suites+",", ","+name+",") }
	if run("clicks") {
		clickTargets := []target{
			{name: "bare Go 302 handler", url: "http://" + bareLn.Addr().String() + "/c/demo"},
			{name: "Baton redirect (durable)", url: "http://" + cfg.Addr + "/c/" + app.DemoLinkID},
		}
		if nginxURL, stopNginx, err := startNginx(dataDir); err == nil {
			defer stopNginx()
			clickTargets = append(clickTargets, target{name: "nginx return 302", url: nginxURL})
		} else {
			fmt.Fprintln(os.Stderr, "  (no nginx baseline:", err, ")")
		}
		rss := watchRSS(os.Getpid())
		clickTable, err := clickSuite(ctx, srv, db, clickTargets, *wrkConcs, *runs, *dur, *cpuProfile == "")
		if err != nil {
			return err
		}
		b.WriteString(clickTable)
		b.WriteString(rss.line("click (wrk)"))
		b.WriteString("\n")
	}

	// Conversions: Baton's intake (auth, validation, click lookup,
	// attribution, commission, history and postback enqueue in one
	// transaction) against a handler that inserts the same row and nothing else.
	recv := newPostbackReceiver()
	recvLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	recvSrv := &http.Server{Handler: recv}
	go func() { _ = recvSrv.Serve(recvLn) }()
	defer recvSrv.Close()
	clickID, err := benchClick(ctx, cfg.Addr)
	if err != nil {
		return err
	}
	if err := benchEndpoint(ctx, cfg.Addr, cfg.AdminKey, "http://"+recvLn.Addr().String()+"/pb?o={order_id}"); err != nil {
		return err
	}
	// The baseline's own pool on the same database: the store hands out no
	// driver types.
	pool, err := pgxpool.New(ctx, db.Store.ConnString())
	if err != nil {
		return err
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS bench_bare (id text PRIMARY KEY, click_id text, order_id text, amount bigint, created_at timestamptz)`); err != nil {
		return err
	}
	bareDB := &http.Server{Handler: bareInsert(pool)}
	go func() { _ = bareDB.Serve(bareDBLn) }()
	defer bareDB.Close()
	if run("tracing") {
		table, err := tracingOverhead(ctx, db.Store.ConnString(), dataDir, cfg.AdminKey, concs, *runs, *dur)
		if err != nil {
			return err
		}
		b.WriteString(table)
		fmt.Fprintf(&b, "target (issue 7): with no OTEL_* variables set, the click redirect loses less than 5%% against Baton without instrumentation\n\n")
	}
	if run("conversions") {
		convBody := `{"clickId":"` + clickID + `","orderId":"%s","amountJpy":"1980","buyer":{"userName":"benchuser"}}`
		rss := watchRSS(os.Getpid())
		convTable, err := compare(ctx, "Conversion intake: Baton RecordConversion (one transaction incl. attribution and postback enqueue) vs a bare INSERT of the same row", []target{
			{name: "bare INSERT handler", url: "http://" + bareDBLn.Addr().String() + "/bare", extra: []string{"-status", "200", "-body", convBody}},
			{name: "Baton RecordConversion", url: "http://" + cfg.Addr + "/baton.v1.ConversionService/RecordConversion",
				extra: []string{"-status", "200", "-body", convBody, "-auth", "Bearer " + cfg.AdminKey}},
		}, concs, *runs, *dur)
		if err != nil {
			return err
		}
		b.WriteString(convTable)
		fmt.Fprintf(&b, "target (issue 4): 5,000 conversions/s or more\n")
		b.WriteString(rss.line("conversion"))
		b.WriteString("\n")
	}
	if run("rules") {
		// The cost of conversion rules and caps at intake: the same
		// RecordConversion on an advertiser with 20 rules (every one
		// evaluated) and 3 caps (every one counted, none reached) and on
		// one with neither, interleaved run by run.
		rulesClick, err := rulesBench(ctx, db, cfg.Addr, cfg.AdminKey)
		if err != nil {
			return err
		}
		convBody := `{"clickId":"%s","orderId":"%%s","amountJpy":"1980","buyer":{"userName":"benchuser","ip":"192.168.10.7","userAgent":"Mozilla/5.0 Safari/605"}}`
		table, err := compare(ctx, "Conversion rules and caps at intake: RecordConversion with none vs 20 rules (all evaluated; the last accepts) and 3 caps (all counted, never reached)", []target{
			{name: "intake, no rules", url: "http://" + cfg.Addr + "/baton.v1.ConversionService/RecordConversion",
				extra: []string{"-status", "200", "-body", fmt.Sprintf(convBody, clickID), "-auth", "Bearer " + cfg.AdminKey}},
			{name: "intake, 20 rules + 3 caps", url: "http://" + cfg.Addr + "/baton.v1.ConversionService/RecordConversion",
				extra: []string{"-status", "200", "-body", fmt.Sprintf(convBody, rulesClick), "-auth", "Bearer " + cfg.AdminKey}},
		}, concs, *runs, *dur)
		if err != nil {
			return err
		}
		b.WriteString(table)
		fmt.Fprintf(&b, "target (issue 19): 20 rules and 3 caps against none, ratio 0.9 or more\n\n")
	}
	if run("postbacks") {
		// Let the postbacks caused by the conversion benchmark drain first,
		// so this one measures its own deliveries, not a backlog.
		for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
			if n, _, err := db.Store.PendingDeliveries(ctx); err == nil && n == 0 {
				break
			}
		}
		pbTable, err := postbackBench(ctx, cfg, clickID, recv, "http://"+recvLn.Addr().String(), concs, *runs)
		if err != nil {
			return err
		}
		b.WriteString(pbTable)
		fmt.Fprintf(&b, "targets (issue 5): 2,000 deliveries/s or more; p50 from conversion to postback received under 50 ms\n\n")
	}
	if run("deliveries") {
		for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
			if n, _, err := db.Store.PendingDeliveries(ctx); err == nil && n == 0 {
				break
			}
		}
		table, err := deliveriesBench(ctx, cfg, clickID, recv, "http://"+recvLn.Addr().String(), *sustainConc, *runs, *sustain)
		if err != nil {
			return err
		}
		b.WriteString(table)
	}
	if run("growth") {
		table, err := growthBench(ctx, pool, cfg, *growth, *dur, *runs)
		if err != nil {
			return err
		}
		b.WriteString(table)
	}
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

// defaultSuites is every suite; the growth suite (minutes of filling the
// click table to 10M rows) only with BATON_BENCH_10M=1.
func defaultSuites() string {
	s := "clicks,tracing,conversions,rules,postbacks,deliveries"
	if os.Getenv("BATON_BENCH_10M") != "" {
		s += ",growth"
	}
	return s
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

// target is one side of a comparison: a URL and load-generator flags.
type target struct {
	name  string
	url   string
	extra []string
}

// compare measures targets at each concurrency, interleaving them run by
// run so drift on a shared machine hits both, and returns a table whose
// ratio column compares each with the first (the baseline).
func compare(ctx context.Context, title string, targets []target, concs []int, runs int, dur time.Duration) (string, error) {
	for _, t := range targets { // warm up connections, caches and the database
		if _, err := runLoad(ctx, t.url, 8, time.Second, t.extra...); err != nil {
			return "", fmt.Errorf("%s: %w", t.name, err)
		}
	}
	results := map[string]map[int]*series{}
	for _, t := range targets {
		results[t.name] = map[int]*series{}
		for _, c := range concs {
			results[t.name][c] = &series{}
		}
	}
	for _, c := range concs {
		for r := range runs {
			for _, t := range targets {
				res, err := runLoad(ctx, t.url, c, dur, t.extra...)
				if err != nil {
					return "", fmt.Errorf("%s: %w", t.name, err)
				}
				s := results[t.name][c]
				s.rps = append(s.rps, res.RPS)
				s.p50 = append(s.p50, res.P50ms)
				s.p99 = append(s.p99, res.P99ms)
				s.errors += res.Errors
				fmt.Fprintf(os.Stderr, "  c=%-3d run %d %-28s %8.0f req/s  p50 %6.2f ms  p99 %6.2f ms  errors %d\n",
					c, r+1, t.name, res.RPS, res.P50ms, res.P99ms, res.Errors)
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", title)
	fmt.Fprintf(&b, "%-6s %-28s %12s %8s %9s %9s %7s %12s\n", "conc", "target", "req/s", "spread", "p50 ms", "p99 ms", "errors", "ratio")
	for _, c := range concs {
		base := median(results[targets[0].name][c].rps)
		for i, t := range targets {
			s := results[t.name][c]
			ratio := "1.00 (base)"
			if i > 0 && base > 0 {
				ratio = fmt.Sprintf("%.2f", median(s.rps)/base)
			}
			fmt.Fprintf(&b, "%-6d %-28s %12.0f %7.0f%% %9.2f %9.2f %7d %12s\n", c, t.name, median(s.rps), spread(s.rps), median(s.p50), median(s.p99), s.errors, ratio)
		}
	}
	return b.String(), nil
}

// benchClick makes one click through the demo link and returns its ID.
func benchClick(ctx context.Context, addr string) (string, error) {
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/c/"+app.DemoLinkID+"?param1=bench-media", nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0 batonbench-click")
	res, err := client.Do(req)
	if err != nil {
		return "", err
	}
	res.Body.Close()
	u, err := url.Parse(res.Header.Get("Location"))
	if err != nil {
		return "", err
	}
	return u.Query().Get("sid"), nil
}

// benchEndpoint registers a postback endpoint for the demo publisher.
func benchEndpoint(ctx context.Context, addr, adminKey, tpl string) error {
	body := `{"publisherId":"` + app.DemoPublisherID + `","events":["POSTBACK_EVENT_PENDING"],"method":"POSTBACK_METHOD_GET","urlTemplate":"` + tpl + `"}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/baton.v1.PostbackService/CreatePostbackEndpoint", strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+adminKey)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, err := io.ReadAll(res.Body)
		return errors.Join(fmt.Errorf("create endpoint: %d %s", res.StatusCode, b), err)
	}
	return nil
}

// bareInsert is the conversion baseline: decode the same JSON and insert one
// row, no checks, no attribution, no transaction beyond the insert.
func bareInsert(pool *pgxpool.Pool) http.Handler {
	var n atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			ClickID   string `json:"clickId"`
			OrderID   string `json:"orderId"`
			AmountJpy string `json:"amountJpy"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		amount, err := strconv.ParseInt(in.AmountJpy, 10, 64)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		id := "bare_" + strconv.FormatInt(n.Add(1), 36) + "_" + in.OrderID
		if _, err := pool.Exec(r.Context(), `INSERT INTO bench_bare (id, click_id, order_id, amount, created_at) VALUES ($1, $2, $3, $4, now())`,
			id, in.ClickID, in.OrderID, amount); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{}`)
	})
}

// postbackReceiver records when each postback (by order ID) arrived.
type postbackReceiver struct {
	mu      sync.Mutex
	arrived map[string]time.Time
}

func newPostbackReceiver() *postbackReceiver {
	return &postbackReceiver{arrived: map[string]time.Time{}}
}

func (p *postbackReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	p.mu.Lock()
	p.arrived[r.URL.Query().Get("o")] = now
	p.mu.Unlock()
	_, _ = io.WriteString(w, "ok")
}

func (p *postbackReceiver) at(order string) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t, ok := p.arrived[order]
	return t, ok
}

// postbackBench measures postback delivery end to end: conversions
// recorded by 8, 64 and 256 clients, each causing one postback enqueued in
// its transaction and sent by the worker, until the receiver has them all,
// against a bare HTTP client loop with as many clients to the same
// receiver; and, unloaded, the time from a conversion to its postback.
func postbackBench(ctx context.Context, cfg config.Config, clickID string, recv *postbackReceiver, recvURL string, concs []int, runs int) (string, error) {
	const n = 2000
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}, Timeout: 10 * time.Second}
	nonce := strconv.FormatInt(time.Now().UnixNano(), 36)
	record := func(order string) error { return recordConversion(ctx, client, cfg, clickID, order) }
	// each runs f(i) for i in 1..n from conc goroutines.
	each := func(conc int, f func(i int64)) {
		var wg sync.WaitGroup
		var next atomic.Int64
		for range conc {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := next.Add(1); i <= n; i = next.Add(1) {
					f(i)
				}
			}()
		}
		wg.Wait()
	}
	bare := func(conc int) float64 {
		start := time.Now()
		each(conc, func(i int64) {
			res, err := client.Get(recvURL + "/pb?o=bare-" + strconv.FormatInt(i, 10))
			if err == nil {
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
		})
		return float64(n) / time.Since(start).Seconds()
	}
	// burst records n conversions from conc clients and waits for every
	// postback: deliveries per second from the first conversion to the
	// last postback, and each postback's delay after its conversion.
	burst := func(tag string, conc int) (float64, []float64, error) {
		recorded := make([]time.Time, n)
		var failed atomic.Int64
		start := time.Now()
		each(conc, func(i int64) {
			if record(fmt.Sprintf("pb-%s-%s-%d", nonce, tag, i)) != nil {
				failed.Add(1)
				return
			}
			recorded[i-1] = time.Now()
		})
		if failed.Load() > 0 {
			return 0, nil, fmt.Errorf("%d conversions failed", failed.Load())
		}
		deadline := time.Now().Add(2 * time.Minute)
		var lat []float64
		var last time.Time
		for i := 1; i <= n; i++ {
			for {
				if t, ok := recv.at(fmt.Sprintf("pb-%s-%s-%d", nonce, tag, i)); ok {
					lat = append(lat, float64(t.Sub(recorded[i-1]).Microseconds())/1000)
					if t.After(last) {
						last = t
					}
					break
				}
				if time.Now().After(deadline) {
					return 0, nil, fmt.Errorf("postback for conversion %d never arrived", i)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
		sort.Float64s(lat)
		return float64(n) / last.Sub(start).Seconds(), lat, nil
	}

	// Unloaded: one conversion at a time, each postback awaited.
	var quiet []float64
	for i := range 100 {
		order := "quiet-" + nonce + "-" + strconv.Itoa(i)
		if err := record(order); err != nil {
			return "", err
		}
		t0 := time.Now()
		for {
			if t, ok := recv.at(order); ok {
				quiet = append(quiet, float64(t.Sub(t0).Microseconds())/1000)
				break
			}
			if time.Since(t0) > 10*time.Second {
				return "", fmt.Errorf("postback for %s never arrived", order)
			}
			time.Sleep(time.Millisecond)
		}
	}
	sort.Float64s(quiet)

	var b strings.Builder
	fmt.Fprintf(&b, "Postback delivery: %d conversions recorded by N clients, each postback enqueued in its transaction and sent by the worker\n", n)
	fmt.Fprintf(&b, "(every attempt logged), first conversion to last postback received, vs a bare HTTP client loop with N clients to the same receiver\n")
	fmt.Fprintf(&b, "%-6s %-34s %12s %8s %9s %9s %12s\n", "conc", "target", "per second", "spread", "p50 ms", "p99 ms", "ratio")
	for _, conc := range concs {
		var bareRates, rates, p50s, p99s []float64
		for r := range runs {
			bareRates = append(bareRates, bare(conc))
			rate, lat, err := burst(fmt.Sprintf("%d-%d", conc, r), conc)
			if err != nil {
				return "", err
			}
			fmt.Fprintf(os.Stderr, "  c=%d run %d postbacks %6.0f/s (bare loop %6.0f/s), delay p50 %.1f ms p99 %.1f ms\n",
				conc, r+1, rate, bareRates[r], lat[len(lat)/2], lat[len(lat)*99/100])
			rates, p50s, p99s = append(rates, rate), append(p50s, lat[len(lat)/2]), append(p99s, lat[len(lat)*99/100])
		}
		fmt.Fprintf(&b, "%-6d %-34s %12.0f %7.0f%% %9s %9s %12s\n", conc, "bare HTTP client loop", median(bareRates), spread(bareRates), "", "", "1.00 (base)")
		fmt.Fprintf(&b, "%-6d %-34s %12.0f %7.0f%% %9.1f %9.1f %12.2f\n", conc, "Baton: conversion to postback", median(rates), spread(rates),
			median(p50s), median(p99s), median(rates)/median(bareRates))
	}
	fmt.Fprintf(&b, "(p50/p99: from a conversion's success to its postback received, queueing included)\n")
	fmt.Fprintf(&b, "one conversion at a time (100): conversion recorded to postback received p50 %.1f ms, p99 %.1f ms\n",
		quiet[len(quiet)/2], quiet[len(quiet)*99/100])
	return b.String(), nil
}

// serve runs a Baton configured by BATON_* variables (a child process of
// the benchmark, so two configurations can be measured side by side).
func serve() error {
	cfg, err := config.Load(nil, os.Getenv, os.Stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	db, err := app.OpenDatabase(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer db.Close(context.Background())
	srv, err := app.New(cfg, log, db)
	if err != nil {
		return err
	}
	return srv.Serve(ctx, nil)
}

// tracingOverhead measures the click redirect of Baton as shipped (no
// OTEL_* variables: nothing exported) against the same binary with all
// instrumentation off (BATON_TELEMETRY=off), each in its own process on the
// same database.
func tracingOverhead(ctx context.Context, dbURL, dataDir, adminKey string, concs []int, runs int, dur time.Duration) (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	start := func(telemetry string) (string, func(), int, error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", nil, 0, err
		}
		addr := ln.Addr().String()
		ln.Close()
		cmd := exec.CommandContext(ctx, self, "serve")
		env := []string{}
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "OTEL_") {
				env = append(env, kv)
			}
		}
		cmd.Env = append(env, "BATON_DATABASE_URL="+dbURL, "BATON_DATA_DIR="+dataDir, "BATON_ADDR="+addr,
			"BATON_ADMIN_KEY="+adminKey, "BATON_TELEMETRY="+telemetry, "BATON_LOG_LEVEL=error")
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			return "", nil, 0, err
		}
		stop := func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if res, err := http.Get("http://" + addr + "/readyz"); err == nil {
				res.Body.Close()
				if res.StatusCode == http.StatusOK {
					return addr, stop, cmd.Process.Pid, nil
				}
			}
		}
		stop()
		return "", nil, 0, fmt.Errorf("baton (telemetry %s) did not start", telemetry)
	}
	var onPID int
	offAddr, stopOff, _, err := start("off")
	if err != nil {
		return "", err
	}
	defer stopOff()
	onAddr, stopOn, pid, err := start("on")
	onPID = pid
	if err != nil {
		return "", err
	}
	defer stopOn()
	before := procStatus(onPID)
	table, err := compare(ctx, "Tracing cost: Baton with its instrumentation (no OTEL_* set) vs the same binary with BATON_TELEMETRY=off", []target{
		{name: "Baton, instrumentation off", url: "http://" + offAddr + "/c/" + app.DemoLinkID},
		{name: "Baton, instrumentation on", url: "http://" + onAddr + "/c/" + app.DemoLinkID},
	}, concs, runs, dur)
	if err != nil {
		return "", err
	}
	peak := procStatus(onPID)
	time.Sleep(10 * time.Second)
	after := procStatus(onPID)
	// An idle Go process collects at least every 2 minutes, and the
	// scavenger then hands the freed pages back: look again after that.
	time.Sleep(125 * time.Second)
	later := procStatus(onPID)
	table += fmt.Sprintf("memory of the server process under this click load: RSS %d MiB before, peak %d MiB, %d MiB 10 s after the load, %d MiB 135 s after\n",
		before["VmRSS"]/1024, peak["VmHWM"]/1024, after["VmRSS"]/1024, later["VmRSS"]/1024)
	return table, nil
}

// procStatus reads the kB figures of /proc/PID/status.
func procStatus(pid int) map[string]int64 {
	out := map[string]int64{}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return out
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 2 && f[1] == "kB" {
			if n, err := strconv.ParseInt(f[0], 10, 64); err == nil {
				out[k] = n
			}
		}
	}
	return out
}

// growthBench fills the click table to each size and measures the click
// redirect and conversion intake (whose click lookup is by ID) there, as a
// ratio to the same measurements on the table as it was: the median of runs
// alternating the two loads, with its spread. It also prints the size of
// the click table and its indexes against PostgreSQL's shared buffers, the
// usual reason a cost grows with a table.
func growthBench(ctx context.Context, pool *pgxpool.Pool, cfg config.Config, sizes string, dur time.Duration, runs int) (string, error) {
	// The suites before this one left a million clicks or so behind: start
	// from an empty table (the bench's own private cluster) so that the
	// baseline is a small table and 1M means 1M.
	if _, err := pool.Exec(ctx, `TRUNCATE clicks`); err != nil {
		return "", err
	}
	clickID, err := benchClick(ctx, cfg.Addr)
	if err != nil {
		return "", err
	}
	body := `{"clickId":"` + clickID + `","orderId":"%s","amountJpy":"1980"}`
	type fig struct{ clicks, convs []float64 }
	measure := func() (fig, error) {
		var f fig
		for range runs {
			c, err := runLoad(ctx, "http://"+cfg.Addr+"/c/"+app.DemoLinkID, 64, dur)
			if err != nil {
				return f, err
			}
			v, err := runLoad(ctx, "http://"+cfg.Addr+"/baton.v1.ConversionService/RecordConversion", 64, dur,
				"-status", "200", "-body", body, "-auth", "Bearer "+cfg.AdminKey)
			if err != nil {
				return f, err
			}
			f.clicks, f.convs = append(f.clicks, c.RPS), append(f.convs, v.RPS)
		}
		return f, nil
	}
	// The click table is partitioned: its size is its partitions' sizes.
	size := func() (table, indexes int64, err error) {
		err = pool.QueryRow(ctx, `SELECT coalesce(sum(pg_table_size(inhrelid)), 0)::bigint, coalesce(sum(pg_indexes_size(inhrelid)), 0)::bigint
			FROM pg_inherits WHERE inhparent = 'clicks'::regclass`).Scan(&table, &indexes)
		return table, indexes, err
	}
	var have int64
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM clicks`).Scan(&have); err != nil {
		return "", err
	}
	var buffers string
	if err := pool.QueryRow(ctx, `SELECT current_setting('shared_buffers')`).Scan(&buffers); err != nil {
		return "", err
	}
	f0, err := measure()
	if err != nil {
		return "", err
	}
	c0, v0 := median(f0.clicks), median(f0.convs)
	const mib = 1 << 20
	var b strings.Builder
	fmt.Fprintf(&b, "Growth: the click redirect and conversion intake (click looked up by ID) as the click table grows, 64 clients, %d runs each\n", runs)
	fmt.Fprintf(&b, "(PostgreSQL shared_buffers %s; table and index sizes are of the click partitions)\n", buffers)
	fmt.Fprintf(&b, "%-14s %10s %11s %12s %7s %7s %14s %7s %7s\n", "clicks stored", "table MiB", "indexes MiB", "redirects/s", "spread", "ratio", "conversions/s", "spread", "ratio")
	// Each row counts the clicks after its runs: the redirect load itself
	// adds tens of thousands.
	row := func(f fig) error {
		t, i, err := size()
		if err != nil {
			return err
		}
		var n int64
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM clicks`).Scan(&n); err != nil {
			return err
		}
		fmt.Fprintf(&b, "%-14d %10d %11d %12.0f %6.0f%% %7.2f %14.0f %6.0f%% %7.2f\n", n, t/mib, i/mib,
			median(f.clicks), spread(f.clicks), median(f.clicks)/c0, median(f.convs), spread(f.convs), median(f.convs)/v0)
		return nil
	}
	if err := row(f0); err != nil {
		return "", err
	}
	var targets []int64
	for _, s := range strings.Split(sizes, ",") {
		target, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil || target < 1 {
			return "", fmt.Errorf("bad growth size %q", s)
		}
		targets = append(targets, target)
	}
	maxTarget := slices.Max(targets)
	var figs []fig
	for _, target := range targets {
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM clicks`).Scan(&have); err != nil {
			return "", err
		}
		fmt.Fprintf(os.Stderr, "  growth: filling the click table to %d rows...\n", target)
		filled := time.Now()
		if err := fillClicks(ctx, pool, have, target, maxTarget); err != nil {
			return "", err
		}
		fmt.Fprintf(os.Stderr, "  growth: %d rows in %s\n", target, time.Since(filled).Round(time.Second))
		if _, err := pool.Exec(ctx, `ANALYZE clicks`); err != nil {
			return "", err
		}
		f, err := measure()
		if err != nil {
			return "", err
		}
		if err := row(f); err != nil {
			return "", err
		}
		figs = append(figs, f)
	}
	// Issue 18: at the largest size within 10 % of the first (1M).
	if len(figs) >= 2 {
		first, last := figs[0], figs[len(figs)-1]
		cr, vr := median(last.clicks)/median(first.clicks), median(last.convs)/median(first.convs)
		verdict := func(r float64) string {
			if r >= 0.9 {
				return "holds"
			}
			return "DOES NOT hold"
		}
		fmt.Fprintf(&b, "%d vs %d clicks stored: redirect %.2f (%s), conversion intake %.2f (%s); target (issue 18) within 10 %% (>= 0.90)\n",
			targets[len(targets)-1], targets[0], cr, verdict(cr), vr, verdict(vr))
	}
	return b.String(), nil
}

// fillClicks adds clicks to the table until it holds target rows, in
// chunks of a million, straight from generate_series on the server (no
// rows cross the network). The rows are shaped like real ones and arrive
// in time order, as clicks do: created_at runs over the last 20 days, from
// the oldest, spaced so that maxTarget rows span the 20 days, and each ID
// starts with its creation time in milliseconds (hex, as sortable as a real
// click ID), so the primary key and (publisher_id, id) grow at their right
// end; the (offer_id, ip, created_at) index gets addresses from 62,500
// networks, as it would. Rows go to the parent table: PostgreSQL routes
// each to its monthly partition (the partitions of the last month and
// this one exist from the start, and the default partition takes
// anything else), so this works however the table is partitioned.
func fillClicks(ctx context.Context, pool *pgxpool.Pool, have, target, maxTarget int64) error {
	const span = 20 * 24 * time.Hour
	step := span / time.Duration(maxTarget)
	start := time.Now().Add(-span).UTC()
	for have < target {
		n := min(target-have, 1_000_000)
		_, err := pool.Exec(ctx, `INSERT INTO clicks (id, created_at, link_id, offer_id, advertiser_id, publisher_id, site_id,
				source, sub_ids, upstream_id, ip, user_agent, is_unique, expires_at)
			SELECT lpad(to_hex((extract(epoch FROM t) * 1000)::bigint), 12, '0') || substr(md5(g::text), 1, 17), t,
				'demo', 'off_demo', 'adv_demo', 'pub_demo', 'site_demo',
				1, ARRAY['g' || g], 'g' || lpad(g::text, 12, '0'),
				('10.' || (g % 250) || '.' || ((g / 250) % 250) || '.' || (g % 199))::inet, 'bench', true, t + interval '30 days'
			FROM generate_series($1::bigint + 1, $1::bigint + $2::bigint) AS g,
				LATERAL (SELECT $3::timestamptz + g * $4::interval AS t) x`, have, n, start, step)
		if err != nil {
			return fmt.Errorf("fill clicks: %w", err)
		}
		have += n
	}
	return nil
}

// startNginx runs nginx, when installed, answering every request with
// "return 302", as a second baseline for the redirect.
func startNginx(dir string) (string, func(), error) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		return "", nil, errors.New("nginx is not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	prefix := filepath.Join(dir, "nginx")
	if err := os.MkdirAll(filepath.Join(prefix, "logs"), 0o755); err != nil {
		return "", nil, err
	}
	conf := fmt.Sprintf(`daemon off; master_process off; worker_processes 1; pid %[1]s/nginx.pid; error_log %[1]s/logs/error.log;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  client_body_temp_path %[1]s/body; proxy_temp_path %[1]s/proxy; fastcgi_temp_path %[1]s/fastcgi; uwsgi_temp_path %[1]s/uwsgi; scgi_temp_path %[1]s/scgi;
  server { listen %[2]s; location / { return 302 https://shop.example.com/lp?sid=00000000000000000000000000000&aff_userid=1000&aff_siteid=1000; } } }
`, prefix, addr)
	confPath := filepath.Join(prefix, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return "", nil, err
	}
	cmd := exec.Command(bin, "-p", prefix, "-c", confPath)
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop := func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return "http://" + addr + "/c/demo", stop, nil
		}
	}
	stop()
	return "", nil, errors.New("nginx did not start")
}
