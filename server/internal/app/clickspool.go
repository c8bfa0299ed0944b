package app

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"

	"github.com/batonhq/baton/server/internal/config"
	"github.com/batonhq/baton/server/internal/domain"
	"github.com/batonhq/baton/server/internal/spool"
	"github.com/batonhq/baton/server/internal/store"
)

// openClickSpool opens the click spool under the data directory (nil when
// BATON_CLICK_SPOOL_MAX_BYTES is 0 or there is no data directory) and makes
// the store's reads of clicks wait for it, so that a conversion for a click
// still spooled finds it once loaded (a bounded wait; see store.ClickBarrier).
func openClickSpool(cfg config.Config, log *slog.Logger, st *store.Store) (*spool.Spool, error) {
	if cfg.ClickSpoolMaxBytes == 0 || cfg.DataDir == "" {
		return nil, nil
	}
	sp, err := spool.Open(spool.Options{
		Dir: filepath.Join(cfg.DataDir, "clickspool"), MaxBytes: cfg.ClickSpoolMaxBytes, MaxAge: cfg.ClickSpoolMaxAge,
		Log: log.With("component", "clickspool"),
	}, st.LoadClicks)
	if err != nil {
		return nil, err
	}
	st.SetClickBarrier(sp)
	return sp, nil
}

// spooledClicks answers a click once it is in the spool; when the spool is
// at its bound (or cannot write), the click is written to PostgreSQL and
// waits for that commit, as without a spool: 503 if PostgreSQL is down too.
type spooledClicks struct {
	spool  *spool.Spool
	direct *store.ClickWriter
}

func (r spooledClicks) Write(ctx context.Context, c *domain.Click) error {
	err := r.spool.Write(ctx, c)
	if errors.Is(err, spool.ErrFull) || errors.Is(err, spool.ErrBroken) {
		return r.direct.Write(ctx, c)
	}
	return err
}

// ClickSpoolStats says how far the click spool's loader is behind (false:
// no spool), for benchmarks and logs.
func (s *Server) ClickSpoolStats() (spool.Stats, bool) {
	if s.spool == nil {
		return spool.Stats{}, false
	}
	return s.spool.Stats(), true
}
