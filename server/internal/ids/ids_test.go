package ids

import (
	"bytes"
	"sort"
	"strings"
	"testing"
	"time"
)

func TestNewIsTimeOrderedAndUnique(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	n := 0
	src := NewSource(func() time.Time { n++; return base.Add(time.Duration(n) * time.Millisecond) }, nil)
	seen := map[string]bool{}
	var list []string
	for range 1000 {
		id := src.New("off")
		if !strings.HasPrefix(id, "off_") || len(id) != 30 {
			t.Fatalf("id %q: want off_ + 26 chars", id)
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
		list = append(list, id)
	}
	if !sort.StringsAreSorted(list) {
		t.Fatal("ids made later must sort after ids made earlier")
	}
	got, err := Time(list[0])
	if err != nil || !got.Equal(base.Add(time.Millisecond)) {
		t.Fatalf("Time(%q) = %v, %v; want %v", list[0], got, err, base.Add(time.Millisecond))
	}
}

func TestNewUsesRandomSource(t *testing.T) {
	t.Parallel()
	fixed := func() time.Time { return time.UnixMilli(0) }
	a := NewSource(fixed, bytes.NewReader(bytes.Repeat([]byte{0}, 10))).New("x")
	b := NewSource(fixed, bytes.NewReader(bytes.Repeat([]byte{0xff}, 10))).New("x")
	if a != "x_"+strings.Repeat("0", 26) {
		t.Fatalf("zero id = %q", a)
	}
	if b != "x_0000000003zzzzzzzzzzzzzzzw" {
		t.Fatalf("max-random id = %q", b)
	}
}

func TestTimeRejectsForeignIDs(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "abc", "off_!!!!!!!!!!!!!!!!!!!!!!!!!!", "demo-offer"} {
		if _, err := Time(s); err == nil {
			t.Errorf("Time(%q) succeeded, want error", s)
		}
	}
}
