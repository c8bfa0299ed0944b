package rpc

import (
	"strings"
	"testing"

	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
)

func TestJSONDepth(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want int
	}{
		{`{}`, 1},
		{`{"a":[1,{"b":2}],"c":{}}`, 3},
		{`{"name":"[[[{{{","x":"\"[{"}`, 1}, // brackets in strings do not count
		{`{"a":"\\"}`, 1},                   // an escaped backslash ends the escape
		{`"just a string"`, 0},
		{strings.Repeat("[", 100) + strings.Repeat("]", 100), 100},
	} {
		if got := jsonDepth([]byte(tc.in)); got != tc.want {
			t.Errorf("jsonDepth(%.40q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

// TestJSONCodecDepthLimit: the codec accepts a message nested exactly
// maxJSONDepth deep (unknown fields skipped, as Connect's own codec does)
// and refuses one level more, naming the limit.
func TestJSONCodecDepthLimit(t *testing.T) {
	t.Parallel()
	nest := func(depth int) []byte { // depth counts the outer object
		return []byte(`{"name":"x","unknown":` + strings.Repeat(`{"a":`, depth-2) + `[1]` + strings.Repeat("}", depth-2) + `}`)
	}
	codec := depthLimitedJSON{"json"}
	var m batonv1.CreatePublisherRequest
	if err := codec.Unmarshal(nest(maxJSONDepth), &m); err != nil || m.GetName() != "x" {
		t.Fatalf("at the limit: %v, name %q", err, m.GetName())
	}
	if err := codec.Unmarshal(nest(maxJSONDepth+1), &m); err == nil || !strings.Contains(err.Error(), "deeper than 64") {
		t.Fatalf("one level past the limit: %v", err)
	}
	if err := codec.Unmarshal(nil, &m); err == nil {
		t.Fatal("an empty message was accepted")
	}
	b, err := codec.Marshal(&batonv1.CreatePublisherRequest{Name: "あ"})
	if err != nil || !strings.Contains(string(b), `"name":"あ"`) {
		t.Fatalf("Marshal: %s %v", b, err)
	}
}
