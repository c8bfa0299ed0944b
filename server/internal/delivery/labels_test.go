package delivery

import (
	"fmt"
	"testing"
)

// TestEndpointLabelIsBounded: however many endpoints there are, the attempt
// counter's endpoint label takes at most max+1 values (the IDs first seen,
// then "other"), and an endpoint keeps the label it got.
func TestEndpointLabelIsBounded(t *testing.T) {
	l := newEndpointLabels(3)
	seen := map[string]bool{}
	for i := range 1000 {
		seen[l.label(fmt.Sprintf("pbe_%d", i))] = true
	}
	if len(seen) != 4 || !seen[OtherEndpoint] || !seen["pbe_0"] || !seen["pbe_2"] {
		t.Fatalf("labels %v: want pbe_0..pbe_2 and other", seen)
	}
	if got := l.label("pbe_1"); got != "pbe_1" {
		t.Errorf("an endpoint with a label of its own now gets %q", got)
	}
	if got := newEndpointLabels(0).max; got != DefaultMetricEndpoints {
		t.Errorf("default cap %d", got)
	}
}
