package store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/batonhq/baton/server/internal/clickid"
	"github.com/batonhq/baton/server/internal/domain"
)

// ---------------------------------------------------------------- links

const linkColumns = `id, offer_id, publisher_id, coalesce(site_id, ''), created_at`

func scanLink(row pgx.CollectableRow) (domain.TrackingLink, error) {
	var l domain.TrackingLink
	err := row.Scan(&l.ID, &l.OfferID, &l.PublisherID, &l.SiteID, &l.CreatedAt)
	return l, err
}

// linkAlphabet makes short link IDs: letters and digits, no look-alikes.
const linkAlphabet = "23456789abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ"

// newLinkID returns 12 random characters (about 69 bits): short enough to
// paste, long enough that links cannot be enumerated.
func newLinkID() string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		panic("store: crypto/rand failed: " + err.Error())
	}
	for i := range b {
		b[i] = linkAlphabet[int(b[i])%len(linkAlphabet)]
	}
	return string(b)
}

// CreateLink stores a tracking link. l.ID may be empty for a new one.
func (s *Store) CreateLink(ctx context.Context, l domain.TrackingLink) (domain.TrackingLink, error) {
	if l.ID == "" {
		l.ID = newLinkID()
	}
	rows, _ := s.pool.Query(ctx, `INSERT INTO tracking_links (id, offer_id, publisher_id, site_id, created_at)
		VALUES ($1, $2, $3, $4, $5) RETURNING `+linkColumns, l.ID, l.OfferID, l.PublisherID, nullable(l.SiteID), s.now())
	out, err := pgx.CollectExactlyOneRow(rows, scanLink)
	return out, translate(err)
}

// GetLink returns one tracking link.
func (s *Store) GetLink(ctx context.Context, id string) (domain.TrackingLink, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+linkColumns+` FROM tracking_links WHERE id = $1`, id)
	l, err := pgx.CollectExactlyOneRow(rows, scanLink)
	if errors.Is(err, pgx.ErrNoRows) {
		return l, domain.NotFound("tracking link", id)
	}
	return l, translate(err)
}

// ListLinks pages through links, optionally of one offer and/or publisher.
// advertiserID, when set, keeps only links to that advertiser's offers.
func (s *Store) ListLinks(ctx context.Context, offerID, publisherID, advertiserID string, page domain.Page) ([]domain.TrackingLink, string, error) {
	size := pageSize(page)
	rows, _ := s.pool.Query(ctx, `SELECT l.id, l.offer_id, l.publisher_id, coalesce(l.site_id, ''), l.created_at
		FROM tracking_links l JOIN offers o ON o.id = l.offer_id
		WHERE ($1 = '' OR l.offer_id = $1) AND ($2 = '' OR l.publisher_id = $2) AND ($3 = '' OR o.advertiser_id = $3)
		AND l.id > $4 ORDER BY l.id LIMIT $5`, offerID, publisherID, advertiserID, page.After, size+1)
	list, err := pgx.CollectRows(rows, scanLink)
	if err != nil {
		return nil, "", translate(err)
	}
	list, next := nextAfter(list, size, func(l domain.TrackingLink) string { return l.ID })
	return list, next, nil
}

// ---------------------------------------------------------------- clicks

const clickColumns = `id, created_at, link_id, offer_id, advertiser_id, publisher_id, site_id, source, sub_ids,
	coalesce(upstream_id, ''), upstream_param, downstream_param, redirect_url, deep_link, ip, user_agent, referer,
	flags, is_unique, expires_at, traceparent`

func scanClick(row pgx.CollectableRow) (domain.Click, error) {
	var c domain.Click
	var ip *netip.Addr
	var flags int16
	err := row.Scan(&c.ID, &c.CreatedAt, &c.LinkID, &c.OfferID, &c.AdvertiserID, &c.PublisherID, &c.SiteID, &c.Source,
		&c.SubIDs, &c.UpstreamID, &c.UpstreamParam, &c.DownstreamParam, &c.RedirectURL, &c.DeepLink, &ip, &c.UserAgent,
		&c.Referer, &flags, &c.Unique, &c.ExpiresAt, &c.TraceParent)
	if ip != nil {
		c.IP = ip.String()
	}
	c.Flags = domain.ClickFlag(flags)
	return c, err
}

// InsertClicks writes clicks in one transaction: the shared
// duplicate-click window decides which are unique (clickwindow.go), then
// one multi-row statement stores them, one commit. Most callers go through a ClickWriter, which batches concurrent
// clicks into one call.
func (s *Store) InsertClicks(ctx context.Context, clicks []*domain.Click) error {
	return s.insertClicks(ctx, clicks, "")
}

// insertClicks is InsertClicks with a suffix for the statement (LoadClicks:
// ON CONFLICT DO NOTHING).
func (s *Store) insertClicks(ctx context.Context, clicks []*domain.Click, suffix string) error {
	n := len(clicks)
	var (
		id, link, offer, adv, pub, site, subs, up, upParam, downParam, redirect, deep, ua, ref, tp = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]*string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		created, expires                                                                           = make([]time.Time, n), make([]time.Time, n)
		source, flags                                                                              = make([]int16, n), make([]int16, n)
		unique                                                                                     = make([]bool, n)
		ips                                                                                        = make([]*netip.Addr, n)
	)
	for i, c := range clicks {
		id[i], created[i], link[i], offer[i], adv[i], pub[i], site[i] = c.ID, c.CreatedAt, c.LinkID, c.OfferID, c.AdvertiserID, c.PublisherID, c.SiteID
		source[i], flags[i], unique[i], expires[i] = int16(c.Source), int16(c.Flags), c.Unique, c.ExpiresAt
		subs[i] = encodeSubIDs(c.SubIDs)
		if c.UpstreamID != "" {
			u := c.UpstreamID
			up[i] = &u
		}
		upParam[i], downParam[i], redirect[i], deep[i], ua[i], ref[i], tp[i] = c.UpstreamParam, c.DownstreamParam, c.RedirectURL, c.DeepLink, c.UserAgent, c.Referer, c.TraceParent
		if a, err := netip.ParseAddr(c.IP); err == nil {
			ips[i] = &a
		}
	}
	return translate(pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		decided, err := applyClickWindow(ctx, tx, clicks)
		if err != nil {
			return err
		}
		for i, c := range clicks {
			if d, ok := decided[c.ID]; ok {
				flags[i], unique[i] = int16(d.flags), d.unique
			}
		}
		_, err = tx.Exec(ctx, `INSERT INTO clicks (id, created_at, link_id, offer_id, advertiser_id, publisher_id, site_id,
		source, sub_ids, upstream_id, upstream_param, downstream_param, redirect_url, deep_link, ip, user_agent, referer,
		flags, is_unique, expires_at, traceparent)
		SELECT u.id, u.created_at, u.link_id, u.offer_id, u.advertiser_id, u.publisher_id, u.site_id, u.source,
			CASE WHEN u.subs = '' THEN '{}'::text[] ELSE string_to_array(u.subs, chr(31)) END,
			u.upstream_id, u.upstream_param, u.downstream_param, u.redirect_url, u.deep_link, u.ip, u.user_agent, u.referer,
			u.flags, u.is_unique, u.expires_at, u.traceparent
		FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int2[],
			$9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::inet[], $16::text[], $17::text[],
			$18::int2[], $19::bool[], $20::timestamptz[], $21::text[])
		AS u(id, created_at, link_id, offer_id, advertiser_id, publisher_id, site_id, source, subs, upstream_id,
			upstream_param, downstream_param, redirect_url, deep_link, ip, user_agent, referer, flags, is_unique, expires_at, traceparent)`+suffix,
			id, created, link, offer, adv, pub, site, source, subs, up, upParam, downParam, redirect, deep, ips, ua, ref, flags, unique, expires, tp)
		return err
	}))
}

// encodeSubIDs joins sub-IDs with the unit separator (U+001F), which
// SanitizeSubID removes from every sub-ID, so the join is unambiguous.
func encodeSubIDs(subs []string) string {
	return strings.Join(subs, "\x1f")
}

// GetClick returns one click. The ID tells its partition.
func (s *Store) GetClick(ctx context.Context, id string) (domain.Click, error) {
	at, err := clickid.Parse(id)
	if err != nil {
		return domain.Click{}, domain.NotFound("click", id)
	}
	if err := s.awaitClick(ctx, id); err != nil {
		return domain.Click{}, err
	}
	rows, _ := s.pool.Query(ctx, `SELECT `+clickColumns+` FROM clicks WHERE id = $1 AND created_at = $2`, id, at)
	c, err := pgx.CollectExactlyOneRow(rows, scanClick)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, domain.NotFound("click", id)
	}
	return c, translate(err)
}

// ListClicks pages through clicks in ID (time) order.
func (s *Store) ListClicks(ctx context.Context, f domain.ClickFilter, page domain.Page) ([]domain.Click, string, error) {
	if err := s.awaitClicks(ctx); err != nil {
		return nil, "", err
	}
	size := pageSize(page)
	from, to := optTime(f.From), optTime(f.To)
	// Listings may be a little stale: they read the replica when one serves.
	var list []domain.Click
	err := s.read(ctx, func(q querier) error {
		rows, err := q.Query(ctx, `SELECT `+clickColumns+` FROM clicks
		WHERE ($1::timestamptz IS NULL OR created_at >= $1) AND ($2::timestamptz IS NULL OR created_at < $2)
		AND ($3 = '' OR offer_id = $3) AND ($4 = '' OR advertiser_id = $4) AND ($5 = '' OR publisher_id = $5)
		AND ($6 = '' OR site_id = $6) AND ($7 = '' OR link_id = $7) AND ($8 = '' OR upstream_id = $8)
		AND (NOT $9 OR is_unique) AND id > $10
		ORDER BY id LIMIT $11`,
			from, to, f.OfferID, f.AdvertiserID, f.PublisherID, f.SiteID, f.LinkID, f.UpstreamID, f.UniqueOnly, page.After, size+1)
		if err != nil {
			return translate(err)
		}
		list, err = pgx.CollectRows(rows, scanClick)
		return translate(err)
	})
	if err != nil {
		return nil, "", err
	}
	list, next := nextAfter(list, size, func(c domain.Click) string { return c.ID })
	return list, next, nil
}

// EnsureClickPartitions creates the monthly click partitions from last
// month to three months ahead. Run at start and daily.
func (s *Store) EnsureClickPartitions(ctx context.Context) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT baton_ensure_click_partitions($1, 5)`, s.now().AddDate(0, -1, 0)).Scan(&n)
	return n, translate(err)
}

// DropClickPartitions drops the monthly partitions that end before cutoff.
func (s *Store) DropClickPartitions(ctx context.Context, cutoff time.Time) ([]string, error) {
	rows, _ := s.pool.Query(ctx, `SELECT baton_drop_click_partitions($1)`, cutoff)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return names, translate(err)
}

// ---------------------------------------------------------------- group commit

// ClickWriter records clicks durably with group commit: concurrent Write
// calls are gathered into one COPY and one commit, and each returns only
// after that commit. Under load, many clicks share one fsync; alone, a click
// waits for no one (a batch is whatever is queued when a worker is free).
type ClickWriter struct {
	store    *Store
	reqs     chan clickReq
	maxBatch int

	mu     sync.RWMutex
	closed bool
	wg     sync.WaitGroup
}

type clickReq struct {
	click *domain.Click
	done  chan error
}

// ErrShuttingDown is returned by Write after Close.
var ErrShuttingDown = errors.New("shutting down")

// NewClickWriter starts workers goroutines, each committing batches of at
// most maxBatch clicks.
func (s *Store) NewClickWriter(workers, maxBatch int) *ClickWriter {
	if workers < 1 {
		workers = 1
	}
	if maxBatch < 1 {
		maxBatch = 1
	}
	w := &ClickWriter{store: s, reqs: make(chan clickReq, workers*maxBatch), maxBatch: maxBatch}
	for range workers {
		w.wg.Add(1)
		go w.loop()
	}
	return w
}

var donePool = sync.Pool{New: func() any { return make(chan error, 1) }}

// Write records c and returns once it is committed. An error means the
// click may not be stored and the caller must not claim it was.
func (w *ClickWriter) Write(ctx context.Context, c *domain.Click) error {
	done := donePool.Get().(chan error)
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		return ErrShuttingDown
	}
	select {
	case w.reqs <- clickReq{click: c, done: done}:
		w.mu.RUnlock()
	case <-ctx.Done():
		w.mu.RUnlock()
		return ctx.Err()
	}
	// Wait for the commit even if ctx ends: the worker owns done until it
	// answers, and the answer says whether the click is stored.
	err := <-done
	donePool.Put(done)
	return err
}

// Close stops accepting clicks, commits those queued, and waits.
func (w *ClickWriter) Close() {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.reqs)
	}
	w.mu.Unlock()
	w.wg.Wait()
}

func (w *ClickWriter) loop() {
	defer w.wg.Done()
	batch := make([]clickReq, 0, w.maxBatch)
	clicks := make([]*domain.Click, 0, w.maxBatch)
	for first := range w.reqs {
		batch = append(batch[:0], first)
	drain:
		for len(batch) < w.maxBatch {
			select {
			case r, ok := <-w.reqs:
				if !ok {
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		clicks = clicks[:0]
		for _, r := range batch {
			clicks = append(clicks, r.click)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := w.store.InsertClicks(ctx, clicks)
		if err != nil && len(batch) > 1 && !errors.Is(err, domain.ErrUnavailable) {
			// One bad row must not fail its neighbours: retry one by one.
			for _, r := range batch {
				r.done <- w.store.InsertClicks(ctx, []*domain.Click{r.click})
			}
			cancel()
			continue
		}
		cancel()
		if err != nil {
			err = fmt.Errorf("record %d clicks: %w", len(clicks), err)
		}
		for _, r := range batch {
			r.done <- err
		}
	}
}
