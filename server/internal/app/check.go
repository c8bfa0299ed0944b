package app

import (
	"context"
	"io"
	"net/http"
	"time"

	"github.com/batonhq/baton/server/internal/delivery"
	"github.com/batonhq/baton/server/internal/service"
)

// checkClicker requests a URL once for an integration check, as a browser
// would, without following the redirect: Baton's own tracking link (c nil:
// a plain client), or a partner's click URL (c: the guarded postback
// client, which refuses private addresses).
func checkClicker(c *http.Client) service.CheckClicker {
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	// The trace context travels (traceparent), but no client span records
	// the URL: a partner's click URL may carry its credentials.
	c = delivery.Propagating(c)
	return func(ctx context.Context, url string) (int, string, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return 0, "", err
		}
		req.Header.Set("User-Agent", "Baton-IntegrationCheck/1")
		res, err := c.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer res.Body.Close()
		_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
		return res.StatusCode, res.Header.Get("Location"), nil
	}
}
