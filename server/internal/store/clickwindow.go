package store

import (
	"context"
	"crypto/sha256"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/batonhq/baton/server/internal/domain"
)

// notWindowed are the flags that keep a click out of the duplicate-click
// window: it is not unique anyway, and must not make the visitor's next
// real click a duplicate.
const notWindowed = domain.FlagBot | domain.FlagOfferPaused | domain.FlagCancelled | domain.FlagBlocked | domain.FlagCapped

// visitorKey is what the window counts a visitor by: the first 16 bytes of
// SHA-256 over IP and user agent (no address is stored).
func visitorKey(c *domain.Click) []byte {
	h := sha256.New()
	h.Write([]byte(c.IP))
	h.Write([]byte{0})
	h.Write([]byte(c.UserAgent))
	return h.Sum(nil)[:16]
}

// applyClickWindow decides, in tx, which of clicks are unique by the shared
// duplicate-click window (migration 0050): the flags and uniqueness to
// store for each windowed click, by ID, overriding the node's in-memory
// guess. The clicks themselves are not changed (the node that answered the
// redirect may still be reading them). Clicks of
// one visitor and offer in the same batch go in rounds, in time order, one
// per round (a row can be upserted once per statement); rows are upserted
// in key order so two nodes' loaders never deadlock.
func applyClickWindow(ctx context.Context, tx pgx.Tx, clicks []*domain.Click) (map[string]windowed, error) {
	type entry struct {
		c     *domain.Click
		offer string
		key   []byte
	}
	var entries []entry
	for _, c := range clicks {
		if c.Flags&notWindowed != 0 {
			continue
		}
		entries = append(entries, entry{c: c, offer: c.OfferID, key: visitorKey(c)})
	}
	if len(entries) == 0 {
		return nil, nil
	}
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].c.CreatedAt.Before(entries[j].c.CreatedAt) })
	rounds := [][]entry{}
	depth := map[string]int{}
	for _, e := range entries {
		k := e.offer + "\x00" + string(e.key)
		d := depth[k]
		depth[k] = d + 1
		if d == len(rounds) {
			rounds = append(rounds, nil)
		}
		rounds[d] = append(rounds[d], e)
	}
	unique := make(map[string]bool, len(entries))
	for _, round := range rounds {
		sort.Slice(round, func(i, j int) bool {
			if round[i].offer != round[j].offer {
				return round[i].offer < round[j].offer
			}
			return string(round[i].key) < string(round[j].key)
		})
		offers, keys, ats, ids := make([]string, len(round)), make([][]byte, len(round)), make([]time.Time, len(round)), make([]string, len(round))
		for i, e := range round {
			offers[i], keys[i], ats[i], ids[i] = e.offer, e.key, e.c.CreatedAt, e.c.ID
		}
		// A click opens a new window when the visitor's last one has ended;
		// the same click loaded again (a spool replay) keeps its answer.
		rows, err := tx.Query(ctx, `INSERT INTO click_windows AS w (offer_id, visitor, started_at, ends_at, click_id)
			SELECT u.offer_id, u.visitor, u.at, u.at + COALESCE(o.duplicate_click_interval, interval '30 minutes'), u.id
			FROM unnest($1::text[], $2::bytea[], $3::timestamptz[], $4::text[]) WITH ORDINALITY AS u(offer_id, visitor, at, id, n)
			LEFT JOIN offers o ON o.id = u.offer_id
			ORDER BY u.n
			ON CONFLICT (offer_id, visitor) DO UPDATE
				SET started_at = excluded.started_at, ends_at = excluded.ends_at, click_id = excluded.click_id
				WHERE w.ends_at <= excluded.started_at OR w.click_id = excluded.click_id
			RETURNING click_id`, offers, keys, ats, ids)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, err
			}
			unique[id] = true
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	out := make(map[string]windowed, len(entries))
	for _, e := range entries {
		if unique[e.c.ID] {
			out[e.c.ID] = windowed{flags: e.c.Flags &^ domain.FlagDuplicate, unique: true}
		} else {
			out[e.c.ID] = windowed{flags: e.c.Flags | domain.FlagDuplicate}
		}
	}
	return out, nil
}

// windowed is what the window decided for one click.
type windowed struct {
	flags  domain.ClickFlag
	unique bool
}

// windowPurgeEvery is how often the loader deletes window rows that ended
// over a day ago (the day covers loader lag and spool replays).
const windowPurgeEvery = time.Minute

// purgeClickWindows deletes a bounded number of ended windows, at most
// once per windowPurgeEvery per process.
func (s *Store) purgeClickWindows(ctx context.Context) error {
	now := s.now()
	last := s.windowPurged.Load()
	if now.UnixNano()-last < int64(windowPurgeEvery) || !s.windowPurged.CompareAndSwap(last, now.UnixNano()) {
		return nil
	}
	_, err := s.pool.Exec(ctx, `DELETE FROM click_windows WHERE ctid = ANY (ARRAY(
		SELECT ctid FROM click_windows WHERE ends_at < $1::timestamptz - interval '1 day' LIMIT 10000))`, now)
	return translate(err)
}
