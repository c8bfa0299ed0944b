package app_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/timestamppb"

	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
	"github.com/batonhq/baton/gen/go/baton/v1/batonv1connect"
	"github.com/batonhq/baton/server/internal/app"
	"github.com/batonhq/baton/server/internal/config"
	"github.com/batonhq/baton/server/internal/proof"
	"github.com/batonhq/baton/server/internal/testwait"
)

// pgCluster is a PostgreSQL server this test started itself (a primary or
// its streaming standby), run as an unprivileged user when the test runs as
// root, with trust authentication on 127.0.0.1 only (a throwaway cluster).
type pgCluster struct {
	bin, data string
	port      int
	cred      *syscall.Credential
	cmd       *exec.Cmd
	exited    chan struct{}
}

// postgresBin finds the Debian PostgreSQL binaries.
func postgresBin(t *testing.T) string {
	t.Helper()
	for _, v := range []string{"17", "16", "15", "14"} {
		dir := "/usr/lib/postgresql/" + v + "/bin"
		if _, err := os.Stat(filepath.Join(dir, "pg_basebackup")); err == nil {
			return dir
		}
	}
	skipOrFail(t, "no PostgreSQL binaries with pg_basebackup under /usr/lib/postgresql (Debian package postgresql)")
	return ""
}

// runAs is the unprivileged account servers run as when the test is root.
func runAs(t *testing.T) *syscall.Credential {
	t.Helper()
	if os.Geteuid() != 0 {
		return nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		if u, err := user.Lookup(name); err == nil {
			uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
			gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
			if err := errors.Join(err1, err2); err != nil {
				t.Fatal(err)
			}
			return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		}
	}
	skipOrFail(t, "running as root with no postgres or nobody user")
	return nil
}

// skipOrFail skips the replica test where this machine cannot run it, or
// fails it when BATON_REQUIRE_REPLICA is set (CI installs what it needs).
func skipOrFail(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("BATON_REQUIRE_REPLICA") != "" {
		t.Fatalf("BATON_REQUIRE_REPLICA is set: %s", why)
	}
	t.Skip(why)
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// tool runs one of the PostgreSQL programs as the cluster's user.
func tool(t *testing.T, bin string, cred *syscall.Credential, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(bin, name), args...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// start runs postgres on c.data and waits until it accepts connections.
func (c *pgCluster) start(t *testing.T) {
	t.Helper()
	logf, err := os.Create(c.data + ".log")
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	c.cmd = exec.Command(filepath.Join(c.bin, "postgres"), "-D", c.data, "-p", strconv.Itoa(c.port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "fsync=off")
	c.cmd.Dir = c.data
	c.cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C"}
	c.cmd.Stdout, c.cmd.Stderr = logf, logf
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred, Setpgid: true, Pdeathsig: syscall.SIGQUIT}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c.exited = make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(c.exited) }()
	testwait.Until(t, 30*time.Second, "postgres on port "+strconv.Itoa(c.port)+" accepts connections", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, c.url("postgres"))
		if err != nil {
			return false
		}
		_ = conn.Close(ctx)
		return true
	})
}

// stop shuts postgres down (fast shutdown: SIGINT) and waits for it.
func (c *pgCluster) stop() {
	if c.cmd == nil {
		return
	}
	select {
	case <-c.exited:
	default:
		_ = c.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-c.exited:
		case <-time.After(30 * time.Second):
			_ = c.cmd.Process.Kill()
			<-c.exited
		}
	}
	c.cmd = nil
}

func (c *pgCluster) url(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable&connect_timeout=2", c.port, db)
}

func (c *pgCluster) exec(t *testing.T, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.url("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// startPrimaryAndStandby starts a primary, copies it with pg_basebackup -R
// into a new data directory and starts that as a streaming hot standby on
// another port. Both are stopped, and their directories removed, when the
// test ends (after everything registered later, e.g. Baton).
func startPrimaryAndStandby(t *testing.T) (primary, standby *pgCluster) {
	t.Helper()
	bin, cred := postgresBin(t), runAs(t)
	dir, err := os.MkdirTemp("", "baton-replica-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	primary = &pgCluster{bin: bin, data: filepath.Join(dir, "primary"), port: freeTCPPort(t), cred: cred}
	standby = &pgCluster{bin: bin, data: filepath.Join(dir, "standby"), port: freeTCPPort(t), cred: cred}
	t.Cleanup(func() {
		standby.stop()
		primary.stop()
		_ = os.RemoveAll(dir)
	})
	tool(t, bin, cred, "initdb", "-D", primary.data, "-U", "postgres", "--auth", "trust", "--locale", "C", "-E", "UTF8")
	// wal_level=replica and max_wal_senders=10 are PostgreSQL's defaults;
	// initdb's pg_hba.conf lets local users replicate over 127.0.0.1.
	primary.start(t)
	primary.exec(t, "CREATE DATABASE baton")
	tool(t, bin, cred, "pg_basebackup", "-h", "127.0.0.1", "-p", strconv.Itoa(primary.port), "-U", "postgres",
		"-D", standby.data, "-R", "-X", "stream", "--checkpoint=fast")
	standby.start(t)
	return primary, standby
}

// TestReportsReadTheReplica runs Baton on a primary with BATON_REPLICA_URL
// naming a streaming standby the test started: reports are served by the
// standby (proved by pausing its replay: a conversion committed on the
// primary is missing from the report until replay resumes), follow the
// primary once replayed, go to the primary when the standby lags more than
// BATON_REPLICA_MAX_LAG, and keep answering, up to date, when the standby
// is stopped.
func TestReportsReadTheReplica(t *testing.T) {
	t.Parallel()
	primary, standby := startPrimaryAndStandby(t)
	const maxLag = 5 * time.Second
	s := start(t, func(c *config.Config) {
		c.DatabaseURL = primary.url("baton")
		c.ReplicaURL = standby.url("baton")
		c.ReplicaMaxLag = maxLag
	})
	e := clickEnvOn(t, s, &batonv1.CreateOfferRequest{LandingUrl: "https://shop.example/lp", Downstream: &batonv1.DownstreamLink{ClickIdParam: "sid"}})
	ctx := context.Background()
	adv := batonv1connect.NewConversionServiceClient(e.client, e.url, withKey(app.DemoAdvertiserKey))
	attr := batonv1connect.NewAttributionServiceClient(e.client, e.url, withKey(app.DemoPublisherKey))
	clickID := clickIDFrom(t, e.click(t, nil, "", browserUA), "sid")
	orders := 0
	record := func() {
		t.Helper()
		orders++
		if _, err := adv.RecordConversion(ctx, &batonv1.RecordConversionRequest{ClickId: clickID, OrderId: fmt.Sprintf("R-%d", orders), AmountJpy: yen(1000)}); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	report := func() (int64, error) {
		rep, err := attr.GetReport(ctx, &batonv1.GetReportRequest{
			TimeRange: &batonv1.TimeRange{Start: timestamppb.New(now.Add(-24 * time.Hour)), End: timestamppb.New(now.Add(time.Hour))}})
		if err != nil {
			return 0, err
		}
		var n int64
		for _, r := range rep.GetRows() {
			if r.GetOfferId() == e.offer.GetId() {
				n += r.GetConversions()
			}
		}
		return n, nil
	}
	conversionsIs := func(want int64, what string) {
		t.Helper()
		var got int64
		var err error
		if !testwait.Poll(30*time.Second, func() bool { got, err = report(); return err == nil && got == want }) {
			t.Fatalf("%s: report shows %d conversions (err %v), want %d", what, got, err, want)
		}
	}
	healthz := func() string {
		t.Helper()
		res, err := s.client.Get(s.url + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	testwait.Until(t, 30*time.Second, "/healthz says the replica serves reports", func() bool {
		return strings.Contains(healthz(), "replica: serving reports")
	})

	record()
	conversionsIs(1, "the first conversion, once replayed")

	// Pause replay: what the primary commits now is on the primary only.
	// A report that misses it was served by the standby.
	standby.exec(t, "SELECT pg_wal_replay_pause()")
	record()
	if n, err := report(); err != nil || n != 1 {
		t.Fatalf("replay paused: report shows %d conversions (err %v); the replica has 1, the primary 2", n, err)
	}
	if h := healthz(); !strings.Contains(h, "replica: serving reports") {
		t.Fatalf("/healthz while the replica serves: %q", h)
	}
	standby.exec(t, "SELECT pg_wal_replay_resume()")
	conversionsIs(2, "replay resumed")

	// Paused for longer than the bound: reports go to the primary.
	standby.exec(t, "SELECT pg_wal_replay_pause()")
	record()
	conversionsIs(3, "the replica lags more than "+maxLag.String()+": the primary answers")
	if h := healthz(); !strings.Contains(h, "replica: not used, reports read the primary: replica lags") {
		t.Fatalf("/healthz while the replica lags: %q", h)
	}
	standby.exec(t, "SELECT pg_wal_replay_resume()")
	testwait.Until(t, 30*time.Second, "the replica serves again once caught up", func() bool {
		return strings.Contains(healthz(), "replica: serving reports")
	})

	// The standby stops: every report still answers, from the primary, and
	// shows what was just written.
	standby.stop()
	record()
	tried, lost := 0, 0
	for range 20 {
		tried++
		if n, err := report(); err != nil || n != int64(orders) {
			lost++
			t.Errorf("standby stopped: report shows %d conversions (err %v), want %d", n, err, orders)
		}
	}
	proof.Tally(t, "reports with the replica stopped", tried, lost, "a report that failed or missed a conversion is lost")
	if h := healthz(); !strings.Contains(h, "replica: not used, reports read the primary: replica unavailable") {
		t.Fatalf("/healthz with the replica stopped: %q", h)
	}
}
