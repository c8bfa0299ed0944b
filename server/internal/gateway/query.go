package gateway

import (
	"net/url"
	"strings"
)

// MaxClickQueryParams is how many parameters of a click's query are read.
// Go's parser returns nothing at all past 10,000, which silently lost the
// sub-IDs and the deep link; a real click URL never has more than a few
// dozen, so the first ones are read and the click is flagged as cut.
const MaxClickQueryParams = 1000

// clickQuery parses the first MaxClickQueryParams parameters of raw and
// reports whether there were more.
func clickQuery(raw string) (url.Values, bool) {
	cut := false
	if strings.Count(raw, "&") >= MaxClickQueryParams {
		n := 0
		for i := 0; i < len(raw); i++ {
			if raw[i] == '&' {
				n++
				if n == MaxClickQueryParams {
					raw, cut = raw[:i], true
					break
				}
			}
		}
	}
	v, _ := url.ParseQuery(raw) //nolint:errcheck // what parses is kept, as URL.Query does
	return v, cut
}
