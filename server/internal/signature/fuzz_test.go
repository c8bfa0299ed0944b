package signature

import (
	"testing"
)

// FuzzFC2: parsing any ts never panics and round-trips; sh verification
// accepts exactly the signature computed for the fields (40 or 16
// characters) and nothing computed for other fields.
func FuzzFC2(f *testing.F) {
	f.Add("pw", "26", "100", "tarou", "1980", "20061122185000", "cdfa85a2c27f3bc8")
	f.Add("", "", "", "", "", "", "")
	f.Add("secret", "1", "A&B=C", "", "0", "99999999999999", "zz")
	f.Fuzz(func(t *testing.T, password, shop, unique, uname, amount, ts, sh string) {
		if when, err := ParseFC2TS(ts); err == nil && FormatFC2TS(when) != ts {
			t.Fatalf("ParseFC2TS(%q) does not round-trip: %q", ts, FormatFC2TS(when))
		}
		fields := FC2Fields{ShopID: shop, UniqueID: unique, UName: uname, AmountY: amount, TS: ts}
		want := FC2SH(password, fields)
		if !VerifyFC2SH([]string{password}, fields, want) || !VerifyFC2SH([]string{password}, fields, want[:16]) {
			t.Fatal("the computed sh does not verify")
		}
		if sh != want && sh != want[:16] && VerifyFC2SH([]string{password}, fields, sh) {
			t.Fatalf("sh %q verified for fields whose sh is %s", sh, want)
		}
		other := fields
		other.AmountY += "1"
		if VerifyFC2SH([]string{password}, other, want) {
			t.Fatal("a changed amount verified")
		}
	})
}
