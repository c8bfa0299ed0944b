package partners

import (
	"regexp"
	"strings"

	"github.com/batonhq/baton/server/internal/postback"
)

// Leftover is text in a rendered postback that looks like a variable of
// some dialect but was sent as it is: the template was written for another
// system's dialect, or in the wrong case.
type Leftover struct {
	Token string // as sent, e.g. "##para1##"
	// The Baton spelling that was probably meant ("##PARA1##", "{sub1}"),
	// or empty.
	Suggestion string
}

// leftoverRE matches the macro spellings of the systems Baton knows, and
// unfilled preset inputs: ##x##, #x#, {x}, {{x}}, [x], ${x}, %x%.
var leftoverRE = regexp.MustCompile(`##[A-Za-z0-9_]+##|#[A-Za-z][A-Za-z0-9_]*#|\{\{?\s*[A-Za-z_][A-Za-z0-9_]*\s*\}?\}|\[[A-Za-z_][A-Za-z0-9_]*\]|\$\{[A-Za-z_][A-Za-z0-9_]*\}|%%?[A-Za-z_]{3,}%%?`)

// partnerMacros are other systems' own macros for the click ID they sent
// (what a user pastes from their documentation); Baton keeps that ID as
// sub1.
var partnerMacros = map[string]string{
	"clickid": "sub1", "subid": "sub1", "transaction_id": "sub1", "cid": "sub1", "reqid": "sub1", "pbid": "sub1", "a8": "sub1",
	"payout": "commission", "sum": "amount", "txid": "order_id",
}

// Leftovers finds variable look-alikes in a rendered request (its URL and
// body, undecoded: Baton percent-encodes every '#', '{' and '%' of a
// substituted value, so what it finds is literal template text).
func Leftovers(rendered string) []Leftover {
	var out []Leftover
	seen := map[string]bool{}
	for _, loc := range leftoverRE.FindAllStringIndex(rendered, -1) {
		tok := rendered[loc[0]:loc[1]]
		if seen[tok] || strings.HasPrefix(tok, "%") && !strings.HasSuffix(tok, "%") {
			continue
		}
		// [x] is a macro only as a whole value (a form key such as
		// items[name] is not).
		if tok[0] == '[' && (loc[0] == 0 || rendered[loc[0]-1] != '=') {
			continue
		}
		seen[tok] = true
		out = append(out, Leftover{Token: tok, Suggestion: suggest(tok)})
	}
	return out
}

func suggest(tok string) string {
	name := strings.Trim(tok, "#{}[]$% ")
	low := strings.ToLower(name)
	for _, try := range []string{"##" + strings.ToUpper(name) + "##", "#" + low + "#", "{" + low + "}"} {
		if t, err := postback.Parse(try); err == nil && len(t.Variables()) == 1 {
			if strings.HasPrefix(tok, "##") && strings.HasPrefix(try, "##") || strings.HasPrefix(tok, "#") == strings.HasPrefix(try, "#") {
				return try
			}
		}
	}
	for _, try := range []string{"##" + strings.ToUpper(name) + "##", "#" + low + "#", "{" + low + "}"} {
		if t, err := postback.Parse(try); err == nil && len(t.Variables()) == 1 {
			return try
		}
	}
	if c := partnerMacros[low]; c != "" {
		return "{" + c + "}"
	}
	return ""
}
