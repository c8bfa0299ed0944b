// Package config reads Baton's settings from flags and BATON_* environment
// variables (a flag wins over its variable), checks them, and prints them
// with secrets redacted.
package config

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config is every setting of the baton binary. Each field names its
// environment variable and default.
type Config struct {
	// Addr is the listen address for every protocol (BATON_ADDR, default 127.0.0.1:8080).
	Addr string
	// AdminAddr is where /metrics (and /healthz, /readyz) are served for
	// operators, apart from the public port (BATON_ADMIN_ADDR, default
	// empty: no admin listener, and /metrics is not served at all).
	AdminAddr string
	// PublicURL is the base URL of tracking links, as browsers reach Baton
	// (BATON_PUBLIC_URL, default http://<Addr>, https://<Addr> with TLS).
	PublicURL string
	// TLSCert and TLSKey are PEM files: when both are set, Baton serves
	// HTTPS (HTTP/1.1 and HTTP/2) on Addr itself (BATON_TLS_CERT,
	// BATON_TLS_KEY), for running without a TLS-terminating proxy.
	TLSCert, TLSKey string
	// DataDir holds the embedded PostgreSQL cluster and the master key file
	// (BATON_DATA_DIR, default .baton).
	DataDir string
	// DatabaseURL is a PostgreSQL 14+ URL; empty starts the embedded
	// cluster under DataDir (BATON_DATABASE_URL). Secret: redacted.
	DatabaseURL string
	// ReplicaURL is a streaming replica (hot standby) of the database that
	// read-only reports and listings read while it is at most
	// ReplicaMaxLag behind (BATON_REPLICA_URL, default empty: every read
	// goes to the primary). Secret: redacted.
	ReplicaURL string
	// ReplicaMaxLag is how far behind the replica may be and still serve
	// (BATON_REPLICA_MAX_LAG, default 10s).
	ReplicaMaxLag time.Duration
	// DBMaxConns caps the connection pool (BATON_DB_MAX_CONNS, default 0 = max(16, 4×CPUs)).
	DBMaxConns int
	// AdminKey, when set, is accepted as an admin API key
	// (BATON_ADMIN_KEY). Secret: redacted. When empty and no admin key
	// exists, one is created and printed once.
	AdminKey string
	// MasterKey seals partner secrets at rest: 32 bytes in base64
	// (BATON_MASTER_KEY). Empty: read from (or created in) DataDir/master.key.
	// Secret: redacted.
	MasterKey string
	// LogFormat is text or json (BATON_LOG_FORMAT, default text).
	LogFormat string
	// LogLevel is debug, info, warn or error (BATON_LOG_LEVEL, default info).
	LogLevel string
	// Demo seeds a demo advertiser, publisher, offer and keys at start
	// (BATON_DEMO, default false).
	Demo bool
	// MaxBodyBytes limits request bodies (BATON_MAX_BODY_BYTES, default 1 MiB).
	MaxBodyBytes int64
	// RequestTimeout bounds each request's work (BATON_REQUEST_TIMEOUT, default 30s).
	RequestTimeout time.Duration
	// ClickRetention is how long clicks are kept; older monthly partitions
	// are dropped whole (BATON_CLICK_RETENTION, default 9600h = 400 days; 0
	// keeps everything). It must exceed the longest attribution window.
	ClickRetention time.Duration
	// ClickSpoolMaxBytes bounds the click spool under DataDir/clickspool
	// (BATON_CLICK_SPOOL_MAX_BYTES, default 1 GiB; 0: no spool, a redirect
	// waits for the PostgreSQL commit). ClickSpoolMaxAge bounds how long a
	// spooled click may wait to be loaded (BATON_CLICK_SPOOL_MAX_AGE,
	// default 1h). At either bound clicks are written straight to
	// PostgreSQL again (503 while it is down).
	ClickSpoolMaxBytes int64
	ClickSpoolMaxAge   time.Duration
	// RefusalRetention is how long refusal aggregates are kept
	// (BATON_REFUSAL_RETENTION, default 720h = 30 days; 0 keeps them all).
	RefusalRetention time.Duration
	// ConversionRetention is how long conversions (with their history) are
	// kept; older monthly partitions are dropped whole, except a month some
	// delivery still points into (BATON_CONVERSION_RETENTION, default 0:
	// kept forever; else at least 400 days and at least
	// DeliveryRetention, which must then be set).
	ConversionRetention time.Duration
	// DeliveryRetention is how long postback deliveries (with their
	// attempts) are kept, by monthly partition; a month holding a pending
	// delivery is kept (BATON_DELIVERY_RETENTION, default 0: kept forever;
	// else at least 30 days).
	DeliveryRetention time.Duration
	// AttemptRetention is how long postback attempts are kept, by monthly
	// partition of their delivery (BATON_ATTEMPT_RETENTION, default 0: as
	// long as their delivery; else at least 7 days, and never longer than
	// their delivery).
	AttemptRetention time.Duration
	// PostbackAllow lists networks (CIDRs or IPs) postbacks may reach even
	// though they are loopback or private (BATON_POSTBACK_ALLOW, default
	// none: such targets are refused after DNS, at connect time).
	PostbackAllow string
	// JaegerURL is the base URL of a Jaeger query API
	// (http://127.0.0.1:16686) that AttributionService.GetTrace reads
	// spans from for the console's chain view. Empty: GetTrace refuses.
	JaegerURL string
	// PostbackSchedule is the wait before each retry, comma-separated
	// (BATON_POSTBACK_SCHEDULE, default 5s,30s,2m,10m,30m,1h,3h,6h,12h,24h).
	PostbackSchedule string
	// PostbackWorkers is how many postbacks are sent at once (BATON_POSTBACK_WORKERS, default 50).
	PostbackWorkers int
	// PostbackTimeout bounds one attempt (BATON_POSTBACK_TIMEOUT, default 10s).
	PostbackTimeout time.Duration
	// PostbackDisableAfter disables an endpoint that has failed for this
	// long (BATON_POSTBACK_DISABLE_AFTER, default 72h).
	PostbackDisableAfter time.Duration
	// PostbackRescueAfter is when a postback whose worker died mid-send (a
	// crash) is sent again (BATON_POSTBACK_RESCUE_AFTER, default 3m; at
	// least twice BATON_POSTBACK_TIMEOUT).
	PostbackRescueAfter time.Duration
	// Telemetry is "on" (traces per OTEL_*, metrics on /metrics) or "off"
	// (no instrumentation at all, to measure its cost) (BATON_TELEMETRY, default on).
	Telemetry string
	// TrustedProxies lists the load balancers (CIDRs or IPs) whose
	// Forwarded / X-Forwarded-For and X-Forwarded-Proto headers are
	// believed: from them the client is the right-most address that is not
	// itself a trusted proxy (BATON_TRUSTED_PROXIES, default none: the TCP
	// peer is the client and those headers are ignored).
	TrustedProxies string
	// DrainDelay is how long, after SIGTERM, Baton keeps serving while
	// /readyz and gRPC health already answer not ready, so that a load
	// balancer stops sending before the listener closes (BATON_DRAIN_DELAY,
	// default 0s; set it to the balancer's health-check interval).
	DrainDelay time.Duration
	// AccessLog is the access log: "off" (default), "on" (every request) or
	// "sampled:R" (every request, but the click redirect and the tags only
	// with probability R) (BATON_ACCESS_LOG).
	AccessLog string
	// ShutdownTimeout is how long in-flight requests may take to finish on
	// SIGTERM (BATON_SHUTDOWN_TIMEOUT, default 30s).
	ShutdownTimeout time.Duration
	// PublisherReasons is how much of why a conversion was held or rejected
	// a publisher reads: "summary" ("held: click-to-conversion 8s", "rejected:
	// cap reached": no thresholds, cap numbers or rule internals) or "full"
	// (what the advertiser reads) (BATON_PUBLISHER_REASONS, default summary).
	// It is the operator's policy for the whole network: give every node the
	// same value.
	PublisherReasons string
}

// Load parses args (without the program name) over the environment.
func Load(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("baton", flag.ContinueOnError)
	fs.SetOutput(stderr)
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	fs.StringVar(&c.Addr, "addr", env("BATON_ADDR", "127.0.0.1:8080"), "listen address for gRPC, gRPC-Web, Connect and plain HTTP (BATON_ADDR)")
	fs.StringVar(&c.AdminAddr, "admin-addr", env("BATON_ADMIN_ADDR", ""), "listen address for /metrics, /healthz and /readyz; empty: no metrics (BATON_ADMIN_ADDR)")
	fs.StringVar(&c.PublicURL, "public-url", env("BATON_PUBLIC_URL", ""), "base URL of tracking links (BATON_PUBLIC_URL; default http://ADDR, or https://ADDR with TLS)")
	fs.StringVar(&c.TLSCert, "tls-cert", env("BATON_TLS_CERT", ""), "PEM certificate chain: serve HTTPS on ADDR (BATON_TLS_CERT, with BATON_TLS_KEY)")
	fs.StringVar(&c.TLSKey, "tls-key", env("BATON_TLS_KEY", ""), "PEM private key for BATON_TLS_CERT (BATON_TLS_KEY)")
	fs.StringVar(&c.DataDir, "data-dir", env("BATON_DATA_DIR", ".baton"), "local state: embedded PostgreSQL, master key (BATON_DATA_DIR)")
	fs.StringVar(&c.DatabaseURL, "database-url", env("BATON_DATABASE_URL", ""), "PostgreSQL URL; empty: embedded cluster (BATON_DATABASE_URL)")
	fs.StringVar(&c.AdminKey, "admin-key", env("BATON_ADMIN_KEY", ""), "an admin API key to accept (BATON_ADMIN_KEY)")
	fs.StringVar(&c.MasterKey, "master-key", env("BATON_MASTER_KEY", ""), "base64 32-byte key sealing partner secrets (BATON_MASTER_KEY)")
	fs.StringVar(&c.LogFormat, "log-format", env("BATON_LOG_FORMAT", "text"), "text or json (BATON_LOG_FORMAT)")
	fs.StringVar(&c.LogLevel, "log-level", env("BATON_LOG_LEVEL", "info"), "debug, info, warn or error (BATON_LOG_LEVEL)")
	var errs []error
	intEnv := func(name string, def int64) int64 {
		v := getenv(name)
		if v == "" {
			return def
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not an integer", name, v))
		}
		return n
	}
	durEnv := func(name string, def time.Duration) time.Duration {
		v := getenv(name)
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not a duration (e.g. 30s)", name, v))
		}
		return d
	}
	boolEnv := func(name string) bool {
		v := getenv(name)
		if v == "" {
			return false
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not true or false", name, v))
		}
		return b
	}
	fs.StringVar(&c.ReplicaURL, "replica-url", env("BATON_REPLICA_URL", ""), "streaming replica that reports and listings read; empty: the primary (BATON_REPLICA_URL)")
	fs.DurationVar(&c.ReplicaMaxLag, "replica-max-lag", durEnv("BATON_REPLICA_MAX_LAG", 10*time.Second), "replica lag beyond which reports read the primary (BATON_REPLICA_MAX_LAG)")
	fs.IntVar(&c.DBMaxConns, "db-max-conns", int(intEnv("BATON_DB_MAX_CONNS", 0)), "connection pool size; 0: max(16, 4×CPUs) (BATON_DB_MAX_CONNS)")
	fs.BoolVar(&c.Demo, "demo", boolEnv("BATON_DEMO"), "seed demo partners, offer and keys (BATON_DEMO)")
	fs.Int64Var(&c.MaxBodyBytes, "max-body-bytes", intEnv("BATON_MAX_BODY_BYTES", 1<<20), "request body limit (BATON_MAX_BODY_BYTES)")
	fs.DurationVar(&c.RequestTimeout, "request-timeout", durEnv("BATON_REQUEST_TIMEOUT", 30*time.Second), "per-request time limit (BATON_REQUEST_TIMEOUT)")
	fs.DurationVar(&c.ClickRetention, "click-retention", durEnv("BATON_CLICK_RETENTION", 400*24*time.Hour), "how long clicks are kept; 0 keeps all (BATON_CLICK_RETENTION)")
	fs.Int64Var(&c.ClickSpoolMaxBytes, "click-spool-max-bytes", intEnv("BATON_CLICK_SPOOL_MAX_BYTES", 1<<30), "disk bound of the click spool; 0: no spool (BATON_CLICK_SPOOL_MAX_BYTES)")
	fs.DurationVar(&c.ClickSpoolMaxAge, "click-spool-max-age", durEnv("BATON_CLICK_SPOOL_MAX_AGE", time.Hour), "longest a spooled click waits to be loaded (BATON_CLICK_SPOOL_MAX_AGE)")
	fs.DurationVar(&c.RefusalRetention, "refusal-retention", durEnv("BATON_REFUSAL_RETENTION", 30*24*time.Hour), "how long refused reports are kept; 0 keeps all (BATON_REFUSAL_RETENTION)")
	fs.DurationVar(&c.ConversionRetention, "conversion-retention", durEnv("BATON_CONVERSION_RETENTION", 0), "how long conversions are kept; 0 keeps all (BATON_CONVERSION_RETENTION)")
	fs.DurationVar(&c.DeliveryRetention, "delivery-retention", durEnv("BATON_DELIVERY_RETENTION", 0), "how long postback deliveries are kept; 0 keeps all (BATON_DELIVERY_RETENTION)")
	fs.DurationVar(&c.AttemptRetention, "attempt-retention", durEnv("BATON_ATTEMPT_RETENTION", 0), "how long postback attempts are kept; 0: as long as their delivery (BATON_ATTEMPT_RETENTION)")
	fs.StringVar(&c.JaegerURL, "jaeger-url", env("BATON_JAEGER_URL", ""), "Jaeger query API that GetTrace reads spans from, e.g. http://127.0.0.1:16686 (BATON_JAEGER_URL)")
	fs.StringVar(&c.PostbackAllow, "postback-allow", env("BATON_POSTBACK_ALLOW", ""), "private/loopback networks postbacks may reach (BATON_POSTBACK_ALLOW)")
	fs.StringVar(&c.PostbackSchedule, "postback-schedule", env("BATON_POSTBACK_SCHEDULE", "5s,30s,2m,10m,30m,1h,3h,6h,12h,24h"), "retry waits (BATON_POSTBACK_SCHEDULE)")
	fs.IntVar(&c.PostbackWorkers, "postback-workers", int(intEnv("BATON_POSTBACK_WORKERS", 50)), "concurrent postbacks (BATON_POSTBACK_WORKERS)")
	fs.DurationVar(&c.PostbackTimeout, "postback-timeout", durEnv("BATON_POSTBACK_TIMEOUT", 10*time.Second), "time limit of one attempt (BATON_POSTBACK_TIMEOUT)")
	fs.DurationVar(&c.PostbackDisableAfter, "postback-disable-after", durEnv("BATON_POSTBACK_DISABLE_AFTER", 72*time.Hour), "disable endpoints failing this long (BATON_POSTBACK_DISABLE_AFTER)")
	fs.DurationVar(&c.PostbackRescueAfter, "postback-rescue-after", durEnv("BATON_POSTBACK_RESCUE_AFTER", 3*time.Minute), "resend postbacks interrupted by a crash after (BATON_POSTBACK_RESCUE_AFTER)")
	fs.StringVar(&c.Telemetry, "telemetry", env("BATON_TELEMETRY", "on"), "on or off (BATON_TELEMETRY)")
	fs.StringVar(&c.TrustedProxies, "trusted-proxies", env("BATON_TRUSTED_PROXIES", ""), "load balancers whose forwarding headers are believed, CIDRs (BATON_TRUSTED_PROXIES)")
	fs.StringVar(&c.AccessLog, "access-log", env("BATON_ACCESS_LOG", "off"), "off, on, or sampled:R (clicks and tags logged with probability R) (BATON_ACCESS_LOG)")
	fs.DurationVar(&c.DrainDelay, "drain-delay", durEnv("BATON_DRAIN_DELAY", 0), "on SIGTERM, serve this long as not ready before closing (BATON_DRAIN_DELAY)")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", durEnv("BATON_SHUTDOWN_TIMEOUT", 30*time.Second), "grace period on SIGTERM (BATON_SHUTDOWN_TIMEOUT)")
	fs.StringVar(&c.PublisherReasons, "publisher-reasons", env("BATON_PUBLISHER_REASONS", "summary"), "summary or full: what publishers read of hold and rejection reasons (BATON_PUBLISHER_REASONS)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected arguments: %q", fs.Args()))
	}
	if len(errs) > 0 {
		return c, errors.Join(errs...)
	}
	return c, c.validate()
}

func (c *Config) validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("BATON_ADDR: %q is not host:port", c.Addr))
	}
	if c.AdminAddr != "" {
		if _, _, err := net.SplitHostPort(c.AdminAddr); err != nil {
			errs = append(errs, fmt.Errorf("BATON_ADMIN_ADDR: %q is not host:port", c.AdminAddr))
		} else if c.AdminAddr == c.Addr {
			errs = append(errs, errors.New("BATON_ADMIN_ADDR must differ from BATON_ADDR"))
		}
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("BATON_TLS_CERT and BATON_TLS_KEY: give both, or neither"))
	} else if c.TLSCert != "" {
		if _, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey); err != nil {
			errs = append(errs, fmt.Errorf("BATON_TLS_CERT, BATON_TLS_KEY: %w", err))
		}
	}
	if c.PublicURL == "" {
		c.PublicURL = "http://" + c.Addr
		if c.TLSCert != "" {
			c.PublicURL = "https://" + c.Addr
		}
	}
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("BATON_PUBLIC_URL: %q is not an http(s) URL", c.PublicURL))
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if c.DatabaseURL == "" && c.DataDir == "" {
		errs = append(errs, errors.New("BATON_DATA_DIR: required when BATON_DATABASE_URL is empty"))
	}
	if c.AdminKey != "" && len(c.AdminKey) < 16 {
		errs = append(errs, errors.New("BATON_ADMIN_KEY: must be at least 16 characters"))
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("BATON_LOG_FORMAT: %q is not text or json", c.LogFormat))
	}
	switch c.PublisherReasons {
	case "summary", "full":
	default:
		errs = append(errs, fmt.Errorf("BATON_PUBLISHER_REASONS: %q is not summary or full", c.PublisherReasons))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("BATON_LOG_LEVEL: %q is not debug, info, warn or error", c.LogLevel))
	}
	if c.MaxBodyBytes < 1024 {
		errs = append(errs, errors.New("BATON_MAX_BODY_BYTES: must be at least 1024"))
	}
	if c.RequestTimeout <= 0 || c.ShutdownTimeout <= 0 {
		errs = append(errs, errors.New("BATON_REQUEST_TIMEOUT and BATON_SHUTDOWN_TIMEOUT must be positive"))
	}
	if c.RefusalRetention < 0 {
		errs = append(errs, errors.New("BATON_REFUSAL_RETENTION: must be 0 (keep all) or positive"))
	}
	if c.ConversionRetention != 0 && (c.ConversionRetention < 400*24*time.Hour || c.DeliveryRetention <= 0 || c.DeliveryRetention > c.ConversionRetention) {
		errs = append(errs, errors.New("BATON_CONVERSION_RETENTION: must be 0 (keep all) or at least 400 days, with BATON_DELIVERY_RETENTION set and not longer"))
	}
	if c.DeliveryRetention != 0 && c.DeliveryRetention < 30*24*time.Hour {
		errs = append(errs, errors.New("BATON_DELIVERY_RETENTION: must be 0 (keep all) or at least 30 days"))
	}
	if c.AttemptRetention != 0 && (c.AttemptRetention < 7*24*time.Hour || (c.DeliveryRetention != 0 && c.AttemptRetention > c.DeliveryRetention)) {
		errs = append(errs, errors.New("BATON_ATTEMPT_RETENTION: must be 0 (as long as the delivery) or at least 7 days, and not longer than BATON_DELIVERY_RETENTION"))
	}
	if c.ClickSpoolMaxBytes < 0 || (c.ClickSpoolMaxBytes > 0 && c.ClickSpoolMaxBytes < 1<<20) || c.ClickSpoolMaxAge <= 0 {
		errs = append(errs, errors.New("BATON_CLICK_SPOOL_MAX_BYTES must be 0 (no spool) or at least 1048576, and BATON_CLICK_SPOOL_MAX_AGE positive"))
	}
	if c.ClickRetention != 0 && c.ClickRetention < 366*24*time.Hour {
		errs = append(errs, errors.New("BATON_CLICK_RETENTION: must be 0 (keep all) or at least 366 days, beyond the longest attribution window"))
	}
	if c.PostbackWorkers < 1 || c.PostbackTimeout <= 0 || c.PostbackDisableAfter <= 0 {
		errs = append(errs, errors.New("BATON_POSTBACK_WORKERS, BATON_POSTBACK_TIMEOUT and BATON_POSTBACK_DISABLE_AFTER must be positive"))
	}
	if c.PostbackRescueAfter < 2*c.PostbackTimeout+time.Second {
		errs = append(errs, errors.New("BATON_POSTBACK_RESCUE_AFTER must exceed twice BATON_POSTBACK_TIMEOUT (plus a second)"))
	}
	if c.Telemetry != "on" && c.Telemetry != "off" {
		errs = append(errs, fmt.Errorf("BATON_TELEMETRY: %q is not on or off", c.Telemetry))
	}
	if _, err := ParseNetworks(c.TrustedProxies); err != nil {
		errs = append(errs, fmt.Errorf("BATON_TRUSTED_PROXIES: %w", err))
	}
	if c.DrainDelay < 0 {
		errs = append(errs, errors.New("BATON_DRAIN_DELAY: must not be negative"))
	}
	if _, _, err := ParseAccessLog(c.AccessLog); err != nil {
		errs = append(errs, fmt.Errorf("BATON_ACCESS_LOG: %w", err))
	}
	if c.ReplicaMaxLag <= 0 {
		errs = append(errs, errors.New("BATON_REPLICA_MAX_LAG: must be positive"))
	}
	if c.DBMaxConns < 0 {
		errs = append(errs, errors.New("BATON_DB_MAX_CONNS: must not be negative"))
	}
	return errors.Join(errs...)
}

// redact hides a secret but says whether it is set.
func redact(s string) string {
	if s == "" {
		return "(unset)"
	}
	return "(redacted)"
}

// redactURL hides the password in a database URL.
func redactURL(s string) string {
	if s == "" {
		return "(unset: embedded PostgreSQL)"
	}
	u, err := url.Parse(s)
	if err != nil {
		return "(redacted: unparsable URL)"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// redactReplica hides the password in the replica's URL.
func redactReplica(s string) string {
	if s == "" {
		return "(unset: reports read the primary)"
	}
	return redactURL(s)
}

// LogAttrs returns the settings as key/value pairs for a start-up log line,
// secrets redacted.
func (c Config) LogAttrs() []any {
	return []any{
		"addr", c.Addr, "admin_addr", c.AdminAddr, "public_url", c.PublicURL, "data_dir", c.DataDir,
		"database_url", redactURL(c.DatabaseURL), "db_max_conns", c.DBMaxConns,
		"replica_url", redactReplica(c.ReplicaURL), "replica_max_lag", c.ReplicaMaxLag.String(),
		"admin_key", redact(c.AdminKey), "master_key", redact(c.MasterKey),
		"log_format", c.LogFormat, "log_level", c.LogLevel, "demo", c.Demo,
		"max_body_bytes", c.MaxBodyBytes, "request_timeout", c.RequestTimeout.String(),
		"shutdown_timeout", c.ShutdownTimeout.String(), "click_retention", c.ClickRetention.String(), "refusal_retention", c.RefusalRetention.String(),
		"conversion_retention", c.ConversionRetention.String(), "delivery_retention", c.DeliveryRetention.String(), "attempt_retention", c.AttemptRetention.String(),
		"postback_allow", c.PostbackAllow, "postback_schedule", c.PostbackSchedule, "postback_workers", c.PostbackWorkers, "telemetry", c.Telemetry,
		"trusted_proxies", c.TrustedProxies, "drain_delay", c.DrainDelay.String(), "access_log", c.AccessLog,
	}
}

// ParseNetworks parses a comma-separated list of CIDRs or single IPs.
func ParseNetworks(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if p, err := netip.ParsePrefix(item); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(item)
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR or an IP address", item)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// Getenv is os.Getenv, for callers that pass the real environment.
var Getenv = os.Getenv

// ParseAccessLog reads BATON_ACCESS_LOG: whether requests are logged, and
// the probability a click redirect or tag request is (1 for "on").
func ParseAccessLog(s string) (on bool, clickRate float64, err error) {
	switch s {
	case "", "off":
		return false, 0, nil
	case "on":
		return true, 1, nil
	}
	v, ok := strings.CutPrefix(s, "sampled:")
	if !ok {
		return false, 0, fmt.Errorf("%q is not off, on or sampled:R", s)
	}
	r, err := strconv.ParseFloat(v, 64)
	if err != nil || !(r >= 0 && r <= 1) {
		return false, 0, fmt.Errorf("sampled:%s: R must be a number from 0 to 1", v)
	}
	return true, r, nil
}
