package rpc

import (
	"strings"
	"testing"

	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
	"github.com/batonhq/baton/server/internal/domain"
)

// The refusal codes are one closed set: every code Baton logs has the
// contract's enum value of the same name, and every enum value is a code.
func TestRefusalCodesMatchTheContract(t *testing.T) {
	seen := map[batonv1.RefusalCode]domain.RefusalCode{}
	for _, c := range domain.RefusalCodes {
		v := refusalCodes[c]
		if v == batonv1.RefusalCode_REFUSAL_CODE_UNSPECIFIED {
			t.Errorf("code %q has no REFUSAL_CODE_%s in the contract", c, strings.ToUpper(string(c)))
			continue
		}
		if prev, dup := seen[v]; dup {
			t.Errorf("codes %q and %q map to %v", prev, c, v)
		}
		seen[v] = c
		if got := strings.ToLower(strings.TrimPrefix(v.String(), "REFUSAL_CODE_")); got != string(c) {
			t.Errorf("code %q maps to %v", c, v)
		}
	}
	for n, v := range batonv1.RefusalCode_value {
		if v != 0 {
			if _, ok := seen[batonv1.RefusalCode(v)]; !ok {
				t.Errorf("the contract's %s is not a refusal code Baton uses", n)
			}
		}
	}
}
