package app_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/batonhq/baton/gen/openapi"
)

// TestOpenAPIServed: GET /openapi.json answers the generated description
// (gen/openapi, from the protos), as JSON, without a key, and a curl user
// can follow it: the path it gives for an RPC answers Connect JSON, and a
// missing key gets the error shape it describes.
func TestOpenAPIServed(t *testing.T) {
	t.Parallel()
	s := start(t)
	res, err := http.Get(s.url + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET /openapi.json = %d %q, want 200 application/json", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if !bytes.Equal(body, openapi.JSON) {
		t.Fatal("GET /openapi.json is not gen/openapi/openapi.json")
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
		Comps   struct {
			Schemas map[string]struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi = %q", doc.OpenAPI)
	}
	if _, ok := doc.Paths["/baton.v1.ConfigService/WhoAmI"]["post"]; !ok {
		t.Fatal("no POST /baton.v1.ConfigService/WhoAmI")
	}
	errProps := doc.Comps.Schemas["connect.error"].Properties
	for _, p := range []string{"code", "message", "details"} {
		if _, ok := errProps[p]; !ok {
			t.Fatalf("connect.error has no %q", p)
		}
	}
	// What the description says of a call without a key is what Baton
	// answers.
	res2, err := http.Post(s.url+"/baton.v1.ConfigService/WhoAmI", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	defer res2.Body.Close()
	var cerr struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	if err := json.NewDecoder(res2.Body).Decode(&cerr); err != nil || res2.StatusCode != http.StatusUnauthorized || cerr.Code != "unauthenticated" || cerr.Message == "" {
		t.Fatalf("WhoAmI without a key = %d %+v (%v), want 401 with code unauthenticated", res2.StatusCode, cerr, err)
	}
}

// TestReadmeCurlPathsAreDescribed: every curl line of the README that calls
// Baton names a path that /openapi.json describes.
func TestReadmeCurlPathsAreDescribed(t *testing.T) {
	t.Parallel()
	var doc struct {
		Paths map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openapi.JSON, &doc); err != nil {
		t.Fatal(err)
	}
	// Templated paths (/c/{link}) as patterns.
	var pats []*regexp.Regexp
	for p := range doc.Paths {
		q := regexp.QuoteMeta(p)
		q = regexp.MustCompile(`\\\{[^}]*\\\}`).ReplaceAllString(q, `[^/]+`)
		pats = append(pats, regexp.MustCompile("^"+q+"$"))
	}
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	urlRE := regexp.MustCompile(`https?://(127\.0\.0\.1|localhost):8080[^\s'"\\)]*`)
	n := 0
	for i, line := range strings.Split(string(b), "\n") {
		if !strings.Contains(line, "curl ") {
			continue
		}
		for _, raw := range urlRE.FindAllString(line, -1) {
			u, err := url.Parse(raw)
			if err != nil {
				t.Fatalf("README.md:%d: %v", i+1, err)
			}
			n++
			found := false
			for _, p := range pats {
				if p.MatchString(u.Path) {
					found = true
					break
				}
			}
			if !found {
				t.Errorf("README.md:%d: curl calls %s, which /openapi.json does not describe", i+1, u.Path)
			}
		}
	}
	if n < 5 {
		t.Fatalf("found only %d curl URLs in README.md: is the pattern still right?", n)
	}
}
