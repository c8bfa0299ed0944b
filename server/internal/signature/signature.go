// Package signature computes and checks the signatures Baton accepts and
// sends: FC2's sh (SHA-1 over the shop password and the tag's fields),
// HMAC-SHA256 over a canonical conversion, and request freshness. Standard
// library only; every comparison is constant-time.
package signature

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// FC2Fields are the image tag / POST parameters that sh covers, as sent
// (an omitted parameter is the empty string).
type FC2Fields struct {
	ShopID, UniqueID, UName, Email, AmountY, AmountD, TS, Recurring, ItemCode, UnitNum string
}

// FC2SH returns sh as FC2 defines it: the SHA-1, in hex, of the shop
// password followed by shopid, unique_id, uname, email, amount_y, amount_d,
// ts, recurring, item_code and unit_num.
func FC2SH(password string, f FC2Fields) string {
	h := sha1.New()
	for _, s := range []string{password, f.ShopID, f.UniqueID, f.UName, f.Email, f.AmountY, f.AmountD, f.TS, f.Recurring, f.ItemCode, f.UnitNum} {
		h.Write([]byte(s))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// VerifyFC2SH reports whether sh (all 40 hex characters, or only the first
// 16, in either case) matches any of the shop's current secrets.
func VerifyFC2SH(passwords []string, f FC2Fields, sh string) bool {
	sh = strings.ToLower(sh)
	if len(sh) != 40 && len(sh) != 16 {
		return false
	}
	ok := 0
	for _, p := range passwords {
		want := FC2SH(p, f)[:len(sh)]
		ok |= subtle.ConstantTimeCompare([]byte(want), []byte(sh))
	}
	return ok == 1
}

// Conversion is what a conversion signature covers.
type Conversion struct {
	RequestTime    time.Time
	ClickID        string
	OfferID        string
	OrderID        string
	OrderID2       string
	Currency       string
	AmountMinor    int64
	Recurring      bool
	UserName       string
	Email          string
	IP             string
	Test           bool
	IdempotencyKey string
}

func bit(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// Canonical is the string a conversion signature is computed over: the
// fields in a fixed order, one per line, each line ending in "\n". Values
// cannot contain a newline (the API refuses them), so it is unambiguous.
func (c Conversion) Canonical() string {
	return strings.Join([]string{
		strconv.FormatInt(c.RequestTime.Unix(), 10), c.ClickID, c.OfferID, c.OrderID, c.OrderID2,
		c.Currency + ":" + strconv.FormatInt(c.AmountMinor, 10), bit(c.Recurring), c.UserName, c.Email, c.IP,
		bit(c.Test), c.IdempotencyKey,
	}, "\n") + "\n"
}

// HMAC returns the hex HMAC-SHA256 of msg with secret.
func HMAC(secret, msg string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

// VerifyHMAC reports whether sig is the HMAC of msg under any of secrets.
func VerifyHMAC(secrets []string, msg, sig string) bool {
	sig = strings.ToLower(sig)
	ok := 0
	for _, s := range secrets {
		ok |= subtle.ConstantTimeCompare([]byte(HMAC(s, msg)), []byte(sig))
	}
	return ok == 1
}

// ErrStale means a request's timestamp is older than the tolerance.
var ErrStale = errors.New("the request timestamp is too old")

// ErrFuture means a request's timestamp is too far in the future.
var ErrFuture = errors.New("the request timestamp is in the future")

// MaxClockSkew is how far in the future a timestamp may be (clocks differ).
const MaxClockSkew = 5 * time.Minute

// Fresh checks that at lies within [now-tolerance, now+MaxClockSkew].
func Fresh(at, now time.Time, tolerance time.Duration) error {
	switch {
	case at.Before(now.Add(-tolerance)):
		return fmt.Errorf("%w: %s old, the limit is %s", ErrStale, now.Sub(at).Truncate(time.Second), tolerance)
	case at.After(now.Add(MaxClockSkew)):
		return ErrFuture
	}
	return nil
}

// JST is Japan time, in which FC2's ts is written.
var JST = time.FixedZone("JST", 9*60*60)

// ParseFC2TS reads ts (yyyymmddhhmmss, Japan time).
func ParseFC2TS(ts string) (time.Time, error) {
	if len(ts) != 14 {
		return time.Time{}, fmt.Errorf("ts %q is not yyyymmddhhmmss", ts)
	}
	t, err := time.ParseInLocation("20060102150405", ts, JST)
	if err != nil {
		return time.Time{}, fmt.Errorf("ts %q is not yyyymmddhhmmss", ts)
	}
	return t, nil
}

// FormatFC2TS writes t as FC2's ts.
func FormatFC2TS(t time.Time) string { return t.In(JST).Format("20060102150405") }
