package postback

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestREADMEDialectTable checks that the README's dialect table is the Go
// table: every variable with a CATS or CAKE spelling, in order, spelled the
// same.
func TestREADMEDialectTable(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "| Baton (brace) | CATS | CAKE |\n|---|---|---|\n")
	if !ok {
		t.Fatal("README.md has no dialect table (| Baton (brace) | CATS | CAKE |)")
	}
	table, _, _ := strings.Cut(rest, "\n\n")
	var want []string
	for _, m := range DialectTable() {
		if m.CATS == "" && m.CAKE == "" {
			continue
		}
		cell := func(s string) string {
			if s == "" {
				return "—"
			}
			return "`" + s + "`"
		}
		want = append(want, "| "+cell(m.Brace)+" | "+cell(m.CATS)+" | "+cell(m.CAKE)+" |")
	}
	got := strings.Split(strings.TrimSpace(table), "\n")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("README dialect table:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
