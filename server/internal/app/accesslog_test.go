package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/batonhq/baton/server/internal/config"
)

// lockedLog collects the server's JSON log lines.
type lockedLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// access returns the "access" lines, and the raw text of all lines.
func (l *lockedLog) access(t *testing.T) ([]map[string]any, string) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(l.b.String(), "\n") {
		m := map[string]any{}
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "access" {
			out = append(out, m)
		}
	}
	return out, l.b.String()
}

func get(t *testing.T, c *http.Client, url string, header ...string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

// TestAccessLogOnOffSampled: off by default; "on" logs every request with
// its route (the click's pattern, never its query), status, bytes,
// duration and the trace ID the caller's traceparent continues;
// "sampled:R" logs clicks with probability R and everything else always.
func TestAccessLogOnOffSampled(t *testing.T) {
	t.Parallel()
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	traceparent := "00-" + traceID + "-00f067aa0ba902b7-01"
	run := func(mode string, clicks int) []map[string]any {
		var logs lockedLog
		s := startLogged(t, &logs, func(c *config.Config) {
			if mode != "" {
				c.AccessLog = mode
			}
		})
		client := noFollow(nil)
		for i := range clicks {
			if st := get(t, client, fmt.Sprintf("%s/c/demo?param1=secret-sub-%d&token=hunter2", s.url, i), "User-Agent", browserUA); st != http.StatusFound {
				t.Fatalf("%s: click %d", mode, st)
			}
		}
		if st := get(t, client, s.url+"/healthz"); st != http.StatusOK {
			t.Fatalf("healthz %d", st)
		}
		req, _ := http.NewRequest(http.MethodPost, s.url+"/baton.v1.ConfigService/ListOffers", strings.NewReader("{}"))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+adminKey)
		req.Header.Set("Traceparent", traceparent)
		res, err := s.client.Do(req)
		if err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("ListOffers: %v %v", res, err)
		}
		res.Body.Close()
		if err := s.stop(); err != nil {
			t.Fatal(err)
		}
		lines, raw := logs.access(t)
		if strings.Contains(raw, "secret-sub") || strings.Contains(raw, "hunter2") {
			t.Errorf("%s: the log holds a click's query", mode)
		}
		return lines
	}
	if lines := run("", 5); len(lines) != 0 {
		t.Errorf("default (off): %d access lines", len(lines))
	}
	lines := run("on", 5)
	routes := map[string]int{}
	for _, l := range lines {
		routes[fmt.Sprint(l["route"])]++
	}
	if len(lines) != 7 || routes["/c/{link}"] != 5 || routes["/healthz"] != 1 || routes["/baton.v1.ConfigService/ListOffers"] != 1 {
		t.Fatalf("on: routes %v", routes)
	}
	for _, l := range lines {
		if _, ok := l["duration_ms"].(float64); !ok || l["method"] == nil || l["bytes"] == nil {
			t.Errorf("line lacks method, duration or bytes: %v", l)
		}
		switch l["route"] {
		case "/c/{link}":
			if l["status"] != float64(302) {
				t.Errorf("click line %v", l)
			}
		case "/baton.v1.ConfigService/ListOffers":
			if l["status"] != float64(200) || l["method"] != "POST" || l["trace_id"] != traceID || l["bytes"].(float64) == 0 {
				t.Errorf("RPC line %v, want trace_id %s", l, traceID)
			}
		}
	}
	// Sampled at 0: no clicks, everything else.
	lines = run("sampled:0", 5)
	if len(lines) != 2 {
		t.Errorf("sampled:0: %d lines, want 2 (healthz and the RPC): %v", len(lines), lines)
	}
	// Sampled at 0.5: about half of 200 clicks (the bounds fail once in
	// more than 10^15 runs).
	lines = run("sampled:0.5", 200)
	if clicks := len(lines) - 2; clicks < 40 || clicks > 160 {
		t.Errorf("sampled:0.5: %d of 200 clicks logged", clicks)
	}
}

func TestAccessLogSettingIsChecked(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"yes", "sampled:", "sampled:2", "sampled:-0.1", "sampled:NaN"} {
		if _, err := config.Load(nil, func(k string) string {
			if k == "BATON_ACCESS_LOG" {
				return bad
			}
			return ""
		}, io.Discard); err == nil || !strings.Contains(err.Error(), "BATON_ACCESS_LOG") {
			t.Errorf("BATON_ACCESS_LOG=%s: %v", bad, err)
		}
	}
}
