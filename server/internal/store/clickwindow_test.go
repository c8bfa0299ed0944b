package store_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"sync"
	"testing"
	"time"

	"github.com/batonhq/baton/server/internal/clickid"
	"github.com/batonhq/baton/server/internal/domain"
	"github.com/batonhq/baton/server/internal/secretbox"
	"github.com/batonhq/baton/server/internal/store"
	"github.com/batonhq/baton/server/internal/testdb"
)

// openPair opens two stores on one database: two Baton nodes.
func openPair(t *testing.T) (*store.Store, *store.Store) {
	t.Helper()
	url := testdb.URL(t)
	box, _ := secretbox.New(bytes.Repeat([]byte{1}, secretbox.KeySize))
	var out [2]*store.Store
	for i := range out {
		st, err := store.Open(context.Background(), url, store.Options{Box: box})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(st.Close)
		if _, err := st.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		out[i] = st
	}
	return out[0], out[1]
}

func windowOffer(t *testing.T, st *store.Store, interval time.Duration) domain.Offer {
	t.Helper()
	ctx := context.Background()
	adv, err := st.CreateAdvertiser(ctx, domain.Advertiser{Name: "shop"}, "pw")
	if err != nil {
		t.Fatal(err)
	}
	o, err := st.CreateOffer(ctx, domain.Offer{AdvertiserID: adv.ID, Name: "o", Status: domain.OfferActive, LandingURL: "https://s.example/",
		AttributionWindow: time.Hour, AttributionModel: domain.LastClick, TimestampTolerance: time.Hour, DuplicateClickInterval: interval,
		Payout: domain.Payout{PercentBPS: 100}})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// spooledClick is a click as a node spools it: its own in-memory guess
// says unique.
func spooledClick(o domain.Offer, at time.Time, ip, ua string, flags domain.ClickFlag) *domain.Click {
	id, created := clickid.Generator{Now: func() time.Time { return at }, Rand: rand.Reader}.New()
	return &domain.Click{ID: id, CreatedAt: created, OfferID: o.ID, AdvertiserID: o.AdvertiserID, PublisherID: "pub", Source: domain.ClickFromRedirect,
		IP: ip, UserAgent: ua, Flags: flags, Unique: flags == 0, ExpiresAt: created.Add(time.Hour)}
}

func stored(t *testing.T, st *store.Store, c *domain.Click) domain.Click {
	t.Helper()
	got, err := st.GetClick(context.Background(), c.ID)
	if err != nil {
		t.Fatalf("click %s: %v", c.ID, err)
	}
	return got
}

// The IAB window is decided where the clicks are loaded, in PostgreSQL:
// the same visitor's clicks loaded by two nodes count once within the
// offer's interval and again after it, whatever each node guessed.
func TestDuplicateClickWindowIsSharedBetweenNodes(t *testing.T) {
	t.Parallel()
	node1, node2 := openPair(t)
	ctx := context.Background()
	o := windowOffer(t, node1, 30*time.Minute)
	const ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0 Safari/537.36"
	t0 := time.Now().Add(-2 * time.Hour).Truncate(time.Millisecond)

	first := spooledClick(o, t0, "203.0.113.7", ua, 0)
	again := spooledClick(o, t0.Add(10*time.Minute), "203.0.113.7", ua, 0)
	otherUA := spooledClick(o, t0.Add(11*time.Minute), "203.0.113.7", ua+" Edg/131.0", 0)
	bot := spooledClick(o, t0.Add(40*time.Minute), "203.0.113.7", ua, domain.FlagBot)
	after := spooledClick(o, t0.Add(45*time.Minute), "203.0.113.7", ua, 0)
	// The node's own cache took this one for a duplicate; PostgreSQL
	// decides it is the first of a new window.
	guessed := spooledClick(o, t0.Add(80*time.Minute), "203.0.113.7", ua, domain.FlagDuplicate)

	if err := node1.LoadClicks(ctx, []*domain.Click{first}); err != nil {
		t.Fatal(err)
	}
	if err := node2.LoadClicks(ctx, []*domain.Click{again, otherUA}); err != nil {
		t.Fatal(err)
	}
	if err := node2.LoadClicks(ctx, []*domain.Click{bot}); err != nil {
		t.Fatal(err)
	}
	if err := node1.LoadClicks(ctx, []*domain.Click{after}); err != nil {
		t.Fatal(err)
	}
	if err := node1.LoadClicks(ctx, []*domain.Click{guessed}); err != nil {
		t.Fatal(err)
	}
	// A spool replay after kill -9 loads the first click again: stored
	// once, still unique.
	replay := *first
	replay.Unique = false
	if err := node2.LoadClicks(ctx, []*domain.Click{&replay}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		c      *domain.Click
		unique bool
		flag   domain.ClickFlag
	}{
		{"first click, node 1", first, true, 0},
		{"same visitor 10 min later, node 2", again, false, domain.FlagDuplicate},
		{"another user agent from the same IP", otherUA, true, 0},
		{"a bot 40 min later (not windowed)", bot, false, domain.FlagBot},
		{"same visitor 45 min later: a new window", after, true, 0},
		{"guessed duplicate by its node, 35 min after the last unique", guessed, true, 0},
	} {
		got := stored(t, node1, tc.c)
		if got.Unique != tc.unique || got.Flags != tc.flag {
			t.Errorf("%s: stored unique=%v flags=%b, want unique=%v flags=%b", tc.name, got.Unique, got.Flags, tc.unique, tc.flag)
		}
	}
}

// Clicks of one visitor in one batch, and in batches loaded at once by two
// nodes, still give one unique click per window.
func TestDuplicateClickWindowUnderConcurrentLoads(t *testing.T) {
	t.Parallel()
	node1, node2 := openPair(t)
	ctx := context.Background()
	o := windowOffer(t, node1, 30*time.Minute)
	t0 := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	const visitors, perBatch, batches = 5, 4, 20
	var all []*domain.Click
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, batches)
	for b := range batches {
		var batch []*domain.Click
		for i := range perBatch {
			at := t0.Add(time.Duration(b*perBatch+i) * time.Second)
			batch = append(batch, spooledClick(o, at, "198.51.100."+string(rune('1'+(b+i)%visitors)), "UA", 0))
		}
		mu.Lock()
		all = append(all, batch...)
		mu.Unlock()
		node := node1
		if b%2 == 1 {
			node = node2
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- node.LoadClicks(ctx, batch)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	unique := 0
	for _, c := range all {
		if stored(t, node2, c).Unique {
			unique++
		}
	}
	if unique != visitors {
		t.Errorf("%d clicks of %d visitors within 30 min through two nodes: %d stored unique, want %d", len(all), visitors, unique, visitors)
	}
}
