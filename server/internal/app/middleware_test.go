package app

import (
	"strings"
	"testing"
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
