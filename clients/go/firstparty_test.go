package baton_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	baton "github.com/batonhq/baton/clients/go"
)

const someClickID = "06h36q8hwjm6pyc767nvjxz170abc"

func TestKeepClickIDAndReadItBack(t *testing.T) {
	if !baton.IsClickID(someClickID) {
		t.Fatal("test ID has not the click ID form")
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "https://shop.example/lp?sid="+someClickID+"&aff_userid=1000", nil)
	req.Header.Set("X-Forwarded-Proto", "https")
	if got := baton.KeepClickID(rec, req, "", 24*time.Hour); got != someClickID {
		t.Fatalf("kept %q", got)
	}
	set := rec.Header().Get("Set-Cookie")
	for _, want := range []string{"baton_cid=" + someClickID + ".", "Path=/", "Max-Age=86400", "Secure", "SameSite=Lax"} {
		if !strings.Contains(set, want) {
			t.Errorf("Set-Cookie %q lacks %q", set, want)
		}
	}
	if strings.Contains(set, "HttpOnly") {
		t.Errorf("Set-Cookie %q: t.js must be able to read it", set)
	}
	// At checkout.
	checkout := httptest.NewRequest(http.MethodPost, "https://shop.example/checkout", nil)
	checkout.Header.Set("Cookie", strings.SplitN(set, ";", 2)[0])
	if got := baton.KeptClickID(checkout); got != someClickID {
		t.Fatalf("read back %q", got)
	}
}

func TestKeptClickIDRefusesWhatIsNotAValidClickID(t *testing.T) {
	for name, cookie := range map[string]string{
		"none":       "",
		"expired":    "baton_cid=" + someClickID + ".1000",
		"not an ID":  "baton_cid=hello",
		"bad expiry": "baton_cid=" + someClickID + ".soon",
	} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		if got := baton.KeptClickID(req); got != "" {
			t.Errorf("%s: %q", name, got)
		}
	}
	// No click ID on the landing URL: nothing is set.
	rec := httptest.NewRecorder()
	if got := baton.KeepClickID(rec, httptest.NewRequest(http.MethodGet, "/lp?sid=abc", nil), "sid", 0); got != "" || rec.Header().Get("Set-Cookie") != "" {
		t.Fatalf("kept %q, set %q", got, rec.Header().Get("Set-Cookie"))
	}
}
