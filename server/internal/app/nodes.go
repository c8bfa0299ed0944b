package app

import (
	"context"
	"log/slog"

	"github.com/batonhq/baton/server/internal/service"
	"github.com/batonhq/baton/server/internal/store"
)

// Several Baton nodes on one PostgreSQL: each caches configuration for a
// few seconds, and a committed change is announced with NOTIFY on
// store.ConfigChannel; every node LISTENs (followConfig) and drops its
// caches, so a revoked key or a paused offer applies everywhere within
// milliseconds. The caches' TTLs stay as the backstop for an announcement
// lost with its sender.

// announcer is the Config's Announcer: a NOTIFY on the store, failures
// logged (the change itself has committed).
func announcer(st *store.Store, log *slog.Logger) service.Announcer {
	return func(ctx context.Context, what string) error {
		err := st.AnnounceConfigChange(ctx, what)
		if err != nil {
			log.WarnContext(ctx, "cannot announce a configuration change to the other nodes; they see it within their cache TTLs",
				"what", what, "error", err)
		}
		return err
	}
}

// followConfig runs every OnChange hook of cfg when any node announces a
// change, and after each (re)connection of the listener, until ctx is done.
func followConfig(ctx context.Context, st *store.Store, cfg *service.Config, log *slog.Logger) {
	reconnects := 0
	st.ListenConfig(ctx, func(string) { cfg.Reload() }, func() {
		if reconnects > 0 {
			log.InfoContext(ctx, "configuration listener reconnected; caches dropped")
		}
		reconnects++
		cfg.Reload()
	})
}
