package postback

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// # Sealed secrets
//
// An endpoint may hold named secrets, sealed at rest, that its templates use
// as {secret:NAME} or, in the CATS style, ##SECRET:NAME##. NAME is a letter
// followed by up to 63 letters, digits or underscores, matched exactly (case
// counts). A reference to a name the endpoint does not hold makes
// [ParseSecret] fail with an [*UnknownSecretError]. Secret values are
// substituted like any other value (encoded for their place) when an attempt
// is rendered, never stored with the delivery, and masked as [MaskValue] in
// everything Baton shows or logs.

// MaskValue is what a secret's value (or a sensitive query value) is shown as.
const MaskValue = "xxxxx"

// MaxSecretNameLen bounds a secret's name.
const MaxSecretNameLen = 64

// ValidSecretName reports whether name may name a secret.
func ValidSecretName(name string) bool {
	if name == "" || len(name) > MaxSecretNameLen || !isLower(name[0]) && !isUpper(name[0]) {
		return false
	}
	for i := 1; i < len(name); i++ {
		if c := name[i]; !isLower(c) && !isUpper(c) && !isDigit(c) && c != '_' {
			return false
		}
	}
	return true
}

// UnknownSecretError reports a reference to a secret the endpoint does not
// hold: the first one. Name is the reference as written; Offset the byte
// offset of its first character.
type UnknownSecretError struct {
	Name   string
	Offset int
	Known  []string
}

// Error names the reference and the endpoint's secrets (names only).
func (e *UnknownSecretError) Error() string {
	if len(e.Known) == 0 {
		return fmt.Sprintf("postback: unknown secret %s at offset %d; this endpoint holds no secrets (add one under secrets)", e.Name, e.Offset)
	}
	return fmt.Sprintf("postback: unknown secret %s at offset %d; this endpoint's secrets: %s", e.Name, e.Offset, strings.Join(e.Known, ", "))
}

// SecretTemplate is a template that may also reference sealed secrets. It is
// immutable and safe for concurrent use; a nil *SecretTemplate renders as "".
type SecretTemplate struct {
	segs    []secretSeg
	vars    []string
	secrets []string
}

// secretSeg is a parsed plain template, or (when secret is set) one secret.
type secretSeg struct {
	tmpl   *Template
	secret string
}

// ParseSecret parses a template (see [Parse]) in which {secret:NAME} and
// ##SECRET:NAME## reference the secrets named in known. Text around the
// secret references is parsed by [Parse]; its errors keep their offsets in
// the whole template.
func ParseSecret(s string, known []string) (*SecretTemplate, error) {
	t := &SecretTemplate{}
	seenVar, seenSecret := map[string]bool{}, map[string]bool{}
	addText := func(text string, at int) error {
		if text == "" {
			return nil
		}
		p, err := Parse(text)
		if err != nil {
			var uv *UnknownVariableError
			if errors.As(err, &uv) {
				return &UnknownVariableError{Name: uv.Name, Offset: uv.Offset + at}
			}
			return err
		}
		t.segs = append(t.segs, secretSeg{tmpl: p})
		for _, v := range p.Variables() {
			if !seenVar[v] {
				seenVar[v] = true
				t.vars = append(t.vars, v)
			}
		}
		return nil
	}
	start := 0
	for i := 0; i < len(s); {
		n, name := scanSecretRef(s, i)
		if n == 0 {
			i++
			continue
		}
		if !containsString(known, name) {
			return nil, &UnknownSecretError{Name: s[i : i+n], Offset: i, Known: append([]string(nil), known...)}
		}
		if err := addText(s[start:i], start); err != nil {
			return nil, err
		}
		t.segs = append(t.segs, secretSeg{secret: name})
		if !seenSecret[name] {
			seenSecret[name] = true
			t.secrets = append(t.secrets, name)
		}
		i += n
		start = i
	}
	if err := addText(s[start:], start); err != nil {
		return nil, err
	}
	return t, nil
}

// scanSecretRef reports the length of the secret reference at s[i] (0 if
// none) and the secret's name.
func scanSecretRef(s string, i int) (int, string) {
	var opening, closing string
	switch {
	case strings.HasPrefix(s[i:], "{secret:"):
		opening, closing = "{secret:", "}"
	case strings.HasPrefix(s[i:], "##SECRET:"):
		opening, closing = "##SECRET:", "##"
	default:
		return 0, ""
	}
	rest := s[i+len(opening):]
	j := 0
	for j < len(rest) && j <= MaxSecretNameLen && (isLower(rest[j]) || isUpper(rest[j]) || isDigit(rest[j]) || rest[j] == '_') {
		j++
	}
	name := rest[:j]
	if !ValidSecretName(name) || !strings.HasPrefix(rest[j:], closing) {
		return 0, ""
	}
	return len(opening) + j + len(closing), name
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Variables returns the canonical variable names the template uses, in order
// of first use, without the secrets.
func (t *SecretTemplate) Variables() []string {
	if t == nil {
		return nil
	}
	return append([]string(nil), t.vars...)
}

// Secrets returns the names of the secrets the template uses, in order of
// first use.
func (t *SecretTemplate) Secrets() []string {
	if t == nil {
		return nil
	}
	return append([]string(nil), t.secrets...)
}

// Render substitutes v and the secret values (by name; a missing one renders
// as "") into the template, each encoded with enc.
func (t *SecretTemplate) Render(v Vars, secrets map[string]string, enc Encoding) string {
	if t == nil {
		return ""
	}
	var b strings.Builder
	for _, s := range t.segs {
		if s.tmpl != nil {
			b.WriteString(s.tmpl.Render(v, enc))
			continue
		}
		encode(&b, secrets[s.secret], enc)
	}
	return b.String()
}

// Scrubber replaces secret values, in every encoding a template could have
// given them, with [MaskValue] in text about to be stored, shown or logged
// (a receiver's answer that echoes a key, an error quoting a URL).
type Scrubber struct {
	r *strings.Replacer
}

// minScrubLen is the shortest value scrubbed: replacing shorter ones would
// mangle unrelated text (and such values are refused as secrets).
const minScrubLen = 4

// NewScrubber scrubs the given values.
func NewScrubber(values ...string) Scrubber {
	var pairs []string
	seen := map[string]bool{}
	for _, v := range values {
		if len(v) < minScrubLen {
			continue
		}
		var b strings.Builder
		encode(&b, v, URLComponent)
		var j strings.Builder
		encode(&j, v, JSON)
		var r strings.Builder
		encode(&r, v, Raw)
		for _, form := range []string{v, b.String(), url.QueryEscape(v), j.String(), r.String()} {
			if !seen[form] {
				seen[form] = true
				pairs = append(pairs, form, MaskValue)
			}
		}
	}
	if len(pairs) == 0 {
		return Scrubber{}
	}
	return Scrubber{r: strings.NewReplacer(pairs...)}
}

// Scrub returns s with every secret value masked.
func (s Scrubber) Scrub(text string) string {
	if s.r == nil {
		return text
	}
	return s.r.Replace(text)
}
