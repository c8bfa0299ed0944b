package postback

import (
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseRender checks that Parse never panics and either accepts a
// template or reports an UnknownVariableError that points at the reference,
// that rendering never panics and leaves literal-only templates unchanged,
// and that each encoding of an arbitrary value is safe for its context and
// decodes back to the value.
func FuzzParseRender(f *testing.F) {
	for _, seed := range [][2]string{
		{"https://media.example/cv?sid=##PARA1##&amount=##AMOUNT##&oid=##CONTENT_UID1##", "a b&c"},
		{`{"a":"{click_id}","b":{amount}}`, `"quoted" <tag>`},
		{"{Click_Id}##para1##{click-id}{ }####", "café"},
		{"##FOO##", "あいう"},
		{"x{foo}y", "\r\n"},
		{"###SID###{{click_id}}", "\xff\x00%"},
		{"", ""},
		{"https://cake.example/p?tid=#tid#&s1=#s1#&x=##s1##&y=#s1##SID##", "v"},
		{"#foo#{#s1#}", "#"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, tmpl, value string) {
		tp, err := Parse(tmpl)
		if err != nil {
			var ue *UnknownVariableError
			if !errors.As(err, &ue) {
				t.Fatalf("Parse(%q) returned %T %v", tmpl, err, err)
			}
			if ue.Offset < 0 || !strings.HasPrefix(tmpl[ue.Offset:], ue.Name) {
				t.Fatalf("Parse(%q): error %+v does not point at the reference", tmpl, ue)
			}
			_ = ue.Error()
		} else {
			if tp.String() != tmpl {
				t.Fatalf("String() = %q, want %q", tp.String(), tmpl)
			}
			all := Vars{}
			for _, n := range Known {
				all[n] = value
			}
			for enc := range Raw + 2 {
				out := tp.Render(all, enc)
				if len(tp.Variables()) == 0 && out != tmpl {
					t.Fatalf("literal template %q rendered as %q", tmpl, out)
				}
			}
			for _, n := range tp.Variables() {
				if !knownSet[n] {
					t.Fatalf("Variables() contains unknown %q", n)
				}
			}
			// Every variable has a brace spelling, and it never runs into
			// literal text: converting to brace always works and renders
			// the same.
			conv, err := Convert(tmpl, DialectBrace)
			if err != nil {
				t.Fatalf("Convert(%q, brace): %v", tmpl, err)
			}
			if got, want := MustParse(conv).Render(all, Raw), tp.Render(all, Raw); got != want {
				t.Fatalf("Convert(%q, brace) = %q renders %q, want %q", tmpl, conv, got, want)
			}
		}

		one := MustParse("{click_id}")
		v := Vars{"click_id": value}

		u := one.Render(v, URLComponent)
		for i := 0; i < len(u); i++ {
			if c := u[i]; !isUnreserved(c) && c != '%' {
				t.Fatalf("URLComponent(%q) = %q has byte %q", value, u, c)
			}
		}
		if back, err := url.PathUnescape(u); err != nil || back != value {
			t.Fatalf("URLComponent(%q) = %q decodes to %q, %v", value, u, back, err)
		}

		form := one.Render(v, Form)
		if back, err := url.QueryUnescape(form); err != nil || back != value {
			t.Fatalf("Form(%q) = %q decodes to %q, %v", value, form, back, err)
		}

		j := one.Render(v, JSON)
		if strings.ContainsAny(j, "<>&\r\n") {
			t.Fatalf("JSON(%q) = %q has an unescaped character", value, j)
		}
		var back string
		if err := json.Unmarshal([]byte(`"`+j+`"`), &back); err != nil {
			t.Fatalf("JSON(%q) = %q is not a JSON string body: %v", value, j, err)
		}
		if utf8.ValidString(value) && back != value {
			t.Fatalf("JSON(%q) = %q decodes to %q", value, j, back)
		}

		raw := one.Render(v, Raw)
		if strings.ContainsAny(raw, "\r\n") || raw != strings.NewReplacer("\r", "", "\n", "").Replace(value) {
			t.Fatalf("Raw(%q) = %q", value, raw)
		}
	})
}
