package service

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/batonhq/baton/server/internal/attribution"
	"github.com/batonhq/baton/server/internal/domain"
	"github.com/batonhq/baton/server/internal/ids"
)

// ImportStore is what moving a program onto Baton needs from storage.
type ImportStore interface {
	ImportRefs(ctx context.Context, shopIDs, userIDs, siteIDs []int64, offerIDs []string) (domain.ImportRefs, error)
	ExistingOrders(ctx context.Context, advertiserID string, orderIDs []string) (map[string]bool, error)
	ReserveNumbers(ctx context.Context, shopID, userID, siteID int64) error
	ImportShops(ctx context.Context, list []domain.ImportShop) (int, error)
	ImportPublishers(ctx context.Context, list []domain.Publisher) (int, error)
	ImportSites(ctx context.Context, list []domain.Site) (int, error)
	ImportOffer(ctx context.Context, o domain.Offer) (domain.Offer, error)
	ImportConversions(ctx context.Context, list []domain.Conversion, notes []string) (int, error)
	GetOffer(ctx context.Context, id string) (domain.Offer, error)
	HashEmail(email string) string
}

// The files of a program, in the order they are imported.
const (
	ShopsFile       = "shops.csv"
	PublishersFile  = "publishers.csv"
	SitesFile       = "sites.csv"
	OffersFile      = "offers.csv"
	ConversionsFile = "conversions.csv"
)

// ImportFiles lists the files of a program in import order.
var ImportFiles = []string{ShopsFile, PublishersFile, SitesFile, OffersFile, ConversionsFile}

// importColumns are the columns each file may have; the first ones, up
// to the count in importRequired, are required.
var importColumns = map[string][]string{
	ShopsFile:       {"shop_id", "name", "password", "require_signature", "registered_hosts", "store_email_plaintext"},
	PublishersFile:  {"user_id", "name", "kind"},
	SitesFile:       {"site_id", "user_id", "name", "url"},
	OffersFile:      {"offer_id", "shop_id", "name", "landing_url", "payout_percent_bps", "payout_fixed", "payout_currency", "status", "click_id_param", "fc2_params", "auto_approve_after_days", "dedupe_order_id"},
	ConversionsFile: {"order_id", "shop_id", "offer_id", "amount", "sale_time", "currency", "user_id", "site_id", "commission", "status", "uname", "email", "order_id_2", "recurring", "item_code", "unit_num"},
}

var importRequired = map[string]int{ShopsFile: 3, PublishersFile: 2, SitesFile: 3, OffersFile: 4, ConversionsFile: 5}

// ImportProblem is one refused row (or header) of a file.
type ImportProblem struct {
	File   string
	Line   int
	Column string
	Reason string
}

func (p ImportProblem) String() string {
	if p.Column != "" {
		return fmt.Sprintf("%s:%d: %s: %s", p.File, p.Line, p.Column, p.Reason)
	}
	return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Reason)
}

// ImportFileResult counts one file's rows.
type ImportFileResult struct {
	File     string
	Rows     int // data rows read
	Created  int // created by this run (a dry run: would be created)
	Existing int // already imported by an earlier run, left unchanged
}

// ImportResult is what an import did, or on a dry run would do.
type ImportResult struct {
	DryRun   bool
	Files    []ImportFileResult
	Problems []ImportProblem
}

// Import moves a whole FC2/CATS program onto Baton from CSV files.
type Import struct {
	store ImportStore
	cfg   *Config
	ids   *ids.Source
	now   func() time.Time
	// BatchSize is the number of rows written per transaction.
	BatchSize int
}

// NewImport returns the import use case. cfg checks offers and is told
// about the records created (to drop caches).
func NewImport(st ImportStore, cfg *Config, now func() time.Time) *Import {
	if now == nil {
		now = time.Now
	}
	return &Import{store: st, cfg: cfg, ids: ids.Default, now: now, BatchSize: 2000}
}

// ---------------------------------------------------------------- rows

type shopRow struct {
	line int
	shop domain.ImportShop
}

type publisherRow struct {
	line int
	pub  domain.Publisher
}

type siteRow struct {
	line   int
	site   domain.Site
	userID int64
}

type offerRow struct {
	line   int
	offer  domain.Offer
	shopID int64
}

type conversionRow struct {
	line                   int
	conv                   domain.Conversion
	shopID, userID, siteID int64
	commission             string // as written; empty: computed from the offer's payout
}

// plan is a checked program: its rows, what already exists, and the
// problems found.
type plan struct {
	shops       []shopRow
	publishers  []publisherRow
	sites       []siteRow
	offers      []offerRow
	conversions []conversionRow
	rows        map[string]int
	given       map[string]bool
	refs        domain.ImportRefs
	problems    []ImportProblem
}

func (p *plan) refuse(file string, line int, column, format string, args ...any) {
	p.problems = append(p.problems, ImportProblem{File: file, Line: line, Column: column, Reason: fmt.Sprintf(format, args...)})
}

// ---------------------------------------------------------------- run

// Run checks every row of files (file name → CSV text; see ImportFiles)
// and, unless dryRun or a row is refused, writes what does not exist yet,
// in batches. Admin only.
func (im *Import) Run(ctx context.Context, p domain.Principal, files map[string]string, dryRun bool) (ImportResult, error) {
	if err := adminOnly(p, "import a program"); err != nil {
		return ImportResult{}, err
	}
	res := ImportResult{DryRun: dryRun}
	for name := range files {
		if !slices.Contains(ImportFiles, name) {
			return res, domain.Invalid("files", "unknown file %q: a program has %s", name, strings.Join(ImportFiles, ", "))
		}
	}
	pl := &plan{rows: map[string]int{}, given: map[string]bool{}}
	for _, name := range ImportFiles {
		text, ok := files[name]
		if !ok {
			continue
		}
		pl.given[name] = true
		if err := im.parse(ctx, pl, name, text); err != nil {
			return res, err
		}
	}
	if !dryRun {
		// Numbers drawn from here on are past the program's; one drawn
		// before shows in the check as taken.
		shop, user, site := pl.maxNumbers()
		if err := im.store.ReserveNumbers(ctx, shop, user, site); err != nil {
			return res, err
		}
	}
	if err := im.check(ctx, pl); err != nil {
		return res, err
	}
	existing, err := im.existingOrders(ctx, pl)
	if err != nil {
		return res, err
	}
	sort.SliceStable(pl.problems, func(i, j int) bool {
		a, b := pl.problems[i], pl.problems[j]
		if a.File != b.File {
			return slices.Index(ImportFiles, a.File) < slices.Index(ImportFiles, b.File)
		}
		return a.Line < b.Line
	})
	res.Problems = pl.problems
	counts := map[string]*ImportFileResult{}
	for _, name := range ImportFiles {
		if pl.given[name] {
			r := &ImportFileResult{File: name, Rows: pl.rows[name]}
			counts[name] = r
		}
	}
	count := func(name string, exists bool) {
		if exists {
			counts[name].Existing++
		} else {
			counts[name].Created++
		}
	}
	for _, r := range pl.shops {
		_, ok := pl.refs.Shops[r.shop.Advertiser.ShopID]
		count(ShopsFile, ok)
	}
	for _, r := range pl.publishers {
		_, ok := pl.refs.Publishers[r.pub.UserID]
		count(PublishersFile, ok)
	}
	for _, r := range pl.sites {
		_, ok := pl.refs.Sites[r.site.SiteID]
		count(SitesFile, ok)
	}
	for _, r := range pl.offers {
		_, ok := pl.refs.Offers[r.offer.ID]
		count(OffersFile, ok)
	}
	for _, r := range pl.conversions {
		count(ConversionsFile, existing[r.shopID][r.conv.OrderID])
	}
	for _, name := range ImportFiles {
		if c := counts[name]; c != nil {
			res.Files = append(res.Files, *c)
		}
	}
	if dryRun || len(res.Problems) > 0 {
		return res, nil
	}
	// Write, in the order records depend on each other. What a killed run
	// left behind is found again by its natural key and skipped.
	for name := range counts {
		counts[name].Created, counts[name].Existing = 0, 0
	}
	err = im.apply(ctx, pl, existing, counts)
	res.Files = res.Files[:0]
	for _, name := range ImportFiles {
		if c := counts[name]; c != nil {
			res.Files = append(res.Files, *c)
		}
	}
	return res, im.cfg.changed(err)
}

func (im *Import) apply(ctx context.Context, pl *plan, existing map[int64]map[string]bool, counts map[string]*ImportFileResult) error {
	batch := max(1, im.BatchSize)
	tally := func(name string, rows, created int) {
		counts[name].Created += created
		counts[name].Existing += rows - created
	}
	var shops []domain.ImportShop
	for _, r := range pl.shops {
		if _, ok := pl.refs.Shops[r.shop.Advertiser.ShopID]; !ok {
			shops = append(shops, r.shop)
		} else {
			tally(ShopsFile, 1, 0)
		}
	}
	for part := range slices.Chunk(shops, batch) {
		n, err := im.store.ImportShops(ctx, part)
		if err != nil {
			return fmt.Errorf("%s: %w", ShopsFile, err)
		}
		tally(ShopsFile, len(part), n)
	}
	var pubs []domain.Publisher
	for _, r := range pl.publishers {
		if _, ok := pl.refs.Publishers[r.pub.UserID]; !ok {
			pubs = append(pubs, r.pub)
		} else {
			tally(PublishersFile, 1, 0)
		}
	}
	for part := range slices.Chunk(pubs, batch) {
		n, err := im.store.ImportPublishers(ctx, part)
		if err != nil {
			return fmt.Errorf("%s: %w", PublishersFile, err)
		}
		tally(PublishersFile, len(part), n)
	}
	if err := im.refresh(ctx, pl); err != nil {
		return err
	}
	if err := pl.adopted(); err != nil {
		return err
	}
	var sites []domain.Site
	for _, r := range pl.sites {
		if _, ok := pl.refs.Sites[r.site.SiteID]; ok {
			tally(SitesFile, 1, 0)
			continue
		}
		x := r.site
		x.PublisherID = pl.refs.Publishers[r.userID].ID
		sites = append(sites, x)
	}
	for part := range slices.Chunk(sites, batch) {
		n, err := im.store.ImportSites(ctx, part)
		if err != nil {
			return fmt.Errorf("%s: %w", SitesFile, err)
		}
		tally(SitesFile, len(part), n)
	}
	for _, r := range pl.offers {
		if _, ok := pl.refs.Offers[r.offer.ID]; ok {
			tally(OffersFile, 1, 0)
			continue
		}
		o := r.offer
		o.AdvertiserID = pl.refs.Shops[r.shopID].ID
		_, err := im.store.ImportOffer(ctx, o)
		if errors.Is(err, domain.ErrAlreadyExists) { // a racing run created it
			tally(OffersFile, 1, 0)
			continue
		}
		if err != nil {
			return fmt.Errorf("%s line %d: %w", OffersFile, r.line, err)
		}
		tally(OffersFile, 1, 1)
	}
	if err := im.refresh(ctx, pl); err != nil {
		return err
	}
	if err := pl.adopted(); err != nil {
		return err
	}
	offers, err := im.offers(ctx, pl)
	if err != nil {
		return err
	}
	var convs []domain.Conversion
	var notes []string
	flush := func() error {
		n, err := im.store.ImportConversions(ctx, convs, notes)
		if err != nil {
			return fmt.Errorf("%s: %w", ConversionsFile, err)
		}
		tally(ConversionsFile, len(convs), n)
		convs, notes = convs[:0], notes[:0]
		return nil
	}
	now := im.now()
	for _, r := range pl.conversions {
		if existing[r.shopID][r.conv.OrderID] {
			tally(ConversionsFile, 1, 0)
			continue
		}
		c, note, err := im.conversion(pl, r, offers[r.conv.OfferID], now)
		if err != nil {
			return err
		}
		convs, notes = append(convs, c), append(notes, note)
		if len(convs) >= batch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if len(convs) > 0 {
		return flush()
	}
	return nil
}

// conversion builds the conversion of a checked row, with IDs resolved.
func (im *Import) conversion(pl *plan, r conversionRow, offer domain.Offer, now time.Time) (domain.Conversion, string, error) {
	c := r.conv
	c.ID = im.ids.New("cv")
	c.AdvertiserID = pl.refs.Shops[r.shopID].ID
	c.Source = domain.SourceImport
	c.CreatedAt, c.UpdatedAt = now, now
	if offer.DedupeOrderID {
		// A live report of the same order later is the same conversion.
		c.DedupeKey = c.OrderID
	}
	if r.siteID > 0 {
		c.SiteID = pl.refs.Sites[r.siteID].ID
		c.PublisherID = pl.refs.Sites[r.siteID].Owner
	}
	if r.userID > 0 {
		c.PublisherID = pl.refs.Publishers[r.userID].ID
	}
	exp := domain.Explanation{Path: string(attribution.PathImported)}
	note := fmt.Sprintf("imported from %s line %d", ConversionsFile, r.line)
	c.Commission = domain.Money{Currency: c.Amount.Currency}
	switch c.PublisherID {
	case "":
		exp.Summary = fmt.Sprintf("Imported from the previous system (%s line %d), where it was credited to no publisher; Baton did not decide it.", ConversionsFile, r.line)
		exp.CommissionRule = "no commission: no publisher"
	default:
		who := fmt.Sprintf("FC2 user ID %d", r.userID)
		if r.userID == 0 {
			who = fmt.Sprintf("the owner of FC2 site ID %d", r.siteID)
		} else if r.siteID > 0 {
			who += fmt.Sprintf(", site ID %d", r.siteID)
		}
		exp.Summary = fmt.Sprintf("Imported from the previous system (%s line %d), where it was credited to publisher %s (%s); Baton has no click for it and did not decide it.",
			ConversionsFile, r.line, c.PublisherID, who)
		if r.commission != "" {
			minor, err := attribution.ParseDecimal(c.Amount.Currency, r.commission)
			if err != nil {
				return c, "", fmt.Errorf("%s line %d: commission: %w", ConversionsFile, r.line, err)
			}
			c.Commission.Minor = minor
			exp.CommissionRule = "as imported"
		} else {
			payout, _ := attribution.PayoutFor(payoutRule(offer.Payout), payoutOverrides(offer), c.PublisherID)
			cur, minor, rule := attribution.Commission(payout, c.Amount.Currency, c.Amount.Minor)
			c.Commission = domain.Money{Currency: cur, Minor: minor}
			exp.CommissionRule = "computed at import from the offer's payout: " + rule
		}
	}
	c.Attribution = exp
	return c, note, nil
}

// adopted checks, after records were written, that every number of the
// program belongs to a record the import created: a shop, publisher or
// site created in Baton between the check and the write (drawing a number
// the program gives) must not be mistaken for the imported one.
func (pl *plan) adopted() error {
	for _, r := range pl.shops {
		if ref, ok := pl.refs.Shops[r.shop.Advertiser.ShopID]; ok && !ref.Imported {
			return domain.Failed("%s line %d: shop ID %d was taken meanwhile by %s, created in Baton; nothing more was written", ShopsFile, r.line, r.shop.Advertiser.ShopID, ref.ID)
		}
	}
	for _, r := range pl.publishers {
		if ref, ok := pl.refs.Publishers[r.pub.UserID]; ok && !ref.Imported {
			return domain.Failed("%s line %d: user ID %d was taken meanwhile by %s, created in Baton; nothing more was written", PublishersFile, r.line, r.pub.UserID, ref.ID)
		}
	}
	for _, r := range pl.sites {
		if ref, ok := pl.refs.Sites[r.site.SiteID]; ok && !ref.Imported {
			return domain.Failed("%s line %d: site ID %d was taken meanwhile by %s, created in Baton; nothing more was written", SitesFile, r.line, r.site.SiteID, ref.ID)
		}
	}
	return nil
}

// maxNumbers returns the largest shop, user and site ID the program gives.
func (pl *plan) maxNumbers() (shop, user, site int64) {
	for _, r := range pl.shops {
		shop = max(shop, r.shop.Advertiser.ShopID)
	}
	for _, r := range pl.publishers {
		user = max(user, r.pub.UserID)
	}
	for _, r := range pl.sites {
		site = max(site, r.site.SiteID)
	}
	return shop, user, site
}

// refresh reads again which records exist, after some were created.
func (im *Import) refresh(ctx context.Context, pl *plan) error {
	shops, users, sites, offers := pl.keys()
	refs, err := im.store.ImportRefs(ctx, shops, users, sites, offers)
	if err != nil {
		return err
	}
	pl.refs = refs
	return nil
}

// offers returns every offer the conversions name, as stored.
func (im *Import) offers(ctx context.Context, pl *plan) (map[string]domain.Offer, error) {
	out := map[string]domain.Offer{}
	for _, r := range pl.conversions {
		id := r.conv.OfferID
		if _, ok := out[id]; ok {
			continue
		}
		o, err := im.store.GetOffer(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("offer %s: %w", id, err)
		}
		out[id] = o
	}
	return out, nil
}

// existingOrders returns, per shop ID, the order IDs the shop already has
// in Baton.
func (im *Import) existingOrders(ctx context.Context, pl *plan) (map[int64]map[string]bool, error) {
	byShop := map[int64][]string{}
	for _, r := range pl.conversions {
		byShop[r.shopID] = append(byShop[r.shopID], r.conv.OrderID)
	}
	out := map[int64]map[string]bool{}
	for shop, orders := range byShop {
		ref, ok := pl.refs.Shops[shop]
		if !ok {
			continue
		}
		m, err := im.store.ExistingOrders(ctx, ref.ID, orders)
		if err != nil {
			return nil, err
		}
		out[shop] = m
	}
	return out, nil
}

// ---------------------------------------------------------------- parsing

var (
	offerIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$`)
	hostPattern    = regexp.MustCompile(`^[A-Za-z0-9.:/\-]+$`)
	paramPattern   = regexp.MustCompile(`^[A-Za-z0-9_.\-\[\]]{0,64}$`)
	currencyCode   = regexp.MustCompile(`^[A-Z]{3}$`)
)

// maxImportID is the largest FC2 number accepted (2^53-1, exact in JSON).
const maxImportID = 1<<53 - 1

// parse reads one file's header and rows into pl.
func (im *Import) parse(ctx context.Context, pl *plan, name, text string) error {
	r := csv.NewReader(strings.NewReader(strings.TrimPrefix(text, "\uFEFF")))
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		pl.refuse(name, 1, "", "the file is empty: a header row is required (columns: %s)", strings.Join(importColumns[name], ", "))
		return nil
	}
	if err != nil {
		pl.refuse(name, 1, "", "not CSV: %v", csvReason(err))
		return nil
	}
	col := map[string]int{}
	bad := false
	for i, h := range header {
		h = strings.TrimSpace(h)
		switch {
		case !slices.Contains(importColumns[name], h):
			pl.refuse(name, 1, h, "unknown column %q (known: %s)", h, strings.Join(importColumns[name], ", "))
			bad = true
		case col[h] != 0:
			pl.refuse(name, 1, h, "column %q appears twice", h)
			bad = true
		}
		col[h] = i + 1
	}
	for _, req := range importColumns[name][:importRequired[name]] {
		if col[req] == 0 {
			pl.refuse(name, 1, req, "required column %q is missing", req)
			bad = true
		}
	}
	if bad {
		return nil
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			line := 0
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.Line
			}
			pl.refuse(name, line, "", "not CSV: %v", csvReason(err))
			return nil
		}
		line, _ := r.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // a blank line
		}
		pl.rows[name]++
		if len(rec) != len(header) {
			pl.refuse(name, line, "", "%d fields, the header has %d", len(rec), len(header))
			continue
		}
		row := &rowReader{ctx: ctx, pl: pl, file: name, line: line, rec: rec, col: col}
		im.parseRow(row)
	}
}

func csvReason(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// rowReader reads typed fields of one row, refusing bad ones by column.
type rowReader struct {
	ctx  context.Context
	pl   *plan
	file string
	line int
	rec  []string
	col  map[string]int
	bad  bool
}

func (r *rowReader) refuse(column, format string, args ...any) {
	r.bad = true
	r.pl.refuse(r.file, r.line, column, format, args...)
}

// text returns a column's value ("" when the column is absent), refused
// when it is not valid text or longer than maxLen characters.
func (r *rowReader) text(column string, required bool, maxLen int) string {
	i := r.col[column]
	if i == 0 {
		if required {
			r.refuse(column, "is required")
		}
		return ""
	}
	v := strings.TrimSpace(r.rec[i-1])
	switch {
	case v == "" && required:
		r.refuse(column, "is required")
	case !utf8.ValidString(v) || strings.ContainsFunc(v, func(c rune) bool { return c < 0x20 || c == 0x7f }):
		r.refuse(column, "is not UTF-8 text without control characters")
		return ""
	case utf8.RuneCountInString(v) > maxLen:
		r.refuse(column, "is longer than %d characters", maxLen)
		return ""
	}
	return v
}

// number reads an FC2 number (a positive integer).
func (r *rowReader) number(column string, required bool) int64 {
	v := r.text(column, required, 20)
	if v == "" {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 || n > maxImportID || strings.HasPrefix(v, "+") {
		r.refuse(column, "%q is not a positive whole number", v)
		return 0
	}
	return n
}

func (r *rowReader) boolean(column string, def bool) bool {
	v := strings.ToLower(r.text(column, false, 5))
	switch v {
	case "":
		return def
	case "1", "true", "yes", "on":
		return true
	case "0", "false", "no", "off":
		return false
	}
	r.refuse(column, "%q is not true or false (1/0, yes/no)", v)
	return def
}

func (r *rowReader) currency(column string) string {
	v := strings.ToUpper(r.text(column, false, 3))
	if v == "" {
		return "JPY"
	}
	if !currencyCode.MatchString(v) {
		r.refuse(column, "%q is not an ISO 4217 currency code", v)
	}
	return v
}

func (im *Import) parseRow(r *rowReader) {
	pl := r.pl
	switch r.file {
	case ShopsFile:
		a := domain.Advertiser{ShopID: r.number("shop_id", true), Name: r.text("name", true, 200),
			RequireSignature: r.boolean("require_signature", false), StoreEmailPlaintext: r.boolean("store_email_plaintext", false)}
		secret := r.text("password", true, 200)
		if secret != "" && (len(secret) < 4 || strings.ContainsFunc(secret, func(c rune) bool { return c < '!' || c > '~' })) {
			r.refuse("password", "must be 4 to 200 printable ASCII characters without spaces")
		}
		for _, h := range strings.Fields(r.text("registered_hosts", false, 50*254)) {
			if len(h) > 253 || !hostPattern.MatchString(h) {
				r.refuse("registered_hosts", "%q is not a host name, IP address or CIDR", h)
			}
			a.RegisteredHosts = append(a.RegisteredHosts, h)
		}
		if len(a.RegisteredHosts) > 50 {
			r.refuse("registered_hosts", "at most 50 hosts")
		}
		if !r.bad {
			pl.shops = append(pl.shops, shopRow{line: r.line, shop: domain.ImportShop{Advertiser: a, Secret: secret}})
		}
	case PublishersFile:
		p := domain.Publisher{UserID: r.number("user_id", true), Name: r.text("name", true, 200), Kind: domain.PublisherKind(r.text("kind", false, 10))}
		switch p.Kind {
		case "":
			p.Kind = "media"
		case "media", "network":
		default:
			r.refuse("kind", "%q is not media or network", p.Kind)
		}
		if !r.bad {
			pl.publishers = append(pl.publishers, publisherRow{line: r.line, pub: p})
		}
	case SitesFile:
		x := siteRow{line: r.line, site: domain.Site{SiteID: r.number("site_id", true), Name: r.text("name", true, 200), URL: r.text("url", false, 2048)},
			userID: r.number("user_id", true)}
		if x.site.URL != "" {
			if u, err := url.Parse(x.site.URL); err != nil || !u.IsAbs() || u.Host == "" {
				r.refuse("url", "%q is not an absolute URL", x.site.URL)
			}
		}
		if !r.bad {
			pl.sites = append(pl.sites, x)
		}
	case OffersFile:
		im.parseOffer(r)
	case ConversionsFile:
		im.parseConversion(r)
	}
}

func (im *Import) parseOffer(r *rowReader) {
	o := domain.Offer{ID: r.text("offer_id", true, 64), Name: r.text("name", true, 200), LandingURL: r.text("landing_url", true, 2048),
		Status: domain.OfferStatus(r.text("status", false, 10)), DedupeOrderID: r.boolean("dedupe_order_id", true)}
	shopID := r.number("shop_id", true)
	if o.ID != "" && !offerIDPattern.MatchString(o.ID) {
		r.refuse("offer_id", "%q must be 1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit", o.ID)
	}
	switch o.Status {
	case "", domain.OfferActive, domain.OfferPaused:
	default:
		r.refuse("status", "%q is not active or paused", o.Status)
	}
	o.Downstream.ClickIDParam = r.text("click_id_param", false, 64)
	if !paramPattern.MatchString(o.Downstream.ClickIDParam) {
		r.refuse("click_id_param", "%q is not a query parameter name", o.Downstream.ClickIDParam)
	}
	o.Downstream.FC2Params = r.boolean("fc2_params", true)
	if v := r.text("auto_approve_after_days", false, 3); v != "" {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || n > 365 {
			r.refuse("auto_approve_after_days", "%q is not a number of days from 0 to 365", v)
		}
		o.AutoApproveAfterDays = int(n)
	}
	bps, fixed := r.text("payout_percent_bps", false, 5), r.text("payout_fixed", false, 20)
	cur := r.currency("payout_currency")
	switch {
	case (bps == "") == (fixed == ""):
		r.refuse("payout_percent_bps", "give exactly one of payout_percent_bps and payout_fixed")
	case bps != "":
		n, err := strconv.ParseUint(bps, 10, 32)
		if err != nil || n > 10000 {
			r.refuse("payout_percent_bps", "%q is not 0 to 10000 basis points", bps)
		}
		o.Payout.PercentBPS = uint32(n)
	default:
		if cur != "JPY" && cur != "USD" {
			r.refuse("payout_currency", "a fixed payout's currency must be JPY or USD")
		}
		minor, err := attribution.ParseDecimal(cur, fixed)
		if err != nil {
			r.refuse("payout_fixed", "%v", err)
		}
		o.Payout.Fixed = &domain.Money{Currency: cur, Minor: minor}
	}
	ApplyOfferDefaults(&o)
	if !r.bad {
		if err := im.cfg.checkOffer(r.ctx, o); err != nil {
			if inv, ok := domain.AsError(err); ok && errors.Is(err, domain.ErrInvalid) && inv.Field != "" {
				r.refuse(inv.Field, "%s", inv.Public)
			} else {
				r.refuse("", "%v", err)
			}
		}
	}
	if !r.bad {
		r.pl.offers = append(r.pl.offers, offerRow{line: r.line, offer: o, shopID: shopID})
	}
}

// Japan time, for sale times written without a zone (FC2's ts is JST).
var jst = time.FixedZone("JST", 9*60*60)

func (im *Import) parseConversion(r *rowReader) {
	x := conversionRow{line: r.line, shopID: r.number("shop_id", true), userID: r.number("user_id", false), siteID: r.number("site_id", false)}
	c := &x.conv
	c.OrderID = r.text("order_id", true, 200)
	c.OfferID = r.text("offer_id", true, 64)
	c.OrderID2 = r.text("order_id_2", false, 200)
	c.Amount.Currency = r.currency("currency")
	if v := r.text("amount", true, 20); v != "" {
		minor, err := attribution.ParseDecimal(c.Amount.Currency, v)
		if err != nil {
			r.refuse("amount", "%v (a decimal in major units: 1980 yen, 12.50 dollars)", err)
		}
		c.Amount.Minor = minor
	}
	x.commission = r.text("commission", false, 20)
	if x.commission != "" {
		if _, err := attribution.ParseDecimal(c.Amount.Currency, x.commission); err != nil {
			r.refuse("commission", "%v", err)
		}
		if x.userID == 0 && x.siteID == 0 {
			r.refuse("commission", "a commission needs the publisher it was paid to (user_id or site_id)")
		}
	}
	c.Status = domain.ConversionStatus(r.text("status", false, 10))
	switch c.Status {
	case "":
		c.Status = domain.StatusPending
	case domain.StatusPending, domain.StatusApproved, domain.StatusRejected, domain.StatusReversed:
	default:
		r.refuse("status", "%q is not pending, approved, rejected or reversed", c.Status)
	}
	if v := r.text("sale_time", true, 40); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			t, err = time.ParseInLocation("2006-01-02 15:04:05", v, jst)
		}
		switch {
		case err != nil:
			r.refuse("sale_time", "%q is not RFC 3339 (2026-11-22T18:50:00+09:00) or YYYY-MM-DD HH:MM:SS in Japan time", v)
		case t.After(im.now().Add(5 * time.Minute)):
			r.refuse("sale_time", "%q is in the future", v)
		}
		c.SaleAt = t
	}
	c.BuyerUserName = r.text("uname", false, 64)
	if email := r.text("email", false, 254); email != "" {
		c.BuyerEmailHash = im.store.HashEmail(email)
		if strings.EqualFold(email, FC2TestEmail) {
			r.refuse("email", "%s marks a test sale, which is not history to import", FC2TestEmail)
		}
	}
	c.Recurring = r.boolean("recurring", false)
	if code := r.text("item_code", false, 32); code != "" {
		qty := uint64(1)
		if v := r.text("unit_num", false, 7); v != "" {
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil || n < 1 || n > 1000000 {
				r.refuse("unit_num", "%q is not a count from 1 to 1000000", v)
			}
			qty = n
		}
		c.Items = []domain.Item{{Code: code, Quantity: uint32(qty)}}
	}
	if !r.bad {
		r.pl.conversions = append(r.pl.conversions, x)
	}
}

// ---------------------------------------------------------------- checks

// keys returns the natural keys the program names, for ImportRefs.
func (pl *plan) keys() (shops, users, sites []int64, offers []string) {
	seen := map[string]bool{}
	addN := func(list *[]int64, kind string, n int64) {
		k := kind + strconv.FormatInt(n, 10)
		if n > 0 && !seen[k] {
			seen[k] = true
			*list = append(*list, n)
		}
	}
	for _, r := range pl.shops {
		addN(&shops, "s", r.shop.Advertiser.ShopID)
	}
	for _, r := range pl.publishers {
		addN(&users, "u", r.pub.UserID)
	}
	for _, r := range pl.sites {
		addN(&sites, "t", r.site.SiteID)
		addN(&users, "u", r.userID)
	}
	for _, r := range pl.offers {
		addN(&shops, "s", r.shopID)
		if !seen["o"+r.offer.ID] {
			seen["o"+r.offer.ID] = true
			offers = append(offers, r.offer.ID)
		}
	}
	for _, r := range pl.conversions {
		addN(&shops, "s", r.shopID)
		addN(&users, "u", r.userID)
		addN(&sites, "t", r.siteID)
		if !seen["o"+r.conv.OfferID] {
			seen["o"+r.conv.OfferID] = true
			offers = append(offers, r.conv.OfferID)
		}
	}
	return shops, users, sites, offers
}

// check looks up what exists and checks the references between rows and
// files.
func (im *Import) check(ctx context.Context, pl *plan) error {
	if err := im.refresh(ctx, pl); err != nil {
		return err
	}
	refs := pl.refs
	taken := func(file string, line int, column, what string, n int64, ref domain.ImportRef, ok bool) bool {
		if ok && !ref.Imported {
			pl.refuse(file, line, column, "%s %d is taken by %s, which was created in Baton, not imported", what, n, ref.ID)
			return true
		}
		return false
	}
	shopLine, userLine, siteLine, offerLine := map[int64]int{}, map[int64]int{}, map[int64]int{}, map[string]int{}
	siteUser := map[int64]int64{}
	offerShop := map[string]int64{}
	for _, r := range pl.shops {
		n := r.shop.Advertiser.ShopID
		if l, dup := shopLine[n]; dup {
			pl.refuse(ShopsFile, r.line, "shop_id", "shop ID %d is also on line %d", n, l)
			continue
		}
		shopLine[n] = r.line
		ref, ok := refs.Shops[n]
		taken(ShopsFile, r.line, "shop_id", "shop ID", n, ref, ok)
	}
	for _, r := range pl.publishers {
		n := r.pub.UserID
		if l, dup := userLine[n]; dup {
			pl.refuse(PublishersFile, r.line, "user_id", "user ID %d is also on line %d", n, l)
			continue
		}
		userLine[n] = r.line
		ref, ok := refs.Publishers[n]
		taken(PublishersFile, r.line, "user_id", "user ID", n, ref, ok)
	}
	userKnown := func(n int64) bool {
		_, inFile := userLine[n]
		_, inDB := refs.Publishers[n]
		return inFile || inDB
	}
	shopKnown := func(n int64) bool {
		_, inFile := shopLine[n]
		_, inDB := refs.Shops[n]
		return inFile || inDB
	}
	for _, r := range pl.sites {
		n := r.site.SiteID
		if l, dup := siteLine[n]; dup {
			pl.refuse(SitesFile, r.line, "site_id", "site ID %d is also on line %d", n, l)
			continue
		}
		siteLine[n] = r.line
		siteUser[n] = r.userID
		if !userKnown(r.userID) {
			pl.refuse(SitesFile, r.line, "user_id", "no publisher with user ID %d in %s or in Baton", r.userID, PublishersFile)
			continue
		}
		ref, ok := refs.Sites[n]
		if taken(SitesFile, r.line, "site_id", "site ID", n, ref, ok) {
			continue
		}
		if ok {
			if pub, inDB := refs.Publishers[r.userID]; inDB && pub.ID != ref.Owner {
				pl.refuse(SitesFile, r.line, "user_id", "site ID %d was imported for another publisher, not user ID %d", n, r.userID)
			}
		}
	}
	for _, r := range pl.offers {
		id := r.offer.ID
		if l, dup := offerLine[id]; dup {
			pl.refuse(OffersFile, r.line, "offer_id", "offer %s is also on line %d", id, l)
			continue
		}
		offerLine[id] = r.line
		offerShop[id] = r.shopID
		if !shopKnown(r.shopID) {
			pl.refuse(OffersFile, r.line, "shop_id", "no shop with shop ID %d in %s or in Baton", r.shopID, ShopsFile)
			continue
		}
		ref, ok := refs.Offers[id]
		switch {
		case ok && !ref.Imported:
			pl.refuse(OffersFile, r.line, "offer_id", "offer ID %s is taken by an offer created in Baton, not imported", id)
		case ok && refs.Shops[r.shopID].ID != ref.Owner:
			pl.refuse(OffersFile, r.line, "shop_id", "offer %s was imported for another shop, not shop ID %d", id, r.shopID)
		}
	}
	orderLine := map[int64]map[string]int{}
	for _, r := range pl.conversions {
		c := r.conv
		if !shopKnown(r.shopID) {
			pl.refuse(ConversionsFile, r.line, "shop_id", "no shop with shop ID %d in %s or in Baton", r.shopID, ShopsFile)
			continue
		}
		if orderLine[r.shopID] == nil {
			orderLine[r.shopID] = map[string]int{}
		}
		if l, dup := orderLine[r.shopID][c.OrderID]; dup {
			pl.refuse(ConversionsFile, r.line, "order_id", "order ID %s of shop ID %d is also on line %d", c.OrderID, r.shopID, l)
			continue
		}
		orderLine[r.shopID][c.OrderID] = r.line
		shop, inFile := offerShop[c.OfferID]
		if !inFile {
			ref, inDB := refs.Offers[c.OfferID]
			if !inDB {
				pl.refuse(ConversionsFile, r.line, "offer_id", "no offer %s in %s or in Baton", c.OfferID, OffersFile)
				continue
			}
			if sref, ok := refs.Shops[r.shopID]; !ok || sref.ID != ref.Owner {
				pl.refuse(ConversionsFile, r.line, "offer_id", "offer %s is not an offer of shop ID %d", c.OfferID, r.shopID)
				continue
			}
		} else if shop != r.shopID {
			pl.refuse(ConversionsFile, r.line, "offer_id", "offer %s is an offer of shop ID %d, not %d", c.OfferID, shop, r.shopID)
			continue
		}
		if r.userID > 0 && !userKnown(r.userID) {
			pl.refuse(ConversionsFile, r.line, "user_id", "no publisher with user ID %d in %s or in Baton", r.userID, PublishersFile)
			continue
		}
		if r.siteID > 0 {
			owner, inFile := siteUser[r.siteID]
			ref, inDB := refs.Sites[r.siteID]
			switch {
			case !inFile && !inDB:
				pl.refuse(ConversionsFile, r.line, "site_id", "no site with site ID %d in %s or in Baton", r.siteID, SitesFile)
			case inFile && r.userID > 0 && owner != r.userID:
				pl.refuse(ConversionsFile, r.line, "site_id", "site ID %d belongs to user ID %d, not %d", r.siteID, owner, r.userID)
			case !inFile && r.userID > 0 && refs.Publishers[r.userID].ID != ref.Owner:
				pl.refuse(ConversionsFile, r.line, "site_id", "site ID %d belongs to another publisher than user ID %d", r.siteID, r.userID)
			case inFile && r.userID == 0:
				// The site names its publisher; resolved after the sites are written.
			}
		}
	}
	// A conversion credited through a site only (no user_id) needs the
	// site's owner at write time: record it as the row's user.
	for i := range pl.conversions {
		r := &pl.conversions[i]
		if r.userID == 0 && r.siteID > 0 {
			if owner, ok := siteUser[r.siteID]; ok {
				r.userID = owner
			}
		}
	}
	return nil
}

// FormatImport renders an import result for people, one line each: the
// counts per file, then every refused row as file:line: column: reason.
func FormatImport(res ImportResult) string {
	var b bytes.Buffer
	verb, verbExisting := "created", "already in Baton, unchanged"
	if res.DryRun {
		verb = "to create"
	}
	for _, f := range res.Files {
		fmt.Fprintf(&b, "%-16s %7d rows: %7d %s, %7d %s\n", f.File, f.Rows, f.Created, verb, f.Existing, verbExisting)
	}
	if len(res.Problems) > 0 {
		fmt.Fprintf(&b, "%d rows refused; nothing was written:\n", len(res.Problems))
		for _, p := range res.Problems {
			b.WriteString(p.String())
			b.WriteByte('\n')
		}
	} else if res.DryRun {
		b.WriteString("dry run: every row is valid; nothing was written\n")
	}
	return b.String()
}
