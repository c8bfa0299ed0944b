// Package app wires Baton together and runs it: configuration → logger →
// database (embedded or external) → migrations → services → one HTTP server
// for gRPC, gRPC-Web, Connect and plain HTTP, with graceful shutdown.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"buf.build/go/protovalidate"
	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	"connectrpc.com/otelconnect"
	"connectrpc.com/validate"
	"github.com/exaring/otelpgx"
	"github.com/riverqueue/river"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"

	"github.com/batonhq/baton/gen/go/baton/v1/batonv1connect"
	"github.com/batonhq/baton/gen/openapi"
	"github.com/batonhq/baton/server/internal/auth"
	"github.com/batonhq/baton/server/internal/clickid"
	"github.com/batonhq/baton/server/internal/config"
	"github.com/batonhq/baton/server/internal/console"
	"github.com/batonhq/baton/server/internal/delivery"
	"github.com/batonhq/baton/server/internal/domain"
	"github.com/batonhq/baton/server/internal/gateway"
	"github.com/batonhq/baton/server/internal/pgembed"
	"github.com/batonhq/baton/server/internal/postback"
	"github.com/batonhq/baton/server/internal/rpc"
	"github.com/batonhq/baton/server/internal/secretbox"
	"github.com/batonhq/baton/server/internal/service"
	"github.com/batonhq/baton/server/internal/spool"
	"github.com/batonhq/baton/server/internal/store"
	"github.com/batonhq/baton/server/internal/telemetry"
	"github.com/batonhq/baton/server/internal/traces"
)

// ServiceNames are the Connect services Baton serves, for health and
// reflection.
var ServiceNames = []string{
	batonv1connect.ConfigServiceName,
	batonv1connect.ClickServiceName,
	batonv1connect.ConversionServiceName,
	batonv1connect.AttributionServiceName,
	batonv1connect.PostbackServiceName,
	batonv1connect.PartnerServiceName,
	batonv1connect.CapServiceName,
	batonv1connect.RuleServiceName,
	batonv1connect.BlocklistServiceName,
}

// NewLogger builds the process logger from the configuration.
func NewLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Database is an open, migrated store and whatever must be stopped with it.
type Database struct {
	Store   *store.Store
	cluster *pgembed.Cluster
}

// Close closes the pool, then stops the embedded cluster if one was started.
func (d *Database) Close(ctx context.Context) {
	d.Store.Close()
	if d.cluster != nil {
		_ = d.cluster.Stop(ctx)
	}
}

// Failed is closed when the embedded cluster died for good (it is
// restarted on its own otherwise); nil, never closed, for an external
// database.
func (d *Database) Failed() <-chan struct{} {
	if d.cluster == nil {
		return nil
	}
	return d.cluster.Failed()
}

// Option changes how OpenDatabase and New build Baton; the defaults are
// what production runs.
type Option func(*options)

type options struct {
	now func() time.Time
}

func buildOptions(opts []Option) options {
	o := options{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// WithClock makes now the time source of the store, the services (click
// windows, approval, FC2 timestamps, import), API key caching, the
// postback queue's retry schedule and click retention, so tests can move
// time instead of sleeping. nil means time.Now. (Not yet reached: the
// redirect's cookie expiry in gateway and service.Postbacks, which set
// time.Now themselves.)
func WithClock(now func() time.Time) Option {
	return func(o *options) {
		if now != nil {
			o.now = now
		}
	}
}

// OpenDatabase connects to BATON_DATABASE_URL, or starts the embedded
// cluster, and applies pending migrations.
func OpenDatabase(ctx context.Context, cfg config.Config, log *slog.Logger, with ...Option) (*Database, error) {
	o := buildOptions(with)
	// 0711: others may pass through (the embedded cluster runs as an
	// unprivileged user when Baton runs as root) but not list it.
	if err := os.MkdirAll(cfg.DataDir, 0o711); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	key, err := masterKey(cfg)
	if err != nil {
		return nil, err
	}
	box, err := secretbox.New(key)
	if err != nil {
		return nil, err
	}
	db := &Database{}
	url := cfg.DatabaseURL
	if url == "" {
		dir := filepath.Join(cfg.DataDir, "postgres")
		log.InfoContext(ctx, "starting embedded PostgreSQL", "dir", dir)
		db.cluster, err = pgembed.Start(ctx, pgembed.Config{Dir: dir, Database: "baton", Logger: log.With("component", "pgembed")})
		if err != nil {
			return nil, fmt.Errorf("embedded PostgreSQL: %w", err)
		}
		url = db.cluster.URL()
	}
	stOpts := store.Options{MaxConns: int32(cfg.DBMaxConns), Box: box, Logger: log, Now: o.now}
	if cfg.Telemetry != "off" {
		stOpts.Tracer = otelpgx.NewTracer() // span names are the trimmed SQL (otelpgx's default)
	}
	db.Store, err = store.Open(ctx, url, stOpts)
	if err != nil {
		if db.cluster != nil {
			_ = db.cluster.Stop(context.Background())
		}
		return nil, err
	}
	applied, err := db.Store.Migrate(ctx)
	if err != nil {
		db.Close(context.Background())
		return nil, err
	}
	if len(applied) > 0 {
		log.InfoContext(ctx, "applied migrations", "versions", applied)
	}
	if err := db.Store.MigrateQueue(ctx); err != nil {
		db.Close(context.Background())
		return nil, err
	}
	if cfg.ReplicaURL != "" {
		// Reports and listings read the replica while it is up and close
		// behind; a replica that is down at start is no error.
		if err := db.Store.WithReplica(ctx, cfg.ReplicaURL, cfg.ReplicaMaxLag); err != nil {
			db.Close(context.Background())
			return nil, fmt.Errorf("BATON_REPLICA_URL: %w", err)
		}
		log.InfoContext(ctx, "read replica configured", "state", db.Store.ReplicaStatus().State)
	}
	return db, nil
}

func masterKey(cfg config.Config) ([]byte, error) {
	if cfg.MasterKey != "" {
		return secretbox.ParseKey(cfg.MasterKey)
	}
	return secretbox.LoadOrCreateKeyFile(filepath.Join(cfg.DataDir, "master.key"))
}

// Server is a configured Baton, ready to serve.
type Server struct {
	cfg     config.Config
	log     *slog.Logger
	now     func() time.Time
	db      *Database
	handler http.Handler
	clicks  *store.ClickWriter
	spool   *spool.Spool // nil: no click spool
	// conversions runs the hourly auto-approval.
	conversions *service.Conversions
	queue       *delivery.Queue
	tel         *telemetry.Telemetry
	admin       http.Handler // served on cfg.AdminAddr
	// draining is set when shutdown begins: readiness answers 503.
	draining *atomic.Bool
	logLimit *telemetry.RateLimited // its summaries are written at shutdown
	// queueRunning is set while the postback workers run (/healthz).
	queueRunning *atomic.Bool
	// config's OnChange hooks also run on changes other nodes announce.
	config *service.Config
}

// New builds the HTTP handler for every route over db.
func New(cfg config.Config, log *slog.Logger, db *Database, with ...Option) (*Server, error) {
	o := buildOptions(with)
	// Every line logged with a request's context names its trace and span;
	// a flood of one kind of warning writes a few lines a minute, not one
	// per request.
	logLimit := telemetry.NewRateLimited(log.Handler(), telemetry.DefaultLogLimit)
	log = slog.New(telemetry.WithTraceIDs(logLimit))
	tel := &telemetry.Telemetry{Metrics: http.NotFoundHandler()}
	var interceptors []connect.Interceptor
	if cfg.Telemetry != "off" {
		var err error
		if tel, err = telemetry.Setup(context.Background(), "baton"); err != nil {
			return nil, err
		}
		otelInterceptor, err := otelconnect.NewInterceptor()
		if err != nil {
			return nil, err
		}
		interceptors = append(interceptors, otelInterceptor)
	}
	proxies, err := config.ParseNetworks(cfg.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("BATON_TRUSTED_PROXIES: %w", err)
	}
	validator, err := protovalidate.New()
	if err != nil {
		return nil, fmt.Errorf("protovalidate: %w", err)
	}
	st := db.Store
	configSvc := service.NewConfig(st, auth.NewKey)
	configSvc.AnnounceWith(announcer(st, log)) // to the other nodes (nodes.go)
	// Group commit: up to 4 batches in flight, each one COPY and one commit.
	// Group commit: one batch in flight per CPU, each one COPY and one
	// commit (measured best on 2 cores: fewer, larger commits).
	clickWriter := st.NewClickWriter(max(2, runtime.GOMAXPROCS(0)), 1000)
	idGen := clickid.Default
	idGen.Now = o.now // the click's time is in its ID
	// Clicks are answered once fsynced in the local spool, which loads them
	// into PostgreSQL in batches (clickspool.go); without one, once committed.
	var recorder service.ClickRecorder = clickWriter
	clickSpool, err := openClickSpool(cfg, log, st)
	if err != nil {
		return nil, err
	}
	built := false
	if clickSpool != nil {
		recorder = spooledClicks{spool: clickSpool, direct: clickWriter}
		defer func() { // New failed: release the spool (and its lock)
			if !built {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				_ = clickSpool.Close(ctx)
			}
		}()
	}
	clickSvc := service.NewClicks(st, recorder, idGen, cfg.PublicURL)
	configSvc.OnChange(clickSvc.ConfigChanged)
	// announce drops this node's caches and tells the other nodes (their
	// listeners drop theirs): rules, caps and blocklists call it after a
	// change commits.
	announce := func(what string) func() {
		return func() {
			if err := configSvc.Changed(context.Background(), what); err != nil {
				log.Warn("configuration change not announced to the other nodes; they see it within their caches' lifetimes",
					"what", what, "error", err)
			}
		}
	}
	blocklists := service.NewBlocklists(st, o.now, announce("blocklists"))
	configSvc.OnChange(blocklists.ConfigChanged)
	clickSvc.SetBlocklists(blocklists)
	clickCaps := service.NewClickCaps(st, o.now)
	configSvc.OnChange(clickCaps.ConfigChanged)
	clickSvc.SetClickCaps(clickCaps)
	capCtx, capCancel := context.WithTimeout(context.Background(), 5*time.Second)
	if err := clickCaps.Sync(capCtx); err != nil { // else the first click starts one
		log.Warn("click caps not read at start", "error", err)
	}
	capCancel()
	authn := auth.NewInterceptor(st, log).WithClock(o.now)
	configSvc.OnChange(authn.Forget)
	inTx := func(ctx context.Context, f func(service.ConversionTx) error) error {
		return st.InTx(ctx, func(tx store.Tx) error { return f(tx) })
	}
	schedule, err := postback.ParseSchedule(cfg.PostbackSchedule)
	if err != nil {
		return nil, fmt.Errorf("BATON_POSTBACK_SCHEDULE: %w", err)
	}
	allow, err := delivery.ParseAllowList(cfg.PostbackAllow)
	if err != nil {
		return nil, fmt.Errorf("BATON_POSTBACK_ALLOW: %w", err)
	}
	queue, err := delivery.NewQueue(st, func(c *river.Config) (delivery.Runner, error) { return st.QueueClient(c) }, delivery.Options{
		Schedule: schedule, Workers: cfg.PostbackWorkers, DisableAfter: cfg.PostbackDisableAfter,
		AttemptTimeout: cfg.PostbackTimeout, RescueAfter: cfg.PostbackRescueAfter, Now: o.now,
		Client: delivery.Propagating(delivery.NoRedirects(delivery.NewGuard(allow).Client(cfg.PostbackTimeout, 0))), Logger: log.With("component", "postbacks"),
	})
	if err != nil {
		return nil, err
	}
	convSvc := service.NewConversions(st, inTx, queue, nil, o.now, log)
	if clickSpool != nil { // another node's clicks may still be in its spool
		convSvc.WithClickLoadLag(cfg.ClickSpoolMaxAge)
	}
	configSvc.OnChange(convSvc.ConfigChanged)
	convSvc.UsePublisherReasons(service.ReasonPolicy(cfg.PublisherReasons)) // BATON_PUBLISHER_REASONS
	// Conversion rules: cached per node for at most service.RuleCacheTTL,
	// dropped at once by a configuration change notice (from this node or,
	// through the config hook, another). A save here is announced.
	rulesSvc := service.NewRules(st, nil, o.now)
	configSvc.OnChange(rulesSvc.Forget)
	rulesSvc.OnChange(announce("rules"))
	convSvc.UseRules(rulesSvc)
	convSvc.SetBlocklists(blocklists)
	pbSvc := service.NewPostbacks(st, queue, inTx, renderForDryRun, postback.EventVars).WithClock(o.now)
	fc2Svc := service.NewFC2(st, cfg.PublicURL, o.now)
	convServer := rpc.NewConversionServer(convSvc, st, fc2Svc, log).WithTraces(traces.New(cfg.JaegerURL))

	// Order matters: authenticate first (an anonymous caller learns nothing,
	// not even validation rules), then bound the work, then validate.
	opts := []connect.HandlerOption{
		connect.WithInterceptors(append(interceptors,
			rpc.RecoverInterceptor(log),
			rpc.PeerInterceptor(),
			authn,
			rpc.TimeoutInterceptor(cfg.RequestTimeout),
			validate.NewInterceptor(validate.WithValidator(validator)),
		)...),
		connect.WithReadMaxBytes(int(cfg.MaxBodyBytes)),
		rpc.BoundedCompression(cfg.MaxBodyBytes),
	}
	opts = append(opts, rpc.JSONCodecs()...)
	mux := http.NewServeMux()
	importSvc := service.NewImport(st, configSvc, o.now)
	mux.Handle(batonv1connect.NewConfigServiceHandler(rpc.NewConfigServer(configSvc, validator, log).WithImport(importSvc), opts...))
	mux.Handle(batonv1connect.NewClickServiceHandler(rpc.NewClickServer(clickSvc, log), opts...))
	mux.Handle(batonv1connect.NewConversionServiceHandler(convServer, opts...))
	mux.Handle(batonv1connect.NewAttributionServiceHandler(convServer, opts...))
	mux.Handle(batonv1connect.NewCapServiceHandler(rpc.NewCapServer(service.NewCaps(st, o.now, announce("caps")), log), opts...))
	mux.Handle(batonv1connect.NewPostbackServiceHandler(rpc.NewPostbackServer(pbSvc, validator, log), opts...))
	mux.Handle(batonv1connect.NewRuleServiceHandler(rpc.NewRuleServer(rulesSvc, log), opts...))
	mux.Handle(batonv1connect.NewBlocklistServiceHandler(rpc.NewBlocklistServer(blocklists, log), opts...))
	checker := service.NewChecker(st, queue, inTx, checkClicker(nil),
		checkClicker(delivery.NoRedirects(delivery.NewGuard(allow).Client(cfg.PostbackTimeout, 0))), clickSvc.LinkURL, renderForDryRun)
	mux.Handle(batonv1connect.NewPartnerServiceHandler(rpc.NewPartnerServer(service.NewPartners(cfg.PublicURL), checker, log), opts...))

	// Health and reflection stay open: load balancers and grpcurl need no key.
	draining := new(atomic.Bool)
	mux.Handle(grpchealth.NewHandler(&dbChecker{static: grpchealth.NewStaticChecker(ServiceNames...), db: st, draining: draining}))
	reflector := grpcreflect.NewStaticReflector(append([]string{
		grpchealth.HealthV1ServiceName, grpcreflect.ReflectV1ServiceName, grpcreflect.ReflectV1AlphaServiceName,
	}, ServiceNames...)...)
	mux.Handle(grpcreflect.NewHandlerV1(reflector))
	mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector))

	plain := http.NewServeMux()
	plain.Handle("GET /c/{link}", gateway.NewRedirect(clickSvc, log, strings.HasPrefix(cfg.PublicURL, "https://")))
	plain.Handle("/postback", gateway.NewKickback(service.NewKickbacks(st, convSvc), log))
	fc2 := gateway.NewFC2(service.NewFC2Intake(st, convSvc, net.DefaultResolver.LookupHost, o.now), log)
	tag := gateway.NewTag(clickSvc, log)
	plain.HandleFunc("GET /t.js", tag.Script)
	plain.HandleFunc("GET /t/c/{id}", tag.Click)
	plain.HandleFunc("GET /tracking/tracking_img.php", fc2.Pixel)
	plain.HandleFunc("POST /tracking/tracking_post.php", fc2.Post)
	if cfg.Telemetry != "off" {
		if err := registerGauges(st); err != nil {
			return nil, err
		}
	}
	queueRunning := new(atomic.Bool)
	health := gateway.NewHealth(st, queueRunning, draining, o.now)
	if st.ReplicaStatus().Configured {
		health.WithReplica(func() string { return replicaLine(st.ReplicaStatus()) })
	}
	plain.HandleFunc("GET /openapi.json", serveOpenAPI)
	plain.HandleFunc("GET /healthz", health.Healthz)
	plain.HandleFunc("GET /readyz", health.Readyz)
	// The web console: the page at "/" exactly, its files under /console/.
	// Every other path is still a 404.
	ui := console.New()
	plain.Handle("GET /{$}", ui)
	plain.Handle("GET /console/", ui)
	// Operators' port (BATON_ADMIN_ADDR): metrics and health, never on
	// the public one.
	admin := http.NewServeMux()
	admin.Handle("GET /metrics", tel.Metrics)
	admin.Handle("GET /healthz", plain)
	admin.Handle("GET /readyz", plain)
	plain.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "404 page not found: no such route on Baton", http.StatusNotFound)
	})
	mux.Handle("/", http.MaxBytesHandler(plain, cfg.MaxBodyBytes))

	handler := forwarded(proxies, headerLimit(gateway.AnnouncedLimit(cfg.MaxBodyBytes, gateway.URIQuery(mux))))
	if on, clickRate, err := config.ParseAccessLog(cfg.AccessLog); err != nil {
		return nil, fmt.Errorf("BATON_ACCESS_LOG: %w", err)
	} else if on {
		handler = accessLog(log.With("component", "access"), clickRate, handler)
	}
	built = true
	return &Server{cfg: cfg, log: log, now: o.now, db: db, handler: gateway.RecoverHTTP(log, handler), clicks: clickWriter, spool: clickSpool, conversions: convSvc, queue: queue, queueRunning: queueRunning, tel: tel, draining: draining, admin: gateway.RecoverHTTP(log, admin), logLimit: logLimit, config: configSvc}, nil
}

// Handler returns the root handler (for tests that serve it themselves).
func (s *Server) Handler() http.Handler { return s.handler }

// Serve listens on cfg.Addr (or uses ln when non-nil) until ctx is done,
// then shuts down gracefully: it stops accepting, lets in-flight requests
// finish within ShutdownTimeout, and returns.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if ln == nil {
		var err error
		ln, err = new(net.ListenConfig).Listen(ctx, "tcp", s.cfg.Addr)
		if err != nil {
			return fmt.Errorf("listen on %s: %w", s.cfg.Addr, err)
		}
	}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true) // h2c: gRPC without TLS
	srv := &http.Server{
		Handler:           s.handler,
		Protocols:         &protocols,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       s.cfg.RequestTimeout + 10*time.Second,
		WriteTimeout:      s.cfg.RequestTimeout + 10*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    maxClickHeaderBytes, // other routes: maxHeaderBytes (headerLimit)
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	serve := func() error { return srv.Serve(ln) }
	if s.cfg.TLSCert != "" {
		// HTTPS on the one port: HTTP/1.1 and HTTP/2 by ALPN, gRPC included.
		protocols.SetHTTP2(true)
		serve = func() error { return srv.ServeTLS(ln, s.cfg.TLSCert, s.cfg.TLSKey) }
	}
	s.log.InfoContext(ctx, "baton listening", "addr", ln.Addr().String(), "public_url", s.cfg.PublicURL, "tls", s.cfg.TLSCert != "")
	if err := s.queue.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("postback queue: %w", err)
	}
	s.queueRunning.Store(true)
	errc := make(chan error, 1)
	if s.cfg.AdminAddr != "" {
		aln, err := new(net.ListenConfig).Listen(ctx, "tcp", s.cfg.AdminAddr)
		if err != nil {
			return fmt.Errorf("listen on BATON_ADMIN_ADDR %s: %w", s.cfg.AdminAddr, err)
		}
		adminSrv := &http.Server{Handler: s.admin, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: time.Minute,
			ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
		s.log.InfoContext(ctx, "admin listening (/metrics, /healthz, /readyz)", "addr", aln.Addr().String())
		go func() { _ = adminSrv.Serve(aln) }()
		defer adminSrv.Close()
	}
	go func() { errc <- serve() }()
	go s.maintain(ctx)
	// Listening lasts until Serve returns: a draining node still serves.
	listenCtx, stopListening := context.WithCancel(context.WithoutCancel(ctx))
	defer stopListening()
	go followConfig(listenCtx, s.db.Store, s.config, s.log)
	var dbErr error
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	case <-s.db.Failed():
		// Nothing works without the database: exit non-zero so that a
		// supervisor starts Baton again.
		dbErr = s.db.cluster.Err()
		s.log.Error("the embedded database is gone; stopping", "error", dbErr)
	}
	// Not ready from now on, while still serving for DrainDelay, so that a
	// load balancer stops sending before the listener closes.
	s.draining.Store(true)
	if s.cfg.DrainDelay > 0 && dbErr == nil {
		s.log.Info("shutting down: not ready, draining", "delay", s.cfg.DrainDelay.String())
		time.Sleep(s.cfg.DrainDelay)
	}
	s.log.Info("shutting down: finishing in-flight requests", "grace", s.cfg.ShutdownTimeout.String())
	shutCtx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(shutCtx)
	// Every click that was answered is committed; commit those still queued.
	s.clicks.Close()
	if s.spool != nil {
		// Load what is spooled while the grace lasts; the rest loads at the
		// next start.
		_ = s.spool.Close(shutCtx)
	}
	// Postbacks in flight finish; queued ones wait in the database.
	s.queueRunning.Store(false)
	if qerr := s.queue.Stop(shutCtx); qerr != nil {
		s.log.Warn("postback queue did not stop cleanly", "error", qerr)
	}
	if terr := s.tel.Shutdown(shutCtx); terr != nil {
		s.log.Warn("telemetry did not flush", "error", terr)
	}
	s.logLimit.Flush()
	if err != nil {
		_ = srv.Close()
		return fmt.Errorf("graceful shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return dbErr
}

// dbChecker reports NOT_SERVING for every service while the database is
// unreachable.
type dbChecker struct {
	static   *grpchealth.StaticChecker
	db       *store.Store
	draining *atomic.Bool
}

func (c *dbChecker) Check(ctx context.Context, req *grpchealth.CheckRequest) (*grpchealth.CheckResponse, error) {
	resp, err := c.static.Check(ctx, req)
	if err != nil || resp.Status != grpchealth.StatusServing {
		return resp, err
	}
	if c.draining.Load() {
		return &grpchealth.CheckResponse{Status: grpchealth.StatusNotServing}, nil
	}
	pingCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if c.db.Ping(pingCtx) != nil {
		return &grpchealth.CheckResponse{Status: grpchealth.StatusNotServing}, nil
	}
	return resp, nil
}

// Bootstrap makes sure an admin can get in: BATON_ADMIN_KEY is stored (by
// hash) when given; otherwise, when no admin key exists at all, one is
// created and returned so the caller can print it once.
func Bootstrap(ctx context.Context, cfg config.Config, st *store.Store) (newAdminKey string, err error) {
	if cfg.AdminKey != "" {
		_, err := st.EnsureAPIKey(ctx, "key_admin_env_"+fmt.Sprintf("%x", store.HashKey(cfg.AdminKey)[:6]),
			"BATON_ADMIN_KEY", domain.RoleAdmin, "", cfg.AdminKey)
		return "", err
	}
	has, err := st.HasActiveAdminKey(ctx)
	if err != nil || has {
		return "", err
	}
	key := auth.NewKey()
	if _, err := st.CreateAPIKey(ctx, "first admin key", domain.RoleAdmin, "", key); err != nil {
		return "", err
	}
	return key, nil
}

// maintain keeps click, conversion, delivery, attempt and refusal
// partitions ahead of time and drops those past their retention, deletes
// refusals past theirs, and approves conversions due for auto-approval: at
// start and then every hour.
func (s *Server) maintain(ctx context.Context) {
	tick := time.NewTicker(time.Hour)
	defer tick.Stop()
	for {
		if n, err := s.conversions.AutoApprove(ctx); err != nil {
			s.log.WarnContext(ctx, "auto-approval failed", "error", err)
		} else if n > 0 {
			s.log.InfoContext(ctx, "auto-approved conversions", "count", n)
		}
		if n, err := s.db.Store.EnsureClickPartitions(ctx); err != nil {
			s.log.WarnContext(ctx, "cannot create click partitions (clicks still land in the default partition)", "error", err)
		} else if n > 0 {
			s.log.InfoContext(ctx, "created click partitions", "count", n)
		}
		if s.cfg.ClickRetention > 0 {
			dropped, err := s.db.Store.DropClickPartitions(ctx, s.now().Add(-s.cfg.ClickRetention))
			if err != nil {
				s.log.WarnContext(ctx, "cannot drop old click partitions", "error", err)
			} else if len(dropped) > 0 {
				s.log.InfoContext(ctx, "dropped click partitions past retention", "partitions", dropped)
			}
		}
		if n, err := s.db.Store.EnsurePartitions(ctx); err != nil {
			s.log.WarnContext(ctx, "cannot create partitions of conversions, deliveries and refusals (rows still land in the default partitions)", "error", err)
		} else if n > 0 {
			s.log.InfoContext(ctx, "created partitions", "count", n)
		}
		dropped, err := s.db.Store.DropExpiredPartitions(ctx, s.retention())
		if err != nil {
			s.log.WarnContext(ctx, "cannot drop partitions past retention", "error", err)
		}
		if len(dropped) > 0 {
			s.log.InfoContext(ctx, "dropped partitions past retention", "partitions", dropped)
		}
		if s.cfg.RefusalRetention > 0 {
			if n, err := s.db.Store.DeleteRefusalsBefore(ctx, time.Now().Add(-s.cfg.RefusalRetention)); err != nil {
				s.log.WarnContext(ctx, "cannot delete old refusals", "error", err)
			} else if n > 0 {
				s.log.InfoContext(ctx, "deleted refusals past retention", "count", n)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// retention is the per-table retention of the partitioned tables.
func (s *Server) retention() store.Retention {
	return store.Retention{Conversions: s.cfg.ConversionRetention, Deliveries: s.cfg.DeliveryRetention,
		Attempts: s.cfg.AttemptRetention, Refusals: s.cfg.RefusalRetention}
}

// renderForDryRun is the service's Renderer: the worker's rendering
// (postback.Render), with the endpoint's sealed secrets masked.
func renderForDryRun(ep domain.PostbackEndpoint, d domain.Delivery, secrets []string, now time.Time) (string, string, []domain.Header, string, error) {
	r, err := postback.RenderMasked(ep, d, secrets, now)
	if err != nil {
		return "", "", nil, "", err
	}
	return r.Method, r.URL, r.Headers(), string(r.Body), nil
}

// registerGauges exposes what an operator watches besides the counters:
// postbacks owed and the age of the oldest, and the database pool.
func registerGauges(st *store.Store) error {
	m := otel.Meter("github.com/batonhq/baton/server/internal/app")
	depth, err := m.Int64ObservableGauge("baton.postback.queue.depth", metric.WithDescription("Deliveries pending."))
	if err != nil {
		return err
	}
	oldest, err := m.Float64ObservableGauge("baton.postback.queue.oldest_age", metric.WithUnit("s"), metric.WithDescription("Age of the oldest pending delivery."))
	if err != nil {
		return err
	}
	inUse, err := m.Int64ObservableGauge("baton.db.pool.acquired", metric.WithDescription("Database connections in use."))
	if err != nil {
		return err
	}
	total, err := m.Int64ObservableGauge("baton.db.pool.total", metric.WithDescription("Database connections open."))
	if err != nil {
		return err
	}
	replicaReads, err := m.Int64ObservableCounter("baton.db.replica.reads", metric.WithDescription("Report and listing reads served by the read replica."))
	if err != nil {
		return err
	}
	replicaFallbacks, err := m.Int64ObservableCounter("baton.db.replica.fallbacks", metric.WithDescription("Report and listing reads sent to the primary because the read replica was down, lagging or failed."))
	if err != nil {
		return err
	}
	replicaLag, err := m.Float64ObservableGauge("baton.db.replica.lag", metric.WithUnit("s"), metric.WithDescription("The read replica's replay lag at the last check (-1: unknown)."))
	if err != nil {
		return err
	}
	_, err = m.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		if rs := st.ReplicaStatus(); rs.Configured {
			o.ObserveInt64(replicaReads, rs.Reads)
			o.ObserveInt64(replicaFallbacks, rs.Fallbacks)
			o.ObserveFloat64(replicaLag, max(rs.Lag.Seconds(), -1))
		}
		stat := st.PoolStats()
		o.ObserveInt64(inUse, stat.Acquired)
		o.ObserveInt64(total, stat.Total)
		qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		n, age, err := st.PendingDeliveries(qctx)
		if err != nil {
			return nil // the scrape still shows the rest
		}
		o.ObserveInt64(depth, n)
		o.ObserveFloat64(oldest, age.Seconds())
		return nil
	}, depth, oldest, inUse, total, replicaReads, replicaFallbacks, replicaLag)
	return err
}

// replicaLine is /healthz's line on the read replica.
func replicaLine(rs store.ReplicaStatus) string {
	if rs.Serving {
		return fmt.Sprintf("serving reports (lag %s; %d reads, %d sent to the primary)", rs.Lag.Round(time.Millisecond), rs.Reads, rs.Fallbacks)
	}
	return fmt.Sprintf("not used, reports read the primary: %s (%d reads sent to the primary)", rs.State, rs.Fallbacks)
}

// serveOpenAPI answers the OpenAPI description generated from the protos
// (gen/openapi), for curl and JSON users. Public, like reflection.
func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(openapi.JSON)
}
