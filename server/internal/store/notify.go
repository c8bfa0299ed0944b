package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// ConfigChannel is the PostgreSQL notification channel on which Baton nodes
// sharing one database announce committed configuration changes (API keys,
// partners, offers, networks, postback endpoints, and whatever other
// feature keeps cached configuration).
const ConfigChannel = "baton_config"

// AnnounceConfigChange tells every other node listening on ConfigChannel
// that the configuration named by what changed, e.g. "api_keys" or
// "offers". Call it after the change has committed: the notification is
// sent at once, outside any transaction, so a listener that reloads on it
// reads the new rows. The payload is "<node> <what>": this Store's own
// listener skips its announcements, since the node that made the change
// has dropped its caches already (service.Config.Changed) — dropping them
// again a moment later would throw away what was cached since.
func (s *Store) AnnounceConfigChange(ctx context.Context, what string) error {
	_, err := s.pool.Exec(ctx, `SELECT pg_notify($1, $2)`, ConfigChannel, s.node+" "+what)
	return translate(err)
}

// newNodeToken names one Store among the nodes sharing a database.
func newNodeToken() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // crypto/rand.Read does not fail (Go 1.24+)
	return hex.EncodeToString(b)
}

// fromOtherNode returns what a notification's payload names, and whether
// another node sent it.
func (s *Store) fromOtherNode(payload string) (string, bool) {
	node, what, ok := strings.Cut(payload, " ")
	if !ok {
		return payload, true // a payload without a node: an operator's NOTIFY
	}
	return what, node != s.node
}

// ListenerName is the application_name of the listener's connection, as
// pg_stat_activity shows it.
const ListenerName = "baton config listener"

// listenIdle is how long the listener waits for a notification before it
// checks that its connection is still alive; listenBackoffMax caps the wait
// between reconnection attempts. Variables so that the package's tests can
// shorten them.
var (
	listenIdle       = 15 * time.Second
	listenBackoffMin = 100 * time.Millisecond
	listenBackoffMax = 5 * time.Second
)

// ListenConfig runs until ctx is done. On a connection of its own (not one
// of the pool's, which would be lost to the requests for good) it LISTENs on
// ConfigChannel and calls changed with each notification's payload. After
// every successful (re)connection it calls resync, before waiting: while no
// connection listened, notifications were missed, so the caller drops
// everything it cached. A lost connection is re-established with a backoff
// from 100 ms up to 5 s; an idle one is checked every 15 s, so that a
// silently dead one is noticed.
//
// changed and resync run on the listener's goroutine, one at a time.
func (s *Store) ListenConfig(ctx context.Context, changed func(what string), resync func()) {
	backoff := listenBackoffMin
	for ctx.Err() == nil {
		err := s.listenOnce(ctx, changed, resync, func() { backoff = listenBackoffMin })
		if ctx.Err() != nil {
			return
		}
		s.log.WarnContext(ctx, "configuration listener lost its connection; reconnecting (caches expire by their TTL meanwhile)",
			"error", err, "retry_in", backoff.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, listenBackoffMax)
	}
}

// listenOnce connects, LISTENs, resyncs and relays notifications until the
// connection fails or ctx is done. connected is called once LISTEN holds.
func (s *Store) listenOnce(ctx context.Context, changed func(string), resync func(), connected func()) error {
	cfg := s.pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = ListenerName // for pg_stat_activity
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return translate(err)
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = conn.Close(closeCtx)
	}()
	if _, err := conn.Exec(ctx, `LISTEN `+pgx.Identifier{ConfigChannel}.Sanitize()); err != nil {
		return translate(err)
	}
	connected()
	resync()
	for {
		waitCtx, cancel := context.WithTimeout(ctx, listenIdle)
		n, err := conn.WaitForNotification(waitCtx)
		cancel()
		switch {
		case err == nil:
			if what, other := s.fromOtherNode(n.Payload); other {
				changed(what)
			}
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, context.DeadlineExceeded) && !conn.IsClosed():
			// Idle: make sure the connection still answers.
			pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := conn.Ping(pingCtx)
			cancel()
			if err != nil {
				return translate(err)
			}
		default:
			return translate(err)
		}
	}
}
