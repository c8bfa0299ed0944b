package service

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/batonhq/baton/server/internal/attribution"
	"github.com/batonhq/baton/server/internal/domain"
	"github.com/batonhq/baton/server/internal/signature"
)

// FC2Store is what the FC2 gateway use cases read.
type FC2Store interface {
	GetAdvertiser(ctx context.Context, id string) (domain.Advertiser, error)
	AdvertiserSecrets(ctx context.Context, id string) ([]string, error)
}

// FC2 is the FC2 legacy gateway's use cases that are not intake: the tag
// builder that FC2's PHP library was for shops.
type FC2 struct {
	store     FC2Store
	publicURL string
	now       func() time.Time
}

// NewFC2 returns the FC2 use cases; publicURL is where shops reach Baton.
func NewFC2(st FC2Store, publicURL string, now func() time.Time) *FC2 {
	if now == nil {
		now = time.Now
	}
	return &FC2{store: st, publicURL: strings.TrimRight(publicURL, "/"), now: now}
}

// FC2TagInput is a sale to build a tag for.
type FC2TagInput struct {
	AdvertiserID string
	Post         bool
	UniqueID     string
	AmountY      *int64
	AmountD      *string
	UName        string
	Email        string
	Recurring    bool
	ItemCode     string
	UnitNum      uint32
	TS           time.Time
	RefUserID    int64
	RefSiteID    int64
	IP           string
	Test         bool
	ShortSH      bool
}

// FC2Tag is the built tag.
type FC2Tag struct {
	URL  string // the image URL, or the POST endpoint
	HTML string // <img ...> for the image tag
	Body string // form body for the POST
	SH   string
}

// param is one query parameter, kept in FC2's documented order.
type param struct{ name, value string }

func encodeParams(ps []param) string {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(p.name))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(p.value))
	}
	return b.String()
}

// BuildTag builds the exact image tag (or POST body) for a sale with sh
// computed from the shop's current secret.
func (f *FC2) BuildTag(ctx context.Context, p domain.Principal, in FC2TagInput) (FC2Tag, error) {
	if !p.Owns(domain.RoleAdvertiser, in.AdvertiserID) {
		return FC2Tag{}, domain.Denied("only the shop (or an admin) may build its tags")
	}
	if (in.AmountY == nil) == (in.AmountD == nil) {
		return FC2Tag{}, domain.Invalid("amount_y", "exactly one of amount_y or amount_d is required")
	}
	adv, err := f.store.GetAdvertiser(ctx, in.AdvertiserID)
	if err != nil {
		return FC2Tag{}, err
	}
	secrets, err := f.store.AdvertiserSecrets(ctx, in.AdvertiserID)
	if err != nil {
		return FC2Tag{}, err
	}
	if len(secrets) == 0 {
		return FC2Tag{}, errors.New("advertiser has no secret")
	}
	if in.TS.IsZero() {
		in.TS = f.now()
	}
	fields := signature.FC2Fields{
		ShopID: strconv.FormatInt(adv.ShopID, 10), UniqueID: in.UniqueID, UName: in.UName, Email: in.Email,
		TS: signature.FormatFC2TS(in.TS), Recurring: "0", ItemCode: in.ItemCode,
	}
	if in.AmountY != nil {
		fields.AmountY = strconv.FormatInt(*in.AmountY, 10)
	} else {
		fields.AmountD = *in.AmountD
	}
	if in.Recurring {
		fields.Recurring = "1"
	}
	if in.UnitNum > 0 {
		fields.UnitNum = strconv.FormatUint(uint64(in.UnitNum), 10)
	}
	sh := signature.FC2SH(secrets[0], fields)
	if in.ShortSH {
		sh = sh[:16]
	}
	ps := []param{{"shopid", fields.ShopID}, {"unique_id", fields.UniqueID}}
	if in.AmountY != nil {
		ps = append(ps, param{"amount_y", fields.AmountY})
	} else {
		ps = append(ps, param{"amount_d", fields.AmountD})
	}
	for _, p := range []param{{"uname", fields.UName}, {"email", fields.Email}} {
		if p.value != "" {
			ps = append(ps, p)
		}
	}
	ps = append(ps, param{"recurring", fields.Recurring})
	if fields.ItemCode != "" {
		ps = append(ps, param{"item_code", fields.ItemCode})
	}
	if fields.UnitNum != "" {
		ps = append(ps, param{"unit_num", fields.UnitNum})
	}
	ps = append(ps, param{"ts", fields.TS})
	if in.Post {
		if in.RefUserID > 0 {
			ps = append(ps, param{"ref_userid", strconv.FormatInt(in.RefUserID, 10)})
		}
		if in.RefSiteID > 0 {
			ps = append(ps, param{"ref_siteid", strconv.FormatInt(in.RefSiteID, 10)})
		}
		if in.IP != "" {
			ps = append(ps, param{"ip", in.IP})
		}
	}
	ps = append(ps, param{"sh", sh})
	if in.Test {
		ps = append(ps, param{"test", "on"})
	}
	q := encodeParams(ps)
	base := TrackingBase(f.publicURL, adv)
	if in.Post {
		return FC2Tag{URL: base + "/tracking/tracking_post.php", Body: q, SH: sh}, nil
	}
	u := base + "/tracking/tracking_img.php?" + q
	return FC2Tag{URL: u, HTML: `<img src="` + html.EscapeString(u) + `" width="1" height="1" alt="">`, SH: sh}, nil
}

// FC2IntakeStore is what the FC2 image tag and server POST read.
type FC2IntakeStore interface {
	AdvertiserByShopID(ctx context.Context, shopID int64) (domain.Advertiser, error)
	AdvertiserSecrets(ctx context.Context, id string) ([]string, error)
	DefaultOffer(ctx context.Context, advertiserID string) (domain.Offer, error)
	GetClick(ctx context.Context, id string) (domain.Click, error)
}

// FC2Intake records sales reported in FC2's formats through the same
// conversion use cases as the API: no second implementation of attribution
// or delivery.
type FC2Intake struct {
	store   FC2IntakeStore
	conv    *Conversions
	resolve func(ctx context.Context, host string) ([]string, error)
	now     func() time.Time
}

// NewFC2Intake returns the FC2 intake. resolve looks up registered host
// names (net.DefaultResolver.LookupHost).
func NewFC2Intake(st FC2IntakeStore, conv *Conversions, resolve func(ctx context.Context, host string) ([]string, error), now func() time.Time) *FC2Intake {
	if now == nil {
		now = time.Now
	}
	return &FC2Intake{store: st, conv: conv, resolve: resolve, now: now}
}

// FC2Result says what happened to one FC2 report.
type FC2Result struct {
	Test       bool
	Conversion domain.Conversion
	Duplicate  bool
}

// FC2Report is an FC2 report as the gateway read it: each parameter as
// sent, not yet checked.
type FC2Report struct {
	Fields signature.FC2Fields // the parameters sh covers
	SH     string
	Passwd string // server POST
	Test   string // "on" for a test
	// ClickID is Baton's click ID, when the shop kept it from the landing
	// URL; Via is "t.js" for the first-party tag's copy of the image tag.
	ClickID, Via string
	// The server POST's referrer IDs and buyer IP.
	RefUserID, RefSiteID, IP string
	// CookieClickID is the click ID in the browser's cookie for this shop
	// (CookieName of the shopid sent), for the image tag.
	CookieClickID string
}

// FC2 limits, as the FC2 documentation states them.
const (
	FC2MaxUniqueID = 80
	FC2MaxUName    = 32
	FC2MaxItemCode = 32
	// FC2TagLifetime: a ts older than this is ignored (a saved thank-you
	// page reopened later must not count again).
	FC2TagLifetime = time.Hour
	// FC2ClockSkew is how far ahead of Baton's clock a ts may be: shops'
	// clocks differ a little, but a tag stamped in the future would
	// otherwise never expire and a saved page would count again forever.
	FC2ClockSkew = signature.MaxClockSkew
)

// fc2Problem is one broken FC2 rule, with the refusal code it stands for.
type fc2Problem struct {
	code domain.RefusalCode
	msg  string
}

// fc2CodeRank orders refusal codes by what a shop must fix first: the
// refusal is logged under the first-ranked code among its problems.
var fc2CodeRank = []domain.RefusalCode{domain.RefusalUnknownShop, domain.RefusalBadPassword, domain.RefusalBadSignature,
	domain.RefusalNotAuthorized, domain.RefusalInvalidParameter}

func fc2Code(ps []fc2Problem) domain.RefusalCode {
	for _, c := range fc2CodeRank {
		for _, p := range ps {
			if p.code == c {
				return c
			}
		}
	}
	return domain.RefusalInvalidParameter
}

// fc2Refusal is the error for a refused report: kind ErrPermissionDenied
// when the shop's credentials are what is wrong, else ErrInvalid.
func fc2Refusal(code domain.RefusalCode, msgs []string) error {
	kind := domain.ErrInvalid
	switch code {
	case domain.RefusalBadPassword, domain.RefusalBadSignature, domain.RefusalNotAuthorized:
		kind = domain.ErrPermissionDenied
	}
	return &domain.Error{Kind: kind, Code: code, Public: strings.Join(msgs, "; "), Problems: msgs}
}

func fc2Messages(ps []fc2Problem) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.msg
	}
	return out
}

func isAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	if s == "" || len(s) > 15 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isHalfWidth(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// fc2Report is a parsed, checked FC2 report.
type fc2Report struct {
	adv      domain.Advertiser
	fields   signature.FC2Fields
	in       ConversionInput
	test     bool
	sh       string
	passwd   string
	problems []fc2Problem
}

func (r *fc2Report) bad(code domain.RefusalCode, format string, args ...any) {
	r.problems = append(r.problems, fc2Problem{code, fmt.Sprintf(format, args...)})
}

// parse checks every FC2 parameter rule and collects all problems at once,
// so a shop testing its tag sees them together: first the shop (the one
// rule that reads the database), then the rest.
func (f *FC2Intake) parse(ctx context.Context, rep FC2Report, post bool) (*fc2Report, error) {
	r := &fc2Report{fields: rep.Fields}
	r.test = strings.EqualFold(rep.Test, "on") || strings.EqualFold(strings.TrimSpace(rep.Fields.Email), FC2TestEmail)
	r.sh, r.passwd = strings.ToLower(rep.SH), rep.Passwd
	if err := f.shop(ctx, r); err != nil {
		return nil, err
	}
	r.check(rep, post)
	return r, nil
}

// shop finds the advertiser the report's shopid names.
func (f *FC2Intake) shop(ctx context.Context, r *fc2Report) error {
	shopID, err := strconv.ParseInt(r.fields.ShopID, 10, 64)
	if !isDigits(r.fields.ShopID) || err != nil {
		r.invalid("shopid is required and must be the numeric shop ID")
		return nil //nolint:nilerr // the report is refused (r.invalid), not failed
	}
	adv, err := f.store.AdvertiserByShopID(ctx, shopID)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		r.bad(domain.RefusalUnknownShop, "shopid %s is not a shop of this network", r.fields.ShopID)
	case err != nil:
		return err
	default:
		r.adv = adv
	}
	return nil
}

// check applies FC2's rules for every parameter but the shop, in the
// order a shop reads them, and builds the conversion input.
func (r *fc2Report) check(rep FC2Report, post bool) {
	fl := r.fields
	switch {
	case fl.UniqueID == "":
		r.invalid("unique_id is required")
	case len(fl.UniqueID) > FC2MaxUniqueID || !isHalfWidth(fl.UniqueID):
		r.invalid("unique_id must be at most %d half-width characters (letters, digits, symbols)", FC2MaxUniqueID)
	}
	amount := r.amount()
	r.checkBuyer()
	units := r.units()
	requestTime := r.requestTime()
	if r.sh != "" && len(r.sh) != 16 && len(r.sh) != 40 {
		r.bad(domain.RefusalBadSignature, "sh must be the 40 hexadecimal characters of the SHA-1, or its first 16")
	}
	r.in = r.input(rep, post, amount, units, requestTime)
}

func (r *fc2Report) invalid(format string, args ...any) {
	r.bad(domain.RefusalInvalidParameter, format, args...)
}

// checkBuyer checks the buyer and item fields: uname, email, recurring,
// item_code.
func (r *fc2Report) checkBuyer() {
	fl := r.fields
	if len(fl.UName) > FC2MaxUName || !isAlnum(fl.UName) {
		r.invalid("uname must be at most %d half-width letters and digits", FC2MaxUName)
	}
	if fl.Email != "" && (len(fl.Email) > 254 || !strings.Contains(fl.Email, "@") || !isHalfWidth(fl.Email)) {
		r.invalid("email is not an email address")
	}
	if fl.Recurring != "" && fl.Recurring != "0" && fl.Recurring != "1" {
		r.invalid("recurring must be 0 (new) or 1 (continuing)")
	}
	if len(fl.ItemCode) > FC2MaxItemCode || !isAlnum(fl.ItemCode) {
		r.invalid("item_code must be at most %d half-width letters and digits", FC2MaxItemCode)
	}
}

// units reads unit_num (0 when absent).
func (r *fc2Report) units() uint64 {
	if r.fields.UnitNum == "" {
		return 0
	}
	n, err := strconv.ParseUint(r.fields.UnitNum, 10, 32)
	if err != nil || !isDigits(r.fields.UnitNum) {
		r.invalid("unit_num must be a whole number")
	}
	return n
}

// requestTime reads ts, the tag's issue time (nil when absent).
func (r *fc2Report) requestTime() *time.Time {
	if r.fields.TS == "" {
		return nil
	}
	t, err := signature.ParseFC2TS(r.fields.TS)
	if err != nil {
		r.invalid("ts must be the tag's issue time in Japan time, yyyymmddhhmmss")
		return nil
	}
	return &t
}

// input builds the conversion input from the checked fields, checking the
// click ID and the server POST's referrer IDs on the way.
func (r *fc2Report) input(rep FC2Report, post bool, amount domain.Money, units uint64, requestTime *time.Time) ConversionInput {
	fl := r.fields
	in := ConversionInput{
		AdvertiserID: r.adv.ID, OrderID: fl.UniqueID, Amount: amount, Recurring: fl.Recurring == "1", UserName: fl.UName,
		Email: fl.Email, Test: r.test, RequestTime: requestTime,
		// Baton's click ID, when the shop kept it from the landing URL: not
		// an FC2 parameter (sh does not cover it), the one way to name the
		// click exactly.
		ClickID: rep.ClickID, CookieClickID: rep.CookieClickID,
	}
	if len(in.ClickID) > 64 || !isHalfWidth(in.ClickID) {
		r.invalid("click_id must be the click ID Baton passed on the landing URL")
		in.ClickID = ""
	}
	// via=t.js: a copy of the shop's tag sent by Baton's first-party tag,
	// with the click ID it kept on the shop's own site.
	in.FirstParty = in.ClickID != "" && rep.Via == "t.js"
	// A report of the same FC2 fields is the same report again (a reload,
	// or the first-party tag's copy of the image tag): it counts once even
	// where the offer does not deduplicate order IDs.
	in.IdempotencyKey = fc2ReportKey(fl, r.test)
	if fl.ItemCode != "" {
		q := uint32(units)
		if q == 0 {
			q = 1
		}
		in.Items = []domain.Item{{Code: fl.ItemCode, Quantity: q}}
	}
	if post {
		for _, p := range []struct {
			name, v string
			dst     *int64
		}{{"ref_userid", rep.RefUserID, &in.RefUserID}, {"ref_siteid", rep.RefSiteID, &in.RefSiteID}} {
			if p.v != "" {
				n, err := strconv.ParseInt(p.v, 10, 64)
				if err != nil || !isDigits(p.v) {
					r.invalid("%s must be the number the click redirect gave the shop", p.name)
				}
				*p.dst = n
			}
		}
		in.IP = rep.IP
	}
	return in
}

// amount reads amount_y (yen) or amount_d (dollars): exactly one is given.
func (r *fc2Report) amount() domain.Money {
	fl := r.fields
	switch {
	case (fl.AmountY == "") == (fl.AmountD == ""):
		r.bad(domain.RefusalInvalidParameter, "give exactly one of amount_y (yen) or amount_d (dollars); amount_y=0 for a free sale")
	case fl.AmountY != "":
		if !isDigits(fl.AmountY) {
			r.bad(domain.RefusalInvalidParameter, "amount_y must be a whole number of yen")
		} else {
			n, _ := strconv.ParseInt(fl.AmountY, 10, 64) //nolint:errcheck // checked above: digits only, within range
			return domain.Money{Currency: "JPY", Minor: n}
		}
	default:
		n, err := attribution.ParseDecimal("USD", fl.AmountD)
		if err != nil {
			r.bad(domain.RefusalInvalidParameter, "amount_d must be dollars with at most two decimals, e.g. 19.99")
		}
		return domain.Money{Currency: "USD", Minor: n}
	}
	return domain.Money{}
}

// fc2ReportKey identifies an FC2 report by every field sh covers (and test
// mode): "fc2:" and 32 hex digits of their SHA-256.
func fc2ReportKey(f signature.FC2Fields, test bool) string {
	h := sha256.New()
	for _, v := range []string{f.ShopID, f.UniqueID, f.UName, f.Email, f.AmountY, f.AmountD, f.TS, f.Recurring, f.ItemCode, f.UnitNum, strconv.FormatBool(test)} {
		h.Write([]byte(strconv.Itoa(len(v))))
		h.Write([]byte{':'})
		h.Write([]byte(v))
	}
	return "fc2:" + hex.EncodeToString(h.Sum(nil)[:16])
}

// verifySH checks sh against the shop's secrets; required says whether a
// missing sh is a problem.
func (f *FC2Intake) verifySH(ctx context.Context, r *fc2Report, required bool) (bool, error) {
	if r.sh == "" {
		if required {
			r.bad(domain.RefusalBadSignature, "sh is required by this shop: sha1(password + shopid + unique_id + uname + email + amount_y + amount_d + ts + recurring + item_code + unit_num)")
		}
		return false, nil
	}
	secrets, err := f.store.AdvertiserSecrets(ctx, r.adv.ID)
	if err != nil {
		return false, err
	}
	if !signature.VerifyFC2SH(secrets, r.fields, r.sh) {
		r.bad(domain.RefusalBadSignature, "sh does not match: check the password and that every parameter is hashed exactly as sent, an omitted one as empty")
		return false, nil
	}
	return true, nil
}

// record hands a checked report to the conversion use cases.
func (f *FC2Intake) record(ctx context.Context, r *fc2Report) (FC2Result, error) {
	res := FC2Result{Test: r.test}
	if r.in.RequestTime != nil && f.now().Sub(*r.in.RequestTime) > FC2TagLifetime {
		// Ignored, as FC2 documents: a saved thank-you page reopened later.
		return res, f.refuse(ctx, r, domain.RefusalStaleTimestamp, fmt.Sprintf("ts %s is more than one hour old: ignored (a saved page reopened later does not count again)", r.fields.TS))
	}
	if r.in.RequestTime != nil && r.in.RequestTime.Sub(f.now()) > FC2ClockSkew {
		// A ts in the future would never reach the hour's limit.
		return res, f.refuse(ctx, r, domain.RefusalFutureTimestamp, fmt.Sprintf("ts %s is in the future: more than %s ahead of Japan time now (%s); set ts to the time the tag is issued",
			r.fields.TS, attribution.Human(FC2ClockSkew), signature.FormatFC2TS(f.now())))
	}
	r.in.RequestTime = nil // checked above against FC2's own rule
	if r.in.ClickID == "" && r.in.CookieClickID != "" {
		if cl, err := f.store.GetClick(ctx, r.in.CookieClickID); err == nil && cl.AdvertiserID == r.adv.ID {
			r.in.OfferID = cl.OfferID
		}
	}
	if r.in.OfferID == "" {
		o, err := f.store.DefaultOffer(ctx, r.adv.ID)
		if errors.Is(err, domain.ErrNotFound) {
			return res, f.refuse(ctx, r, domain.RefusalNoOffer, "the shop has no active offer to record the sale against")
		}
		if err != nil {
			return res, err
		}
		r.in.OfferID = o.ID
	}
	r.in.Verified = true
	conv, dup, err := f.conv.Record(ctx, domain.Principal{}, r.in)
	if err != nil {
		if ref, ok := domain.AsError(err); ok && ref.Code != "" {
			// The conversion use cases refused it: the shop's mistake.
			return res, &domain.Error{Kind: domain.ErrInvalid, Code: ref.Code, Field: ref.Field, Public: ref.Public, Problems: []string{ref.Public}}
		}
		return res, err
	}
	res.Conversion, res.Duplicate = conv, dup
	return res, nil
}

func (f *FC2Intake) refuse(ctx context.Context, r *fc2Report, code domain.RefusalCode, msg string) error {
	params := map[string]string{}
	for k, v := range map[string]string{"shopid": r.fields.ShopID, "unique_id": r.fields.UniqueID, "amount_y": r.fields.AmountY,
		"amount_d": r.fields.AmountD, "ts": r.fields.TS, "recurring": r.fields.Recurring, "item_code": r.fields.ItemCode, "unit_num": r.fields.UnitNum} {
		if v != "" {
			params[k] = v
		}
	}
	if r.sh != "" {
		params["sh"] = "xxxxx"
	}
	if r.in.ClickID != "" {
		params["click_id"] = r.in.ClickID
	}
	_ = f.conv.refuse(ctx, ConversionInput{Source: r.in.Source, OrderID: r.fields.UniqueID, RemoteIP: r.in.RemoteIP, Params: params},
		r.adv.ID, r.in.OfferID, &domain.Error{Kind: domain.ErrInvalid, Code: code, Public: msg})
	return &domain.Error{Kind: domain.ErrInvalid, Code: code, Public: msg, Problems: []string{msg}}
}

// refuseProblems records the report's problems in the refusal log, under
// the code a shop must fix first, and returns them.
func (f *FC2Intake) refuseProblems(ctx context.Context, r *fc2Report) error {
	code, msgs := fc2Code(r.problems), fc2Messages(r.problems)
	_ = f.refuse(ctx, r, code, strings.Join(msgs, "; "))
	return fc2Refusal(code, msgs)
}

// Pixel records a sale reported by the FC2 image tag
// (GET /tracking/tracking_img.php). The caller always answers with the 1×1
// image, except in test mode.
func (f *FC2Intake) Pixel(ctx context.Context, rep FC2Report, ip, ua string) (FC2Result, error) {
	r, err := f.parse(ctx, rep, false)
	if err != nil {
		return FC2Result{}, err
	}
	r.in.Source, r.in.RemoteIP, r.in.IP, r.in.UserAgent = domain.SourcePixel, ip, ip, ua
	if r.adv.ID != "" {
		if _, err := f.verifySH(ctx, r, r.adv.RequireSignature); err != nil {
			return FC2Result{Test: r.test}, err
		}
	}
	if len(r.problems) > 0 {
		return FC2Result{Test: r.test}, f.refuseProblems(ctx, r)
	}
	return f.record(ctx, r)
}

// ServerPost records a sale reported by the shop's server
// (POST /tracking/tracking_post.php): passwd or sh is required unless the
// request comes from one of the shop's registered hosts.
func (f *FC2Intake) ServerPost(ctx context.Context, rep FC2Report, remoteIP string) (FC2Result, error) {
	r, err := f.parse(ctx, rep, true)
	if err != nil {
		return FC2Result{}, err
	}
	r.in.Source, r.in.RemoteIP = domain.SourceServerPost, remoteIP
	if r.adv.ID != "" {
		authed := false
		if r.passwd != "" {
			secrets, err := f.store.AdvertiserSecrets(ctx, r.adv.ID)
			if err != nil {
				return FC2Result{}, err
			}
			ok := 0
			for _, s := range secrets {
				ok |= subtle.ConstantTimeCompare([]byte(s), []byte(r.passwd))
			}
			if ok != 1 {
				r.bad(domain.RefusalBadPassword, "passwd is wrong")
			}
			authed = ok == 1
		}
		if !authed && r.sh != "" {
			if authed, err = f.verifySH(ctx, r, false); err != nil {
				return FC2Result{}, err
			}
		}
		if !authed && r.passwd == "" && r.sh == "" {
			registered, err := f.registered(ctx, r.adv, remoteIP)
			if err != nil {
				return FC2Result{}, err
			}
			if !registered {
				r.bad(domain.RefusalNotAuthorized, "passwd or sh is required from %s, which is not a registered host of this shop", remoteIP)
			}
		}
	}
	if len(r.problems) > 0 {
		return FC2Result{Test: r.test}, f.refuseProblems(ctx, r)
	}
	return f.record(ctx, r)
}

// registered reports whether ip is one of the shop's registered hosts: an
// IP, a CIDR, or a host name resolved now.
func (f *FC2Intake) registered(ctx context.Context, adv domain.Advertiser, ip string) (bool, error) {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return false, nil //nolint:nilerr // an address that does not parse is registered nowhere
	}
	addr = addr.Unmap()
	for _, h := range adv.RegisteredHosts {
		if p, err := netip.ParsePrefix(h); err == nil {
			if p.Contains(addr) {
				return true, nil
			}
			continue
		}
		if a, err := netip.ParseAddr(h); err == nil {
			if a.Unmap() == addr {
				return true, nil
			}
			continue
		}
		if f.resolve == nil {
			continue
		}
		lctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		addrs, err := f.resolve(lctx, h)
		cancel()
		if err != nil {
			continue
		}
		for _, s := range addrs {
			if a, err := netip.ParseAddr(s); err == nil && a.Unmap() == addr {
				return true, nil
			}
		}
	}
	return false, nil
}
