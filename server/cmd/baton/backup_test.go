package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
	"github.com/batonhq/baton/gen/go/baton/v1/batonv1connect"
)

// embeddedDataDir is a new data directory for the embedded cluster that its
// unprivileged user can traverse (as `make run` and smoke.sh do).
func embeddedDataDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func stopBaton(t *testing.T, p *proc) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("baton did not stop cleanly: %v", err)
	}
}

// TestBackupRestoreEmbedded: data written through the API on the embedded
// cluster, `baton backup`, `baton restore` into a new data directory, and a
// Baton started there answers the same data. A restore is refused without
// the master key and over existing data; a backup is refused while Baton
// runs on the directory.
func TestBackupRestoreEmbedded(t *testing.T) {
	ctx := context.Background()
	src := embeddedDataDir(t)
	addr := freeAddr(t)
	p := startBatonEnv(t, "", src, addr)
	admin := batonv1connect.NewConfigServiceClient(http.DefaultClient, "http://"+addr, bearerKey(importAdminKey))
	clicks := batonv1connect.NewClickServiceClient(http.DefaultClient, "http://"+addr, bearerKey(importAdminKey))
	pub, err := admin.CreatePublisher(ctx, &batonv1.CreatePublisherRequest{Name: "Backed-up media ★", Kind: batonv1.PublisherKind_PUBLISHER_KIND_MEDIA})
	if err != nil {
		t.Fatal(err)
	}
	// The 302 is the answer: the landing page is not followed.
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := noFollow.Get("http://" + addr + "/c/demo?param1=backup-click")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusFound {
		t.Fatalf("click = %d, want 302", res.StatusCode)
	}
	before, err := clicks.ListClicks(ctx, &batonv1.ListClicksRequest{PageSize: 100})
	if err != nil || len(before.GetClicks()) == 0 {
		t.Fatalf("no click recorded before the backup: %v", err)
	}

	archive := filepath.Join(t.TempDir(), "baton.dump")
	if out, code := runBaton(t, "", src, "backup", archive); code == 0 {
		t.Fatalf("backup while Baton runs on the directory succeeded: %s", out)
	}
	stopBaton(t, p)
	out, code := runBaton(t, "", src, "backup", archive)
	if code != 0 || !strings.Contains(out, "backup written to "+archive) || !strings.Contains(out, "master.key") {
		t.Fatalf("baton backup = %d %q", code, out)
	}
	if fi, err := os.Stat(archive); err != nil || fi.Size() == 0 {
		t.Fatalf("no archive: %v", err)
	}

	dst := embeddedDataDir(t)
	if out, code := runBaton(t, "", dst, "restore", archive); code == 0 {
		t.Fatalf("restore without the master key succeeded: %s", out)
	}
	key, err := os.ReadFile(filepath.Join(src, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dst, "master.key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, code := runBaton(t, "", dst, "restore", archive); code != 0 {
		t.Fatalf("baton restore = %d %q", code, out)
	}
	if out, code := runBaton(t, "", dst, "restore", archive); code == 0 {
		t.Fatalf("a second restore over the restored data succeeded: %s", out)
	}

	addr2 := freeAddr(t)
	startBatonEnv(t, "", dst, addr2)
	admin2 := batonv1connect.NewConfigServiceClient(http.DefaultClient, "http://"+addr2, bearerKey(importAdminKey))
	clicks2 := batonv1connect.NewClickServiceClient(http.DefaultClient, "http://"+addr2, bearerKey(importAdminKey))
	got, err := admin2.GetPublisher(ctx, &batonv1.GetPublisherRequest{Id: pub.GetPublisher().GetId()})
	if err != nil || got.GetPublisher().GetName() != "Backed-up media ★" {
		t.Fatalf("restored publisher = %v, %v", got.GetPublisher(), err)
	}
	after, err := clicks2.ListClicks(ctx, &batonv1.ListClicksRequest{PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(after.GetClicks()) != len(before.GetClicks()) || after.GetClicks()[0].GetId() != before.GetClicks()[0].GetId() {
		t.Fatalf("restored clicks = %d (first %s), want %d (first %s)", len(after.GetClicks()), after.GetClicks()[0].GetId(),
			len(before.GetClicks()), before.GetClicks()[0].GetId())
	}
}
