package baton_test

// A partner's view of this module: an empty Go module that requires
// github.com/batonhq/baton/clients/go by version (no replace, no workspace)
// builds a program calling the client, and its module graph has none of
// Baton's server dependencies.
//
// The versions partners require (clients/go/vX.Y.Z, gen/go/vX.Y.Z) are not
// on any proxy before a release is tagged, so the test serves this
// checkout's two modules at the version named in go.mod from a file-system
// GOPROXY, exactly as a proxy serves a tag (list, .info, .mod, .zip);
// everything else comes from the module cache or the usual proxy.

import (
	"archive/zip"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const (
	clientModule = "github.com/batonhq/baton/clients/go"
	genModule    = "github.com/batonhq/baton/gen/go"
)

func TestPartnerModuleHasNoServerDependencies(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module with the go command")
	}
	gomod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(genModule) + `\s+(v\S+)`).FindSubmatch(gomod)
	if m == nil {
		t.Fatalf("go.mod does not require %s", genModule)
	}
	version := string(m[1])
	if regexp.MustCompile(`(?m)^\s*replace\b`).Match(gomod) {
		t.Fatalf("clients/go/go.mod has a replace: partners' builds would not see it")
	}

	proxy := t.TempDir()
	publish(t, proxy, clientModule, version, ".")
	publish(t, proxy, genModule, version, filepath.Join("..", "..", "gen", "go"))

	app := t.TempDir()
	write(t, filepath.Join(app, "go.mod"), "module example.com/partner\n\ngo 1.26.0\n")
	write(t, filepath.Join(app, "main.go"), `package main

import (
	"context"
	"fmt"

	baton "github.com/batonhq/baton/clients/go"
	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
)

func main() {
	c := baton.New("http://127.0.0.1:1", "key")
	_, err := c.Config.WhoAmI(context.Background(), &batonv1.WhoAmIRequest{})
	fmt.Println(err != nil)
}
`)
	goproxy, _ := exec.Command("go", "env", "GOPROXY").Output()
	modcache, _ := exec.Command("go", "env", "GOMODCACHE").Output()
	env := append(os.Environ(),
		// A module cache of its own: the real one would keep the first
		// zip served for this version and hide later changes.
		"GOMODCACHE="+t.TempDir(),
		"GOWORK=off", "GOFLAGS=-mod=mod -modcacherw",
		"GOPROXY=file://"+filepath.ToSlash(proxy)+",file://"+filepath.ToSlash(filepath.Join(strings.TrimSpace(string(modcache)), "cache", "download"))+","+strings.TrimSpace(string(goproxy)),
		// The two modules served from the directory above are this
		// checkout's, not a published tag the checksum database knows.
		"GONOSUMDB="+clientModule+","+genModule,
	)
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("go", args...)
		cmd.Dir = app
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("get", clientModule+"@"+version)
	run("mod", "tidy")
	run("build", "-o", filepath.Join(app, "partner"), ".")
	all := run("list", "-m", "all")
	t.Logf("go list -m all in a partner's module:\n%s", all)
	for _, line := range strings.Split(strings.TrimSpace(all), "\n") {
		mod := strings.Fields(line)[0]
		for _, server := range []string{
			"github.com/jackc/pgx", "github.com/riverqueue/river", "github.com/fergusstrange/embedded-postgres",
			"github.com/prometheus/", "go.opentelemetry.io/",
		} {
			if strings.HasPrefix(mod, server) {
				t.Errorf("a partner requiring %s@%s gets %s", clientModule, version, line)
			}
		}
		if mod == "github.com/batonhq/baton" {
			t.Errorf("a partner requiring %s gets the server module %s", clientModule, line)
		}
	}
	req := run("list", "-m", clientModule, genModule)
	for _, m := range []string{clientModule + " " + version, genModule + " " + version} {
		if !strings.Contains(req, m) {
			t.Errorf("partner's build selected %q, want %s", req, m)
		}
	}
}

// publish lays out module path@version from dir the way a GOPROXY serves it.
func publish(t *testing.T, proxy, path, version, dir string) {
	t.Helper()
	at := filepath.Join(proxy, filepath.FromSlash(path), "@v")
	if err := os.MkdirAll(at, 0o755); err != nil {
		t.Fatal(err)
	}
	mod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(at, "list"), version+"\n")
	write(t, filepath.Join(at, version+".info"), `{"Version":"`+version+`","Time":"2026-01-01T00:00:00Z"}`)
	write(t, filepath.Join(at, version+".mod"), string(mod))
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	root, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != root {
				// A nested module, VCS data or dependencies are not part of
				// a module's zip.
				if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil || d.Name() == "vendor" || strings.HasPrefix(d.Name(), ".") {
					return filepath.SkipDir
				}
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		w, err := zw.Create(path + "@" + version + "/" + filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(at, version+".zip"), buf.String())
}

func write(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
