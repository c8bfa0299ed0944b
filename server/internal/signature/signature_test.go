package signature

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// Vectors computed by hand from the FC2 spec: sha1(password + shopid +
// unique_id + uname + email + amount_y + amount_d + ts + recurring +
// item_code + unit_num), omitted parameters as "".
var fc2Vectors = []struct {
	password string
	f        FC2Fields
	sh       string
}{
	{"secretpw", FC2Fields{ShopID: "26", UniqueID: "100", UName: "tarou", Email: "tarou@hogehoge.com", AmountY: "1980",
		TS: "20060228185000", Recurring: "0", ItemCode: "sample1", UnitNum: "1"}, "cdfa85a2c27f3bc879b5d9b7a61bac4550a51f98"},
	{"secretpw", FC2Fields{ShopID: "26", UniqueID: "ORD-#1/2&x", AmountD: "19.99", TS: "20261122210000"}, "194e335a5ba83f9c482a83bcfa528f50fcb03eaa"},
}

func TestFC2SHVectors(t *testing.T) {
	t.Parallel()
	for _, v := range fc2Vectors {
		if got := FC2SH(v.password, v.f); got != v.sh {
			t.Errorf("FC2SH = %s, want %s", got, v.sh)
		}
		for _, sh := range []string{v.sh, v.sh[:16], strings.ToUpper(v.sh[:16])} {
			if !VerifyFC2SH([]string{"old", v.password}, v.f, sh) {
				t.Errorf("VerifyFC2SH(%s) refused", sh)
			}
		}
		for _, sh := range []string{"", v.sh[:15], v.sh[:17], v.sh[:39], "0000000000000000", v.sh[:15] + "x"} {
			if VerifyFC2SH([]string{v.password}, v.f, sh) {
				t.Errorf("VerifyFC2SH(%q) accepted", sh)
			}
		}
		other := v.f
		other.AmountY += "0"
		if VerifyFC2SH([]string{v.password}, other, v.sh) {
			t.Error("a changed amount verified")
		}
	}
}

func TestConversionHMACVector(t *testing.T) {
	t.Parallel()
	c := Conversion{RequestTime: time.Unix(1700000000, 0), ClickID: "clk", OfferID: "off_1", OrderID: "ORD-1",
		Currency: "JPY", AmountMinor: 1980, UserName: "tarou"}
	const want = "69bd7623e73026a56cad9b723104a37ad59d54c11e0f8d198d57d37b0f4852f7"
	if got := HMAC("k3y", c.Canonical()); got != want {
		t.Fatalf("HMAC = %s, want %s (canonical %q)", got, want, c.Canonical())
	}
	if !VerifyHMAC([]string{"x", "k3y"}, c.Canonical(), want) || VerifyHMAC([]string{"x"}, c.Canonical(), want) {
		t.Fatal("VerifyHMAC")
	}
}

func TestFresh(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	if err := Fresh(now.Add(-59*time.Minute), now, time.Hour); err != nil {
		t.Error(err)
	}
	if err := Fresh(now.Add(-61*time.Minute), now, time.Hour); !errors.Is(err, ErrStale) {
		t.Errorf("61 minutes old: %v", err)
	}
	if err := Fresh(now.Add(10*time.Minute), now, time.Hour); !errors.Is(err, ErrFuture) {
		t.Errorf("future: %v", err)
	}
	ts, err := ParseFC2TS("20261122210000")
	if err != nil || !ts.Equal(now) || FormatFC2TS(now) != "20261122210000" {
		t.Errorf("FC2 ts (Japan time): %v %v %s", ts, err, FormatFC2TS(now))
	}
	for _, bad := range []string{"", "2026112221000", "20261322210000", "2026-11-22 21:00"} {
		if _, err := ParseFC2TS(bad); err == nil {
			t.Errorf("ParseFC2TS(%q) accepted", bad)
		}
	}
}
