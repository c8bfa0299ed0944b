package baton_test

import (
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strings"
	"testing"
)

var updateReadme = flag.Bool("update-readme", false, "rewrite the example block of README.md from Example_readme")

// readmeMarker precedes the example's code block in README.md.
const readmeMarker = "<!-- example: the body of Example_readme"

// exampleBody returns the body of Example_readme as it reads in
// example_test.go, one indentation level removed.
func exampleBody(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "example_test.go", src, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Name.Name == "Example_readme" && fd.Recv == nil {
			body := string(src[fset.Position(fd.Body.Lbrace).Offset+1 : fset.Position(fd.Body.Rbrace).Offset])
			lines := strings.Split(strings.Trim(body, "\n"), "\n")
			for i, l := range lines {
				lines[i] = strings.TrimPrefix(l, "\t")
			}
			return strings.Join(lines, "\n") + "\n"
		}
	}
	t.Fatal("no func Example_readme in example_test.go")
	return ""
}

// readmeBlock returns README.md and the offsets of the example block's
// content: the lines between "```go" and "```" after readmeMarker.
func readmeBlock(t *testing.T) (readme string, start, end int) {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme = string(b)
	m := strings.Index(readme, readmeMarker)
	if m < 0 {
		t.Fatalf("README.md has no %q line before the example", readmeMarker)
	}
	open := strings.Index(readme[m:], "\n```go\n")
	if open < 0 {
		t.Fatal("README.md: no ```go block after the example marker")
	}
	start = m + open + len("\n```go\n")
	closeAt := strings.Index(readme[start:], "```\n")
	if closeAt < 0 || (closeAt > 0 && readme[start+closeAt-1] != '\n') {
		t.Fatal("README.md: the example block is not closed")
	}
	return readme, start, start + closeAt
}

// TestReadmeMatchesExample keeps README.md's example equal to
// Example_readme, which TestReadmeExample runs: the documentation cannot
// drift from code that works.
func TestReadmeMatchesExample(t *testing.T) {
	want := exampleBody(t)
	readme, start, end := readmeBlock(t)
	if got := readme[start:end]; got != want {
		if *updateReadme {
			if err := os.WriteFile("README.md", []byte(readme[:start]+want+readme[end:]), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Errorf("README.md's example differs from Example_readme in example_test.go; "+
			"run `go test -run TestReadmeMatchesExample -update-readme` to copy it.\nREADME.md:\n%s\nExample_readme:\n%s", got, want)
	}
}
