package config_test

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/batonhq/baton/server/internal/config"
)

// TestReplicaSettings: BATON_REPLICA_URL and BATON_REPLICA_MAX_LAG are
// read, the URL's password is never printed, and a lag bound that is not
// positive is refused.
func TestReplicaSettings(t *testing.T) {
	env := map[string]string{"BATON_REPLICA_URL": "postgres://baton:s3cret@replica:5432/baton", "BATON_REPLICA_MAX_LAG": "3s"}
	c, err := config.Load(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.ReplicaURL != env["BATON_REPLICA_URL"] || c.ReplicaMaxLag != 3*time.Second {
		t.Fatalf("replica %q, max lag %s", c.ReplicaURL, c.ReplicaMaxLag)
	}
	if attrs := fmt.Sprint(c.LogAttrs()...); strings.Contains(attrs, "s3cret") || !strings.Contains(attrs, "replica:5432") {
		t.Fatalf("settings logged as %s: want the replica named, its password not", attrs)
	}
	if d, err := config.Load(nil, func(string) string { return "" }, io.Discard); err != nil || d.ReplicaURL != "" || d.ReplicaMaxLag != 10*time.Second {
		t.Fatalf("defaults: %q %s %v", d.ReplicaURL, d.ReplicaMaxLag, err)
	}
	env["BATON_REPLICA_MAX_LAG"] = "0s"
	if _, err := config.Load(nil, func(k string) string { return env[k] }, io.Discard); err == nil || !strings.Contains(err.Error(), "BATON_REPLICA_MAX_LAG") {
		t.Fatalf("max lag 0: %v", err)
	}
}
