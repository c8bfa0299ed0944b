package store_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/batonhq/baton/server/internal/domain"
)

// TestReplicaThatIsNoStandbyIsNotRead: a replica URL naming a server that
// is not in recovery (here the primary itself, as a promoted standby would
// be) serves no report; reads go to the primary and are counted as such.
// The streaming case is TestReportsReadTheReplica (package app).
func TestReplicaThatIsNoStandbyIsNotRead(t *testing.T) {
	t.Parallel()
	st := open(t)
	ctx := context.Background()
	if err := st.WithReplica(ctx, st.ConnString(), time.Second); err != nil {
		t.Fatal(err)
	}
	rs := st.ReplicaStatus()
	if !rs.Configured || rs.Serving || !strings.Contains(rs.State, "not a standby") {
		t.Fatalf("status %+v: want configured, not serving, not a standby", rs)
	}
	now := time.Now()
	if _, err := st.Report(ctx, domain.ReportFilter{From: now.Add(-time.Hour), To: now, TimeZone: "UTC"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.ListRefusals(ctx, "", 0, time.Time{}, time.Time{}, domain.Page{}); err != nil {
		t.Fatal(err)
	}
	if rs := st.ReplicaStatus(); rs.Reads != 0 || rs.Fallbacks != 2 {
		t.Fatalf("status %+v: want 0 replica reads, 2 sent to the primary", rs)
	}
}

// TestReplicaDownAtStart: a replica that does not answer at start is no
// error; reports read the primary, and the status says why.
func TestReplicaDownAtStart(t *testing.T) {
	t.Parallel()
	st := open(t)
	ctx := context.Background()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	if err := st.WithReplica(ctx, "postgres://baton:s3cret@"+addr+"/baton?sslmode=disable", 0); err != nil {
		t.Fatal(err)
	}
	if rs := st.ReplicaStatus(); rs.Serving || rs.State != "replica unavailable" {
		t.Fatalf("status %+v", rs)
	}
	if _, _, err := st.ListConversions(ctx, domain.ConversionFilter{}, domain.Page{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.ListClicks(ctx, domain.ClickFilter{}, domain.Page{}); err != nil {
		t.Fatal(err)
	}
	if rs := st.ReplicaStatus(); rs.Fallbacks != 2 {
		t.Fatalf("status %+v: want 2 reads sent to the primary", rs)
	}
}

// TestReplicaURLNotValid: a malformed replica URL is refused without
// quoting it (it may hold a password).
func TestReplicaURLNotValid(t *testing.T) {
	t.Parallel()
	st := open(t)
	err := st.WithReplica(context.Background(), "postgres://u:s3cret@host:notaport/db", 0)
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("err %v: want an error that does not quote the URL", err)
	}
}
