// Package postback renders the URL, header and body templates Baton uses to
// send postbacks (conversion notifications) to partners, signs them, and
// decides when a failed delivery is retried.
//
// The package is pure: it performs no network or database I/O and keeps no
// global mutable state, so every function is safe for concurrent use.
//
// # Templates
//
// A template is text with variable references in one of three dialects,
// which may be mixed in one template (the mapping between them is
// [Dialects]; [Convert] rewrites a template from one to another):
//
//   - Brace dialect: {name}, where name matches [a-z][a-z0-9_]* and must be
//     one of [Known]. Anything else involving braces is literal text: a '{'
//     not immediately followed by a lower-case ASCII letter (so `{"a":1}`,
//     `{ }` and `{Click_Id}` are literal), a reference that is not closed by
//     '}' right after the name (`{click-id}`), and a lone '}'. This lets JSON
//     bodies such as {"id":"{click_id}"} be written without escaping.
//   - CATS dialect: ##NAME##, where NAME matches [A-Z][A-Z0-9_]* and must be
//     one of the CATS names below. "##" that does not form such a reference
//     (for example ##para1##, in lower case, or a lone "##") is literal.
//   - CAKE dialect: #name#, where name matches [a-z][a-z0-9_]* and must be
//     one of the CAKE names in [Dialects] (#s1#, #tid#, ...). A '#' right
//     after a literal '#' never opens one, so ##s1## is literal text and
//     ##SID## stays a CATS reference; a '#' not followed by a lower-case
//     letter and a closing '#' (#frag, #/path, #1#) is literal. A URL
//     fragment spelled like a CAKE name (#top#) must be avoided: it is a
//     reference, refused when unknown.
//
// CATS names map onto canonical names as follows:
//
//	##AMOUNT##            amount
//	##PARA1##..##PARA5##  sub1..sub5
//	##CID##               offer_id (広告ID, the advertisement ID)
//	##SID##               click_id (the session ID this network issued)
//	##TUID##              buyer_user_name (the tracking user ID)
//	##CONTENT_UID1##      order_id
//	##CONTENT_UID2##      order_id_2
//
// Money has one unit per variable: amount, commission (and ##AMOUNT##) are
// decimals in the currency's major unit ("1980" for ¥1,980, "12.50" for
// $12.50, "1.234" for 1.234 KWD); amount_minor and commission_minor are
// whole numbers of the minor unit ("1980", "1250", "1234"); currency and
// commission_currency are ISO 4217 codes. None is ever negative: a reversal
// is told by status.
//
// A reference that matches a dialect's syntax but names no known variable
// ({foo}, ##FOO##) makes [Parse] fail with an [*UnknownVariableError], so a
// typo is refused when the partner is configured rather than silently
// rendered as text.
//
// Only substituted values are encoded (see [Encoding]); the literal text of a
// template is copied to the output byte for byte.
package postback

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// Known lists the canonical (brace dialect) variable names, sorted. It is
// exported for display and validation in user interfaces; Parse uses its own
// copy, so modifying this slice does not change what Parse accepts.
var Known = []string{
	"advertiser_id",
	"amount",
	"amount_minor",
	"buyer_user_name",
	"click_id",
	"commission",
	"commission_currency",
	"commission_minor",
	"conversion_id",
	"currency",
	"delivery_id",
	"downstream_id",
	"event",
	"event_time",
	"offer_id",
	"order_id",
	"order_id_2",
	"publisher_id",
	"sale_time",
	"site_id",
	"status",
	"sub1",
	"sub2",
	"sub3",
	"sub4",
	"sub5",
	"timestamp",
	"upstream_id",
}

// knownSorted is a private copy of Known, for error messages.
var knownSorted = slices.Sorted(slices.Values(Known))

// knownSet is the private copy of Known that Parse consults.
var knownSet = func() map[string]bool {
	m := make(map[string]bool, len(Known))
	for _, n := range Known {
		m[n] = true
	}
	return m
}()

// catsNames maps a CATS variable NAME (without the surrounding ##) to its
// canonical name.
var catsNames = map[string]string{
	"AMOUNT":       "amount",
	"PARA1":        "sub1",
	"PARA2":        "sub2",
	"PARA3":        "sub3",
	"PARA4":        "sub4",
	"PARA5":        "sub5",
	"CID":          "offer_id",
	"SID":          "click_id",
	"TUID":         "buyer_user_name",
	"CONTENT_UID1": "order_id",
	"CONTENT_UID2": "order_id_2",
}

// Vars holds the values substituted into a template, keyed by canonical
// name (CATS references are looked up under their canonical name too). A
// name that is missing renders as the empty string; keys that the template
// does not use are ignored. Values are arbitrary bytes; the Encoding passed
// to Render makes them safe for their context.
type Vars map[string]string

// Encoding selects how Render escapes substituted values. Literal template
// text is never escaped. A value outside the constants below is treated as
// URLComponent, the strictest encoding.
type Encoding int

const (
	// URLComponent percent-encodes every byte except the RFC 3986
	// unreserved characters A-Z a-z 0-9 - . _ ~, using upper-case hex: a
	// space becomes %20 and each byte of a UTF-8 sequence becomes %XX. Use it
	// for values placed in a URL's path or query.
	URLComponent Encoding = iota
	// Form encodes a value for an application/x-www-form-urlencoded body,
	// exactly as url.QueryEscape does (a space becomes '+').
	Form
	// JSON produces the inside of a JSON string (no surrounding quotes), as
	// encoding/json writes it: quotes, backslashes and control characters
	// are escaped, so are <, > and & (as \u003c, \u003e, \u0026) and
	// U+2028/U+2029, and invalid UTF-8 becomes U+FFFD. The template must put
	// the reference inside quotes ("{click_id}") unless the value is known
	// to be a JSON number.
	JSON
	// Raw copies a value as is, except that CR and LF bytes are removed, so
	// that a value cannot end a header line. Use it for header values.
	Raw
)

// UnknownVariableError reports a reference to an unknown variable: the first
// one in the template. Name is the reference as written, including its
// delimiters ("{foo}" or "##FOO##"); Offset is the byte offset of its first
// character in the template.
type UnknownVariableError struct {
	Name   string
	Offset int
}

// Error names the variable and its offset and lists the names known in the
// dialect the reference was written in, for example
// "unknown variable {foo} at offset 12; known brace variables: advertiser_id, amount, ...".
// When the name exists in the other dialect it adds a suggestion
// ("did you mean ##SID##?").
func (e *UnknownVariableError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "postback: unknown variable %s at offset %d; ", e.Name, e.Offset)
	if name, ok := strings.CutPrefix(e.Name, "##"); ok {
		name = strings.TrimSuffix(name, "##")
		b.WriteString("known CATS variables: ")
		for i, n := range sortedCATS() {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("##" + n + "##")
		}
		if low := strings.ToLower(name); knownSet[low] {
			fmt.Fprintf(&b, "; did you mean {%s}?", low)
		}
		return b.String()
	}
	if strings.HasPrefix(e.Name, "#") {
		return cakeError(&b, e.Name)
	}
	name := strings.TrimSuffix(strings.TrimPrefix(e.Name, "{"), "}")
	b.WriteString("known brace variables: ")
	b.WriteString(strings.Join(knownSorted, ", "))
	if up := strings.ToUpper(name); catsNames[up] != "" {
		fmt.Fprintf(&b, "; did you mean ##%s## (or {%s})?", up, catsNames[up])
	}
	return b.String()
}

func sortedCATS() []string {
	out := make([]string, 0, len(catsNames))
	for n := range catsNames {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// part is one piece of a parsed template: literal text when name is empty,
// otherwise a reference to the canonical variable name.
type part struct {
	lit  string
	name string
}

// Template is a parsed postback template. It is immutable and safe for
// concurrent use. The zero value and a nil *Template render as "".
type Template struct {
	src   string
	parts []part
	vars  []string
}

// Parse parses a template in either or both dialects (see the package
// documentation for the exact syntax). It fails only on a well-formed
// reference to an unknown variable, returning an [*UnknownVariableError] for
// the first one; any other text, including unbalanced braces and stray '#',
// is accepted as literal.
func Parse(s string) (*Template, error) {
	t := &Template{src: s}
	seen := make(map[string]bool)
	litStart := 0
	for i := 0; i < len(s); {
		n, cats := scanRef(s, i)
		cake := false
		if n == 0 {
			n = scanCAKE(s, i, litStart)
			cake = n > 0
		}
		if n == 0 {
			i++
			continue
		}
		written := s[i : i+n]
		var canonical string
		if cake {
			canonical = cakeNames[written[1:len(written)-1]]
		} else if cats {
			canonical = catsNames[written[2:len(written)-2]]
		} else if name := written[1 : len(written)-1]; knownSet[name] {
			canonical = name
		}
		if canonical == "" {
			return nil, &UnknownVariableError{Name: written, Offset: i}
		}
		if i > litStart {
			t.parts = append(t.parts, part{lit: s[litStart:i]})
		}
		t.parts = append(t.parts, part{name: canonical})
		if !seen[canonical] {
			seen[canonical] = true
			t.vars = append(t.vars, canonical)
		}
		i += n
		litStart = i
	}
	if litStart < len(s) {
		t.parts = append(t.parts, part{lit: s[litStart:]})
	}
	return t, nil
}

// scanRef reports the length of the syntactically valid reference starting
// at s[i] (0 if there is none) and whether it is in the CATS dialect.
func scanRef(s string, i int) (n int, cats bool) {
	switch s[i] {
	case '{':
		j := i + 1
		if j >= len(s) || !isLower(s[j]) {
			return 0, false
		}
		for j++; j < len(s) && (isLower(s[j]) || isDigit(s[j]) || s[j] == '_'); j++ {
		}
		if j < len(s) && s[j] == '}' {
			return j + 1 - i, false
		}
	case '#':
		if !strings.HasPrefix(s[i:], "##") {
			return 0, false
		}
		j := i + 2
		if j >= len(s) || !isUpper(s[j]) {
			return 0, false
		}
		for j++; j < len(s) && (isUpper(s[j]) || isDigit(s[j]) || s[j] == '_'); j++ {
		}
		if strings.HasPrefix(s[j:], "##") {
			return j + 2 - i, true
		}
	}
	return 0, false
}

func isLower(c byte) bool { return 'a' <= c && c <= 'z' }
func isUpper(c byte) bool { return 'A' <= c && c <= 'Z' }
func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// MustParse is like Parse but panics on error. It is meant for templates
// that are constants in the program, not for partner configuration.
func MustParse(s string) *Template {
	t, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return t
}

// Variables returns the canonical names of the variables the template uses,
// CATS references translated, in order of first use and without duplicates.
// The caller may modify the returned slice.
func (t *Template) Variables() []string {
	if t == nil {
		return nil
	}
	return append([]string(nil), t.vars...)
}

// Render substitutes v into the template, escaping each value with enc and
// copying literal text unchanged. Missing variables render as "".
func (t *Template) Render(v Vars, enc Encoding) string {
	if t == nil {
		return ""
	}
	var b strings.Builder
	b.Grow(len(t.src))
	for _, p := range t.parts {
		if p.name == "" {
			b.WriteString(p.lit)
			continue
		}
		encode(&b, v[p.name], enc)
	}
	return b.String()
}

// String returns the template's source text exactly as given to Parse.
func (t *Template) String() string {
	if t == nil {
		return ""
	}
	return t.src
}

const upperHex = "0123456789ABCDEF"

func encode(b *strings.Builder, s string, enc Encoding) {
	switch enc {
	case Form:
		b.WriteString(url.QueryEscape(s))
	case JSON:
		q, _ := json.Marshal(s) //nolint:errcheck // marshaling a string cannot fail
		b.Write(q[1 : len(q)-1])
	case Raw:
		for i := 0; i < len(s); i++ {
			if c := s[i]; c != '\r' && c != '\n' {
				b.WriteByte(c)
			}
		}
	default:
		for i := 0; i < len(s); i++ {
			c := s[i]
			if isUnreserved(c) {
				b.WriteByte(c)
				continue
			}
			b.WriteByte('%')
			b.WriteByte(upperHex[c>>4])
			b.WriteByte(upperHex[c&15])
		}
	}
}

// isUnreserved reports whether c is an RFC 3986 unreserved character.
func isUnreserved(c byte) bool {
	return isLower(c) || isUpper(c) || isDigit(c) || c == '-' || c == '.' || c == '_' || c == '~'
}
