package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"connectrpc.com/connect"

	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
	"github.com/batonhq/baton/gen/go/baton/v1/batonv1connect"
)

const checkUsage = `Usage:
  baton check --url URL --key-file FILE [--publisher ID | --network ID] [--link ID] [--endpoint ID]

Runs a partner's integration check on a running Baton
(PartnerService.CheckIntegration). Upstream (--publisher): a test click
through the publisher's tracking link, then a test conversion (never paid)
posted back to its endpoints. Downstream (--network, admin key): a test click
through a link of an offer sending clicks to the network, and the network's
click URL requested once. Prints each hop and what to fix. Exits 0 when
every hop passed, 1 when one failed, 2 on a usage error.

Flags:
`

// runCheck is `baton check`: a client of a running Baton.
func runCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("baton check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, checkUsage); fs.PrintDefaults() }
	base := fs.String("url", "http://localhost:8080", "Baton's URL (its BATON_PUBLIC_URL or an address it listens on)")
	keyFile := fs.String("key-file", "", "file holding an API key (admin, or the publisher's own); - reads standard input")
	key := fs.String("key", "", "the API key itself (visible to other users of this machine: prefer --key-file)")
	publisher := fs.String("publisher", "", "the publisher (upstream partner) to check; default the key's own publisher")
	network := fs.String("network", "", "the downstream network to check instead of a publisher (admin key)")
	link := fs.String("link", "", "the tracking link to click; default the publisher's first (or the first of an offer sending clicks to the network)")
	endpoint := fs.String("endpoint", "", "only this postback endpoint; default each enabled one that takes pending conversions")
	timeout := fs.Duration("timeout", time.Minute, "how long to wait for the check")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "baton check: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	k, err := readKey(*key, *keyFile)
	if err != nil {
		fmt.Fprintf(stderr, "baton check: %v\n", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	client := batonv1connect.NewPartnerServiceClient(&http.Client{Timeout: *timeout}, strings.TrimRight(*base, "/"),
		connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
			return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
				req.Header().Set("Authorization", "Bearer "+k)
				return next(ctx, req)
			}
		})))
	res, err := client.CheckIntegration(ctx, &batonv1.CheckIntegrationRequest{PublisherId: *publisher, NetworkId: *network, LinkId: *link, EndpointId: *endpoint})
	if err != nil {
		fmt.Fprintf(stderr, "baton check: %v\n", err)
		return 1
	}
	fmt.Fprint(stdout, formatCheck(res))
	if !res.GetOk() {
		return 1
	}
	return 0
}

func readKey(key, file string) (string, error) {
	switch {
	case key != "" && file != "":
		return "", fmt.Errorf("give --key or --key-file, not both")
	case key != "":
		return key, nil
	case file == "":
		return "", fmt.Errorf("an API key is required: --key-file FILE (or - for standard input)")
	}
	var b []byte
	var err error
	if file == "-" {
		b, err = io.ReadAll(io.LimitReader(os.Stdin, 4096))
	} else {
		b, err = os.ReadFile(file)
	}
	if err != nil {
		return "", fmt.Errorf("reading the key: %w", err)
	}
	k := strings.TrimSpace(string(b))
	if k == "" {
		return "", fmt.Errorf("the key file %s is empty", file)
	}
	return k, nil
}

// formatCheck prints one line a hop, with the fix under a failed one.
func formatCheck(res *batonv1.CheckIntegrationResponse) string {
	var b strings.Builder
	for _, h := range res.GetHops() {
		mark := "ok  "
		if !h.GetOk() {
			mark = "FAIL"
		}
		name := h.GetName()
		if h.GetEndpointId() != "" {
			name += " (" + h.GetEndpointId() + ")"
		}
		fmt.Fprintf(&b, "%s %s: %s\n", mark, name, h.GetDetail())
		if h.GetFix() != "" {
			fmt.Fprintf(&b, "     fix: %s\n", h.GetFix())
		}
	}
	verdict := "every hop passed: ready to go live"
	if !res.GetOk() {
		verdict = "not ready: fix the hops marked FAIL and check again"
	}
	fmt.Fprintf(&b, "%s (test click %s; test conversions %s)\n", verdict, res.GetClickId(), strings.Join(res.GetConversionIds(), ", "))
	return b.String()
}
