package app_test

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/batonhq/baton/server/internal/config"
	"github.com/batonhq/baton/server/internal/proof"
	"github.com/batonhq/baton/server/internal/testwait"
)

// TestReadinessTurnsOffAtShutdown: once shutdown begins (SIGTERM), /readyz
// answers 503 at once while Baton still serves clicks for the drain delay,
// so a load balancer stops sending before connections close.
func TestReadinessTurnsOffAtShutdown(t *testing.T) {
	s := start(t, func(c *config.Config) { c.DrainDelay = 3 * time.Second })
	get := func(path string) int {
		res, err := s.client.Get(s.url + path)
		if err != nil {
			return 0
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	if c := get("/readyz"); c != http.StatusOK {
		t.Fatalf("readyz before shutdown: %d", c)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- s.stop() }()
	tried, lost := 0, 0
	notReady, served := false, false
	testwait.Poll(2*time.Second, func() bool {
		tried++
		notReady = notReady || get("/readyz") == http.StatusServiceUnavailable
		served = served || get("/healthz") == http.StatusOK
		return notReady && served
	})
	if !notReady || !served {
		lost++
		t.Errorf("during the drain: readyz 503 seen %v, still serving %v", notReady, served)
	}
	if err := <-stopped; err != nil {
		t.Errorf("shutdown: %v", err)
	}
	proof.Tally(t, "fault: SIGTERM behind a load balancer", tried, lost,
		"readiness 503 from the first moment of shutdown while requests are still served for BATON_DRAIN_DELAY")
}
