package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"syscall"
	"testing"
	"time"

	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
	"github.com/batonhq/baton/gen/go/baton/v1/batonv1connect"
	"github.com/batonhq/baton/server/internal/proof"
	"github.com/batonhq/baton/server/internal/testdb"
	"github.com/batonhq/baton/server/internal/testwait"
)

// TestPostbackBatchSurvivesKill9 kills the server while a whole batch of
// postbacks is in flight (every one claimed and sent, none answered, so
// none of their attempts is recorded), restarts it, and checks that each is
// sent again with its own delivery ID, none lost and none sent a third time.
func TestPostbackBatchSurvivesKill9(t *testing.T) {
	const n = 30
	dbURL := testdb.URL(t)
	dataDir := t.TempDir()
	addr := freeAddr(t)
	release := make(chan struct{})
	var mu sync.Mutex
	seen := map[string]int{}
	killed := false
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.Header.Get("X-Baton-Delivery")]++
		hold := !killed
		mu.Unlock()
		if hold {
			<-release // held until the sender is dead
		}
		_, _ = io.WriteString(w, "ok")
	}))
	defer rcv.Close()
	defer close(release)
	// An attempt must not time out (and be retried) before the kill.
	env := []string{"BATON_POSTBACK_ALLOW=127.0.0.0/8", "BATON_POSTBACK_TIMEOUT=5s", "BATON_POSTBACK_RESCUE_AFTER=12s", "BATON_POSTBACK_SCHEDULE=1s"}
	p := startBatonEnv(t, dbURL, dataDir, addr, env...)
	ctx := context.Background()
	base := "http://" + addr
	orders := make([]string, n)
	for i := range orders {
		orders[i] = fmt.Sprintf("BATCH-%d", i)
	}
	conversionsOwingPostbacks(t, base, rcv.URL, orders...)
	count := func(times int) func() bool {
		return func() bool {
			mu.Lock()
			defer mu.Unlock()
			k := 0
			for _, c := range seen {
				if c >= times {
					k++
				}
			}
			return k == n
		}
	}
	testwait.Until(t, 20*time.Second, "every postback of the batch leaves", count(1))
	// All in flight: kill -9.
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_, _ = p.cmd.Process.Wait()
	mu.Lock()
	killed = true
	mu.Unlock()
	startBatonEnv(t, dbURL, dataDir, addr, env...)
	testwait.Until(t, 60*time.Second, "every interrupted postback is sent again after the restart", count(2))
	// The resends were answered: the API shows each delivery settled.
	pb := batonv1connect.NewPostbackServiceClient(http.DefaultClient, base, bearerKey("crash-test-admin-key-0123"))
	testwait.Until(t, 30*time.Second, "every delivery is recorded as succeeded", func() bool {
		res, err := pb.ListDeliveries(ctx, &batonv1.ListDeliveriesRequest{PageSize: 100})
		if err != nil || len(res.Deliveries) != n {
			return false
		}
		for _, d := range res.Deliveries {
			if d.State != batonv1.DeliveryState_DELIVERY_STATE_SUCCEEDED {
				return false
			}
		}
		return true
	})
	mu.Lock()
	defer mu.Unlock()
	lost, twice := 0, 0
	for id, c := range seen {
		if id == "" {
			t.Errorf("a postback without its delivery ID")
		}
		switch {
		case c < 2:
			lost++
		case c > 2:
			twice++
		}
	}
	if len(seen) != n || twice > 0 {
		t.Errorf("%d delivery IDs received (want %d), %d sent more than once after the restart", len(seen), n, twice)
	}
	proof.Tally(t, "fault: kill -9 mid-batch of postbacks", n, lost+twice,
		fmt.Sprintf("%d postbacks claimed and in flight at the kill, each sent again once after the restart with its own delivery ID", n))
}

// conversionsOwingPostbacks registers a postback endpoint to receiver for
// the demo publisher, makes a click and records a conversion of it for
// each order: each owes one postback.
func conversionsOwingPostbacks(t *testing.T, base, receiver string, orders ...string) {
	t.Helper()
	sid := endpointAndClick(t, base, receiver)
	conv := batonv1connect.NewConversionServiceClient(http.DefaultClient, base, bearerKey("bk_demo_advertiser_key_0000000000"))
	amount := int64(3000)
	for _, o := range orders {
		if _, err := conv.RecordConversion(context.Background(), &batonv1.RecordConversionRequest{ClickId: sid, OrderId: o, AmountJpy: &amount}); err != nil {
			t.Fatal(err)
		}
	}
}
