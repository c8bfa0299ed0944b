package spool_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/batonhq/baton/server/internal/domain"
	"github.com/batonhq/baton/server/internal/spool"
)

// table is what a loader has stored, by click ID, with how often each was
// inserted (the store's ON CONFLICT DO NOTHING makes that once; here every
// insert is counted to see what the spool asks for).
type table struct {
	mu   sync.Mutex
	rows map[string]int
	down bool
}

func (tb *table) load(_ context.Context, clicks []*domain.Click) error {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if tb.down {
		return domain.Wrap(domain.ErrUnavailable, fmt.Errorf("connection refused"), "")
	}
	for _, c := range clicks {
		tb.rows[c.ID]++
	}
	return nil
}

func click(i int) *domain.Click {
	return &domain.Click{ID: fmt.Sprintf("c%05d", i), CreatedAt: time.Unix(1700000000, 0).UTC(), OfferID: "o1", SubIDs: []string{"a", ""}}
}

// TestTornTailIsTruncatedAndTheRestReplayed: clicks spooled while the
// database is down survive a process that dies with a half-written record
// at the tail; the next open truncates that record and loads the others.
func TestTornTailIsTruncatedAndTheRestReplayed(t *testing.T) {
	dir := t.TempDir()
	tb := &table{rows: map[string]int{}, down: true}
	sp, err := spool.Open(spool.Options{Dir: dir}, tb.load)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := sp.Write(context.Background(), click(i)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if st := sp.Stats(); st.Pending != 200 {
		t.Fatalf("pending %d, want 200", st.Pending)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_ = sp.Close(ctx) // the database is down: nothing loads
	// A torn record: a header promising more than follows.
	segs, _ := filepath.Glob(filepath.Join(dir, "seg-*.log"))
	if len(segs) == 0 {
		t.Fatal("no segment")
	}
	// Right after the last whole record (the rest of a segment is zeros).
	data, err := os.ReadFile(segs[len(segs)-1])
	if err != nil {
		t.Fatal(err)
	}
	end := 0
	for end+8 <= len(data) && binary.LittleEndian.Uint32(data[end:]) != 0 {
		end += 8 + int(binary.LittleEndian.Uint32(data[end:]))
	}
	f, err := os.OpenFile(segs[len(segs)-1], os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{200, 0, 0, 0, 1, 2, 3, 4, '{', '"'}, int64(end)); err != nil {
		t.Fatal(err)
	}
	f.Close()

	tb.mu.Lock()
	tb.down = false
	tb.mu.Unlock()
	sp, err = spool.Open(spool.Options{Dir: dir}, tb.load)
	if err != nil {
		t.Fatal(err)
	}
	if err := sp.AwaitAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := sp.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if len(tb.rows) != 200 {
		t.Errorf("%d clicks loaded, want 200", len(tb.rows))
	}
	for id, n := range tb.rows {
		if n != 1 {
			t.Errorf("click %s loaded %d times", id, n)
		}
	}
	segs, _ = filepath.Glob(filepath.Join(dir, "seg-*.log"))
	for _, s := range segs {
		if fi, err := os.Stat(s); err == nil && fi.Size() > 0 {
			t.Errorf("segment %s still holds %d bytes after everything loaded", s, fi.Size())
		}
	}
}

// TestAwaitWaitsForTheLoad: a reader asking for a spooled click returns
// only once the click is loaded, and a click not spooled returns at once.
func TestAwaitWaitsForTheLoad(t *testing.T) {
	tb := &table{rows: map[string]int{}, down: true}
	sp, err := spool.Open(spool.Options{Dir: t.TempDir()}, tb.load)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close(context.Background())
	if err := sp.Write(context.Background(), click(1)); err != nil {
		t.Fatal(err)
	}
	if err := sp.Await(context.Background(), "unknown"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := sp.Await(ctx, click(1).ID); err == nil {
		t.Fatal("Await returned while the click could not be loaded")
	}
	tb.mu.Lock()
	tb.down = false
	tb.mu.Unlock()
	if err := sp.Await(context.Background(), click(1).ID); err != nil {
		t.Fatal(err)
	}
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if tb.rows[click(1).ID] != 1 {
		t.Fatalf("after Await: %v", tb.rows)
	}
}

// TestFullAtTheBound: past MaxBytes, Write says ErrFull (the caller falls
// back to the synchronous write) instead of growing the spool.
func TestFullAtTheBound(t *testing.T) {
	tb := &table{rows: map[string]int{}, down: true}
	sp, err := spool.Open(spool.Options{Dir: t.TempDir(), MaxBytes: 65536}, tb.load)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		_ = sp.Close(ctx)
	}()
	var full bool
	for i := range 1000 {
		if err := sp.Write(context.Background(), click(i)); errors.Is(err, spool.ErrFull) {
			full = true
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if !full {
		t.Fatal("never full")
	}
	if st := sp.Stats(); st.DiskBytes > 65536+8192 {
		t.Fatalf("spool grew to %d bytes past its bound of 65536", st.DiskBytes)
	}
}
