package service

import (
	"fmt"
	"time"

	"github.com/batonhq/baton/server/internal/clickid"
	"github.com/batonhq/baton/server/internal/domain"
)

// WithClickLoadLag tells the conversions that a click may be answered up to
// lag before it is in PostgreSQL: with the click spool, a node answers a
// click once it is on its local disk and loads it within
// BATON_CLICK_SPOOL_MAX_AGE (milliseconds, normally). A conversion that
// names a click this network issued less than lag ago but that no table
// holds yet — answered by another node, still in that node's spool — is
// then answered "unavailable, retry shortly" instead of refused for good.
// (This node's own spool is waited for; see store.ClickBarrier.) 0: no lag,
// every click is committed before it is answered. It returns c.
func (c *Conversions) WithClickLoadLag(lag time.Duration) *Conversions {
	c.clickLag = lag
	return c
}

// unloadedClick is the error for a click ID of this network that is not
// stored yet but may still be loading on another node; nil when it is too
// old (or from the future) for that.
func (c *Conversions) unloadedClick(id string, now time.Time) error {
	if c.clickLag <= 0 {
		return nil
	}
	at, perr := clickid.Parse(id)
	if perr != nil { // not one of ours: the caller refuses it
		return nil //nolint:nilerr // the parse error is the caller's to report
	}
	// A few seconds of clock difference between nodes: a click "from the
	// future" by up to a minute is still one to wait for.
	if age := now.Sub(at); age > c.clickLag || age < -time.Minute {
		return nil
	}
	return &domain.Error{Kind: domain.ErrUnavailable, Field: "click_id",
		Public: fmt.Sprintf("click %q is not stored yet (it is %s old and may still be loading on the node that answered it): retry shortly", id, now.Sub(at).Round(time.Millisecond))}
}
