package service

import (
	"context"
	"time"
)

// Configuration changes and the nodes that cache configuration.
//
// Each Baton process caches what it reads on every request (API keys,
// links, offers). A change made through Config runs the OnChange hooks of
// this process at once, and is announced (AnnounceWith) so that every other
// process sharing the database runs its hooks too: app wires the
// announcement to a PostgreSQL NOTIFY and a listener that calls Reload.
// Features that keep configuration of their own (rules, caps, blocklists)
// register their cache's drop with OnChange and call Changed after they
// commit a change.

// Announcer tells the other nodes that the configuration named by what
// changed (store.AnnounceConfigChange).
type Announcer func(ctx context.Context, what string) error

// AnnounceWith makes f announce every change (nil: this process only). Set
// it while wiring, before serving.
func (c *Config) AnnounceWith(f Announcer) { c.announce = f }

// announceTimeout bounds the announcement: a change already committed is
// not failed because the announcement is slow; the caches' TTLs are the
// backstop.
const announceTimeout = 2 * time.Second

// Changed is called after a change to configuration named by what committed:
// it runs every OnChange hook in this process and announces the change to
// the others. An announcement that fails is returned for logging only; the
// other nodes then see the change within their caches' TTLs.
func (c *Config) Changed(ctx context.Context, what string) error {
	c.Reload()
	if c.announce == nil {
		return nil
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), announceTimeout)
	defer cancel()
	return c.announce(actx, what)
}

// Reload runs every OnChange hook without announcing anything: what a node
// does when any node (itself included) announced a change, or when it may
// have missed announcements.
func (c *Config) Reload() {
	for _, f := range c.onChange {
		f()
	}
}
