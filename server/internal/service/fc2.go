package service

import (
	"context"
	"errors"
	"html"
	"net/url"
	"strconv"
	"strings"
	"time"

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
	if in.Post {
		return FC2Tag{URL: f.publicURL + "/tracking/tracking_post.php", Body: q, SH: sh}, nil
	}
	u := f.publicURL + "/tracking/tracking_img.php?" + q
	return FC2Tag{URL: u, HTML: `<img src="` + html.EscapeString(u) + `" width="1" height="1" alt="">`, SH: sh}, nil
}
