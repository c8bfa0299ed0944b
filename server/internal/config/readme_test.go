package config_test

import (
	"errors"
	"flag"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/batonhq/baton/server/internal/config"
)

// TestREADMEListsEverySetting: the README's configuration table has a row
// for every BATON_* variable the binary reads, with its default as
// `baton help` prints it.
func TestREADMEListsEverySetting(t *testing.T) {
	b, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, _ := strings.Cut(string(b), "## Configuration")
	table, _, _ = strings.Cut(table, "\n## ")
	rows := map[string]string{}
	for _, m := range regexp.MustCompile("(?m)^\\| `(BATON_[A-Z_]+)` \\| ([^|]*) \\|").FindAllStringSubmatch(table, -1) {
		rows[m[1]] = strings.TrimSpace(m[2])
	}
	// Load with -h prints every flag's usage, which names its variable.
	var usage strings.Builder
	_, err = config.Load([]string{"-h"}, func(string) string { return "" }, &usage)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("help: %v", err)
	}
	vars := regexp.MustCompile(`\((BATON_[A-Z_]+)`).FindAllStringSubmatch(usage.String(), -1)
	if len(vars) < 20 {
		t.Fatalf("found only %d variables in the help", len(vars))
	}
	for _, v := range vars {
		if _, ok := rows[v[1]]; !ok {
			t.Errorf("README configuration table lacks %s", v[1])
		}
	}
}
