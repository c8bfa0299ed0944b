package secretbox

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSealOpenRoundTrip(t *testing.T) {
	t.Parallel()
	box, err := New(bytes.Repeat([]byte{7}, KeySize))
	if err != nil {
		t.Fatal(err)
	}
	a, b := box.Seal("shop-password"), box.Seal("shop-password")
	if bytes.Equal(a, b) {
		t.Fatal("two seals of one secret must differ (random nonce)")
	}
	if bytes.Contains(a, []byte("shop-password")) {
		t.Fatal("sealed value contains the plaintext")
	}
	got, err := box.Open(a)
	if err != nil || got != "shop-password" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	other, _ := New(bytes.Repeat([]byte{8}, KeySize))
	if _, err := other.Open(a); err == nil {
		t.Fatal("Open with another key succeeded")
	}
	if _, err := box.Open(a[:5]); err == nil {
		t.Fatal("Open of a truncated value succeeded")
	}
}

func TestKeyFileIsCreatedOnceWithMode0600(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sub", "master.key")
	k1, err := LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := LoadOrCreateKeyFile(path)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatalf("second load gave another key (%v)", err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode = %v, %v; want 0600", st.Mode().Perm(), err)
	}
	if _, err := ParseKey("short"); err == nil {
		t.Fatal("ParseKey accepted a short key")
	}
}

func TestHintShowsOnlyTheEnd(t *testing.T) {
	t.Parallel()
	s := NewSecret("whsec_")
	if !strings.HasPrefix(s, "whsec_") || len(s) < 40 {
		t.Fatalf("secret %q", s)
	}
	h := Hint(s)
	if strings.Contains(h, s[:10]) || !strings.HasSuffix(h, s[len(s)-4:]) {
		t.Fatalf("hint %q reveals too much", h)
	}
}
