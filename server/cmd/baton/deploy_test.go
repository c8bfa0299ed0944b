package main

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/batonhq/baton/server/internal/testwait"
)

// unitFile reads the [Service] settings of deploy/baton.service (the
// last value of each key).
func unitFile(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "deploy", "baton.service"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "["):
			section = line
		case section == "[Service]":
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("baton.service: %q is not KEY=value", line)
			}
			out[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return out
}

// envFile parses deploy/baton.env by systemd's EnvironmentFile= rules as
// far as the file uses them: KEY=value lines, # comments, blank lines.
func envFile(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "deploy", "baton.env"))
	if err != nil {
		t.Fatal(err)
	}
	var env []string
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, _, ok := strings.Cut(line, "=")
		if !ok || strings.ContainsAny(line, `"'$\`) {
			t.Fatalf("baton.env:%d: %q: want plain KEY=value (no quotes or expansion)", i+1, line)
		}
		if !strings.HasPrefix(k, "BATON_") {
			t.Fatalf("baton.env:%d: %s is not a Baton setting", i+1, k)
		}
		env = append(env, line)
	}
	return env
}

// TestSystemdUnitCommandLine runs the unit's ExecStart command line with the
// example environment file, as systemd would (only the paths and ports are
// this machine's), and checks that Baton accepts every setting, serves,
// and stops cleanly on the unit's KillSignal (TimeoutStopSec leaves room for
// the drain delay and the shutdown timeout).
func TestSystemdUnitCommandLine(t *testing.T) {
	unit := unitFile(t)
	if unit["EnvironmentFile"] != "/etc/baton/baton.env" || unit["KillSignal"] != "SIGTERM" {
		t.Fatalf("baton.service: EnvironmentFile=%q KillSignal=%q", unit["EnvironmentFile"], unit["KillSignal"])
	}
	argv := strings.Fields(unit["ExecStart"])
	if len(argv) < 1 || argv[0] != "/usr/local/bin/baton" {
		t.Fatalf("ExecStart=%q", unit["ExecStart"])
	}
	stopWithin, err := time.ParseDuration(unit["TimeoutStopSec"])
	if err != nil {
		t.Fatalf("TimeoutStopSec=%q: %v", unit["TimeoutStopSec"], err)
	}

	verifyUnit(t)
	env := envFile(t)
	// The env file's own values, but this machine's paths and ports.
	addr, adminAddr := freeAddr(t), freeAddr(t)
	local := map[string]string{
		"BATON_ADDR":       addr,
		"BATON_ADMIN_ADDR": adminAddr,
		"BATON_DATA_DIR":   embeddedDataDir(t),
	}
	var drain, shutdown time.Duration
	for i, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if l, ok := local[k]; ok {
			env[i] = k + "=" + l
		}
		switch k {
		case "BATON_DRAIN_DELAY":
			drain, _ = time.ParseDuration(v)
		case "BATON_SHUTDOWN_TIMEOUT":
			shutdown, _ = time.ParseDuration(v)
		}
	}
	if stopWithin <= drain+shutdown {
		t.Fatalf("TimeoutStopSec=%s is not more than BATON_DRAIN_DELAY+BATON_SHUTDOWN_TIMEOUT (%s)", stopWithin, drain+shutdown)
	}
	cmd := exec.Command(os.Args[0], argv[1:]...)
	// systemd passes only the unit's environment (and PATH etc.), not ours.
	cmd.Env = append([]string{"BATON_TEST_AS_MAIN=1", "PATH=" + os.Getenv("PATH")}, env...)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	ready := func(base string) bool {
		res, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	}
	testwait.Until(t, 60*time.Second, "baton started from the unit's command line becomes ready", func() bool {
		return ready("http://" + addr)
	})
	if !ready("http://" + adminAddr) {
		t.Fatal("admin port /readyz is not ready")
	}
	res, err := http.Get("http://" + adminAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || len(b) == 0 {
		t.Fatalf("admin /metrics = %d", res.StatusCode)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("baton did not exit cleanly on SIGTERM: %v\n%s", err, log.String())
	}
	if !strings.Contains(log.String(), "baton stopped") || !strings.Contains(log.String(), `"level":"INFO"`) {
		t.Fatalf("want JSON logs ending in a graceful stop (BATON_LOG_FORMAT=json):\n%s", log.String())
	}
}

// verifyUnit runs `systemd-analyze verify` on the unit, where systemd is
// installed, with the binary and environment file at this machine's paths.
func verifyUnit(t *testing.T) {
	t.Helper()
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("systemd-analyze is not installed: the unit file is not verified by systemd")
		return
	}
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "deploy", "baton.service"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	envPath := filepath.Join(dir, "baton.env")
	if err := os.WriteFile(envPath, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	unit := strings.NewReplacer("/usr/local/bin/baton", os.Args[0], "/etc/baton/baton.env", envPath).Replace(string(b))
	path := filepath.Join(dir, "baton.service")
	if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("systemd-analyze verify baton.service: %v\n%s", err, out)
	}
}
