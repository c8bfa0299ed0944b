package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
	"github.com/batonhq/baton/gen/go/baton/v1/batonv1connect"
	"github.com/batonhq/baton/server/internal/proof"
	"github.com/batonhq/baton/server/internal/testdb"
)

// TestConversionCapAcrossTwoProcesses: two Baton processes on one
// database share a daily conversion cap of 100; 1,000 conversions sent to
// both at once give exactly 100 accepted, the rest rejected with
// cap_reached, because the cap's counter lives in PostgreSQL and is raised
// inside each conversion's transaction.
func TestConversionCapAcrossTwoProcesses(t *testing.T) {
	dbURL := testdb.URL(t)
	key := "BATON_MASTER_KEY=" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)) // one key for both: they share partners' sealed secrets
	a := startBatonEnv(t, dbURL, t.TempDir(), freeAddr(t), key)
	b := startBatonEnv(t, dbURL, t.TempDir(), freeAddr(t), key)
	ctx := context.Background()
	caps := batonv1connect.NewCapServiceClient(http.DefaultClient, "http://"+a.addr, bearerKey("crash-test-admin-key-0123"))
	if _, err := caps.SetCaps(ctx, &batonv1.SetCapsRequest{OfferId: "off_demo", Caps: []*batonv1.Cap{{Kind: batonv1.CapKind_CAP_KIND_CONVERSIONS,
		Period: batonv1.CapPeriod_CAP_PERIOD_DAY, Limit: 100, Action: batonv1.ControlAction_CONTROL_ACTION_REJECT}}}); err != nil {
		t.Fatal(err)
	}
	sid := endpointAndClick(t, "http://"+a.addr, "http://127.0.0.1:9")
	const n = 1000
	var mu sync.Mutex
	accepted, rejected, failed := 0, 0, 0
	var wg sync.WaitGroup
	work := make(chan int)
	for w := range 16 {
		base := "http://" + []*proc{a, b}[w%2].addr
		wg.Add(1)
		go func() {
			defer wg.Done()
			conv := batonv1connect.NewConversionServiceClient(&http.Client{Timeout: 30 * time.Second}, base, bearerKey("bk_demo_advertiser_key_0000000000"))
			amount := int64(1000)
			for i := range work {
				res, err := conv.RecordConversion(ctx, &batonv1.RecordConversionRequest{ClickId: sid, OrderId: fmt.Sprintf("XCAP-%d", i), AmountJpy: &amount})
				mu.Lock()
				switch {
				case err != nil:
					failed++
					t.Errorf("conversion %d: %v", i, err)
				case res.GetConversion().GetStatus() == batonv1.ConversionStatus_CONVERSION_STATUS_PENDING && len(res.GetConversion().GetSignals()) == 0:
					accepted++
				case res.GetConversion().GetStatus() == batonv1.ConversionStatus_CONVERSION_STATUS_REJECTED && slices.Contains(res.GetConversion().GetSignals(), "cap_reached"):
					rejected++
				default:
					failed++
					t.Errorf("conversion %d: %v", i, res.GetConversion())
				}
				mu.Unlock()
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	usage, err := caps.GetCapUsage(ctx, &batonv1.GetCapUsageRequest{OfferId: "off_demo"})
	if err != nil {
		t.Fatal(err)
	}
	lost := failed + max(accepted-100, 100-accepted)
	if len(usage.GetUsage()) != 1 || usage.GetUsage()[0].GetUsed() != 100 {
		t.Errorf("usage %v, want 100 used", usage.GetUsage())
		lost++
	}
	proof.Tally(t, "fault: 1000 conversions vs a cap of 100 on 2 processes", n, lost,
		fmt.Sprintf("accepted=%d rejected=%d (cap_reached) errors=%d", accepted, rejected, failed))
}
