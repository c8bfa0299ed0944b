package clickid

import (
	"bytes"
	"sort"
	"strings"
	"testing"
	"time"
)

func TestNewIsURLSafeTimeOrderedAndParses(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 11, 22, 9, 30, 0, 123456789, time.UTC)
	n := 0
	g := Generator{Now: func() time.Time { n++; return base.Add(time.Duration(n) * time.Millisecond) }, Rand: Default.Rand}
	var list []string
	seen := map[string]bool{}
	for range 2000 {
		id, at := g.New()
		if len(id) != Len || len(id) > 32 {
			t.Fatalf("len(%q) = %d", id, len(id))
		}
		if strings.Trim(id, alphabet) != "" {
			t.Fatalf("%q has characters outside the URL-safe alphabet", id)
		}
		got, err := Parse(id)
		if err != nil || !got.Equal(at) {
			t.Fatalf("Parse(%q) = %v, %v; want %v", id, got, err, at)
		}
		if seen[id] {
			t.Fatalf("duplicate %q", id)
		}
		seen[id] = true
		list = append(list, id)
	}
	if !sort.StringsAreSorted(list) {
		t.Fatal("later IDs must sort after earlier ones")
	}
}

func TestRandomPartHas96Bits(t *testing.T) {
	t.Parallel()
	fixed := func() time.Time { return time.UnixMilli(0) }
	zero, _ := Generator{Now: fixed, Rand: bytes.NewReader(make([]byte, 12))}.New()
	ones, _ := Generator{Now: fixed, Rand: bytes.NewReader(bytes.Repeat([]byte{0xff}, 12))}.New()
	// 48 time bits are zero: the first 9 characters and 3 bits of the 10th.
	if zero != strings.Repeat("0", Len) {
		t.Fatalf("zero = %q", zero)
	}
	if ones[:9] != strings.Repeat("0", 9) || ones[9:] != "3zzzzzzzzzzzzzzzzzzy" {
		t.Fatalf("ones = %q", ones)
	}
}

func TestParseRejects(t *testing.T) {
	t.Parallel()
	good, _ := New()
	for _, s := range []string{"", "abc", good + "0", good[:Len-1], strings.ToUpper(good[:5]) + good[5:], good[:10] + "i" + good[11:], good[:Len-1] + "1"} {
		if _, err := Parse(s); err == nil {
			t.Errorf("Parse(%q) accepted", s)
		}
	}
}
