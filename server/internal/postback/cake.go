package postback

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// cakeNames maps a CAKE token name (without the surrounding #) to its
// canonical name. The spellings follow CAKE's affiliate postback token list
// (#s1#..#s5#, #tid#, #oid#, #affid#, #price#, #leadid#); #amount# is an
// assumption: CAKE instances name the sale amount differently, check the
// instance's token list.
var cakeNames = map[string]string{
	"tid":    "click_id",
	"s1":     "sub1",
	"s2":     "sub2",
	"s3":     "sub3",
	"s4":     "sub4",
	"s5":     "sub5",
	"oid":    "offer_id",
	"affid":  "publisher_id",
	"price":  "commission",
	"leadid": "order_id",
	"amount": "amount",
}

// scanCAKE reports the length of the CAKE reference #name# starting at s[i],
// or 0. litStart is where the literal text before s[i] begins: a '#' right
// after a literal '#' never opens a reference, so "##s1##" stays literal and
// the dialect of a run of '#' is never in doubt.
func scanCAKE(s string, i, litStart int) int {
	if s[i] != '#' || (i > litStart && s[i-1] == '#') {
		return 0
	}
	j := i + 1
	if j >= len(s) || !isLower(s[j]) {
		return 0
	}
	for j++; j < len(s) && (isLower(s[j]) || isDigit(s[j]) || s[j] == '_'); j++ {
	}
	if j < len(s) && s[j] == '#' {
		return j + 1 - i
	}
	return 0
}

// cakeError is UnknownVariableError.Error for a CAKE reference such as #foo#.
func cakeError(b *strings.Builder, written string) string {
	name := strings.Trim(written, "#")
	b.WriteString("known CAKE variables: ")
	for i, n := range slices.Sorted(maps.Keys(cakeNames)) {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("#" + n + "#")
	}
	if knownSet[name] {
		fmt.Fprintf(b, "; did you mean {%s}?", name)
	} else if up := strings.ToUpper(name); catsNames[up] != "" {
		fmt.Fprintf(b, "; did you mean ##%s##?", up)
	}
	return b.String()
}
