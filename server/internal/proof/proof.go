// Package proof lets the fault and hostile-input tests say, in one line each,
// how many cases they tried and how many were lost, so that `make test` can
// print them all as one table at the end.
//
// "Lost" means what the test exists to rule out: for a fault test, something
// Baton acknowledged (a 302, a success, a postback owed) that is missing or
// counted twice afterwards; for a hostile-input test, an input that got
// through (was accepted, wrote a record, answered a 5xx, or redirected off the
// allowed hosts) when it should have been refused or stored as plain data.
package proof

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// EnvLog names the environment variable holding the file each Tally line is
// appended to (the Makefile sets it and prints the file after the tests).
const EnvLog = "BATON_PROOF_LOG"

// Tally reports a test's count of cases tried and lost, with a short detail
// of what was checked. The line is logged, printed and, when BATON_PROOF_LOG
// is set, appended to that file. Any loss fails the test.
func Tally(t testing.TB, name string, tried, lost int, detail string) {
	t.Helper()
	line := Line(name, tried, lost, detail)
	fmt.Println(line) //nolint:forbidigo // the line is this test helper's output: `go test` shows stdout without -v, t.Log does not
	if path := os.Getenv(EnvLog); path != "" {
		// One short write with O_APPEND: lines from test processes running
		// in parallel do not interleave.
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			t.Errorf("proof: %v", err)
		} else {
			_, err = f.WriteString(line + "\n")
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				t.Errorf("proof: %v", err)
			}
		}
	}
	if tried == 0 {
		t.Errorf("proof: %s tried nothing", name)
	}
	if lost != 0 {
		t.Errorf("proof: %s lost %d of %d", name, lost, tried)
	}
}

// Line formats one row of the table.
func Line(name string, tried, lost int, detail string) string {
	detail = strings.ReplaceAll(detail, "\n", " ")
	return fmt.Sprintf("%-50s tried=%-6d lost=%d  %s", name, tried, lost, detail)
}
