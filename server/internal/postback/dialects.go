package postback

import (
	"fmt"
	"strings"
)

// Dialect is a spelling of template variables.
type Dialect string

// The dialects Parse reads.
const (
	// DialectBrace is Baton's own {name} (also Keitaro, Voluum, Affise and
	// Everflow write their macros in braces, with their own names).
	DialectBrace Dialect = "brace"
	// DialectCATS is ##NAME## (CATS, AffiliCode).
	DialectCATS Dialect = "cats"
	// DialectCAKE is #name# (CAKE).
	DialectCAKE Dialect = "cake"
)

// ParseDialect accepts a dialect's name: brace, cats or cake.
func ParseDialect(s string) (Dialect, error) {
	switch d := Dialect(strings.ToLower(strings.TrimSpace(s))); d {
	case DialectBrace, DialectCATS, DialectCAKE:
		return d, nil
	}
	return "", fmt.Errorf("postback: unknown dialect %q; known dialects: brace, cats, cake", s)
}

// Mapping is one row of the dialect table: a canonical variable and how
// each dialect spells it, empty where the dialect has no such variable.
type Mapping struct {
	Canonical string // "sub1"
	Brace     string // "{sub1}"
	CATS      string // "##PARA1##"
	CAKE      string // "#s1#"
}

// DialectTable is the mapping between the three dialects, one row per
// canonical variable in the order of [Known]. The caller may modify it.
func DialectTable() []Mapping {
	cats := inverse(catsNames)
	cake := inverse(cakeNames)
	out := make([]Mapping, 0, len(Known))
	for _, n := range knownSorted {
		m := Mapping{Canonical: n, Brace: "{" + n + "}"}
		if c := cats[n]; c != "" {
			m.CATS = "##" + c + "##"
		}
		if c := cake[n]; c != "" {
			m.CAKE = "#" + c + "#"
		}
		out = append(out, m)
	}
	return out
}

func inverse(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[v] = k
	}
	return out
}

// Spell writes the canonical variable name in dialect d: "{sub1}",
// "##PARA1##" or "#s1#". It reports false when d has no such variable.
func Spell(name string, d Dialect) (string, bool) {
	if !knownSet[name] {
		return "", false
	}
	switch d {
	case DialectBrace:
		return "{" + name + "}", true
	case DialectCATS:
		if c := inverse(catsNames)[name]; c != "" {
			return "##" + c + "##", true
		}
	case DialectCAKE:
		if c := inverse(cakeNames)[name]; c != "" {
			return "#" + c + "#", true
		}
	}
	return "", false
}

// UnmappedVariableError reports a variable of a template that the target
// dialect of [Convert] cannot spell.
type UnmappedVariableError struct {
	Name string  // canonical name, e.g. "publisher_id"
	To   Dialect // the target dialect
}

func (e *UnmappedVariableError) Error() string {
	var known []string
	for _, m := range DialectTable() {
		if s, ok := Spell(m.Canonical, e.To); ok {
			known = append(known, s)
		}
	}
	return fmt.Sprintf("postback: variable {%s} has no %s spelling; the %s dialect knows %s",
		e.Name, e.To, e.To, strings.Join(known, ", "))
}

// Convert rewrites a template (in any dialect or a mix) so that every
// variable is spelled in dialect to; literal text is kept byte for byte. It
// fails with an [*UnknownVariableError] when the template does not parse,
// with an [*UnmappedVariableError] naming the first variable the target
// dialect has no spelling for, and with an error naming the offset when the
// converted text would not read back as the same variables (a literal '#'
// or '{' that would run into a converted reference).
func Convert(tmpl string, to Dialect) (string, error) {
	if _, err := ParseDialect(string(to)); err != nil {
		return "", err
	}
	t, err := Parse(tmpl)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	var want []string
	for _, p := range t.parts {
		if p.name == "" {
			b.WriteString(p.lit)
			continue
		}
		s, ok := Spell(p.name, to)
		if !ok {
			return "", &UnmappedVariableError{Name: p.name, To: to}
		}
		want = append(want, p.name)
		b.WriteString(s)
	}
	out := b.String()
	back, err := Parse(out)
	if err != nil {
		return "", fmt.Errorf("postback: the template cannot be converted to %s: its literal text runs into a converted variable (%w)", to, err)
	}
	var got []string
	for _, p := range back.parts {
		if p.name != "" {
			got = append(got, p.name)
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		return "", fmt.Errorf("postback: the template cannot be converted to %s: its literal text next to a variable would change how it reads (variables %v would read as %v)", to, want, got)
	}
	return out, nil
}
