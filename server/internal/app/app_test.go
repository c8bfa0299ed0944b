package app_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpcreflect"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	validatepb "buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"

	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
	"github.com/batonhq/baton/gen/go/baton/v1/batonv1connect"
	"github.com/batonhq/baton/server/internal/app"
	"github.com/batonhq/baton/server/internal/config"
	"github.com/batonhq/baton/server/internal/testdb"
	"github.com/batonhq/baton/server/internal/testwait"
)

func TestMain(m *testing.M) { os.Exit(testdb.Main(m)) }

const adminKey = "test-admin-key-0123456789"

type testServer struct {
	url    string
	db     string       // the database's URL, for counting what was written
	stop   func() error // cancels Serve and returns its error
	client *http.Client
}

// start runs a full Baton (real database, real listener) with demo data.
func start(t testing.TB, mutate ...func(*config.Config)) *testServer {
	t.Helper()
	return startFull(t, nil, nil, mutate...)
}

// startLogged is start with the server's log written to w as JSON lines
// (nil: discarded, or to stderr with -v).
func startLogged(t testing.TB, w io.Writer, mutate ...func(*config.Config)) *testServer {
	t.Helper()
	return startFull(t, w, nil, mutate...)
}

// startWith is start with app options (an injected clock...).
func startWith(t testing.TB, opts []app.Option, mutate ...func(*config.Config)) *testServer {
	t.Helper()
	return startFull(t, nil, opts, mutate...)
}

func startFull(t testing.TB, w io.Writer, opts []app.Option, mutate ...func(*config.Config)) *testServer {
	t.Helper()
	cfg, err := config.Load(nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg.DatabaseURL = testdb.URL(t)
	cfg.DataDir = t.TempDir()
	cfg.AdminKey = adminKey
	cfg.MaxBodyBytes = 64 << 10
	cfg.ShutdownTimeout = 10 * time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Addr = ln.Addr().String()
	cfg.PublicURL = "http://" + ln.Addr().String()
	for _, m := range mutate {
		m(&cfg)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if w != nil {
		log = slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ctx := context.Background()
	db, err := app.OpenDatabase(ctx, cfg, log, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close(context.Background()) })
	if cfg.DatabaseURL == "" { // the embedded cluster's
		cfg.DatabaseURL = db.Store.ConnString()
	}
	if _, err := app.Bootstrap(ctx, cfg, db.Store); err != nil {
		t.Fatal(err)
	}
	if err := app.SeedDemo(ctx, db.Store, io.Discard); err != nil {
		t.Fatal(err)
	}
	srv, err := app.New(cfg, log, db, opts...)
	if err != nil {
		t.Fatal(err)
	}
	serveCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(serveCtx, ln) }()
	var stopped bool
	var stopErr error
	stop := func() error {
		if !stopped {
			stopped = true
			cancel()
			stopErr = <-done
		}
		return stopErr
	}
	t.Cleanup(func() { _ = stop() })
	if cfg.TLSCert != "" {
		// The test's own calls go to its own server by IP, not by the
		// certificate's name: no verification (test only).
		return &testServer{url: "https://" + ln.Addr().String(), db: cfg.DatabaseURL, stop: stop, client: &http.Client{Timeout: 10 * time.Second,
			Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}}
	}
	return &testServer{url: "http://" + ln.Addr().String(), db: cfg.DatabaseURL, stop: stop, client: &http.Client{Timeout: 10 * time.Second}}
}

// h2cClient speaks HTTP/2 without TLS, for gRPC.
func h2cClient() *http.Client {
	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: &protocols}}
}

func withKey(key string) connect.ClientOption {
	return connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			if key != "" {
				req.Header().Set("Authorization", "Bearer "+key)
			}
			return next(ctx, req)
		}
	}))
}

func (s *testServer) config(key string, opts ...connect.ClientOption) batonv1connect.ConfigServiceClient {
	return batonv1connect.NewConfigServiceClient(s.client, s.url, append(opts, withKey(key))...)
}

func TestEveryProtocolOnOnePort(t *testing.T) {
	t.Parallel()
	s := start(t)
	ctx := context.Background()
	for name, c := range map[string]batonv1connect.ConfigServiceClient{
		"connect+proto": s.config(adminKey),
		"connect+json":  s.config(adminKey, connect.WithProtoJSON()),
		"grpc":          batonv1connect.NewConfigServiceClient(h2cClient(), s.url, connect.WithGRPC(), withKey(adminKey)),
		"grpc-web":      s.config(adminKey, connect.WithGRPCWeb()),
	} {
		res, err := c.WhoAmI(ctx, &batonv1.WhoAmIRequest{})
		if err != nil {
			t.Fatalf("%s: WhoAmI: %v", name, err)
		}
		if res.GetKey().GetRole() != batonv1.Role_ROLE_ADMIN {
			t.Errorf("%s: role = %v, want admin", name, res.GetKey().GetRole())
		}
	}
}

func TestHealthAndReflectionNeedNoKey(t *testing.T) {
	t.Parallel()
	s := start(t)
	ctx := context.Background()

	refl := grpcreflect.NewClient(h2cClient(), s.url, connect.WithGRPC())
	stream := refl.NewStream(ctx)
	names, err := stream.ListServices()
	if err != nil {
		t.Fatalf("reflection ListServices: %v", err)
	}
	_, _ = stream.Close()
	var got []string
	for _, n := range names {
		got = append(got, string(n))
	}
	for _, want := range append(slices.Clone(app.ServiceNames), "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection") {
		if !slices.Contains(got, want) {
			t.Errorf("reflection lists %v; %s missing", got, want)
		}
	}

	// grpc.health.v1 over the Connect protocol with JSON, as curl would.
	res, err := http.Post(s.url+"/grpc.health.v1.Health/Check", "application/json", strings.NewReader(`{"service":"baton.v1.ConfigService"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), "SERVING") {
		t.Fatalf("health check: %d %s", res.StatusCode, body)
	}
}

// post sends raw bytes to an RPC path and returns the status, the Connect
// error code (if any) and the body.
func (s *testServer) post(t testing.TB, path, contentType, key string, body io.Reader) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.url+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var e struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	_ = json.Unmarshal(b, &e)
	return res.StatusCode, e.Code, string(b)
}

func TestBadInputGetsTheRightCodeAndTheServerKeepsServing(t *testing.T) {
	t.Parallel()
	s := start(t)
	const whoami = "/baton.v1.ConfigService/WhoAmI"
	const getPub = "/baton.v1.ConfigService/GetPublisher"
	const createPub = "/baton.v1.ConfigService/CreatePublisher"
	cases := []struct {
		name, path, contentType, key, body string
		wantStatus                         int
		wantCode                           string
		wantInBody                         string
	}{
		{"malformed JSON", createPub, "application/json", adminKey, `{"name": "x",`, 400, "invalid_argument", "unmarshal"},
		{"JSON of the wrong shape", createPub, "application/json", adminKey, `{"name": 12}`, 400, "invalid_argument", "name"},
		{"wrong content type", whoami, "text/plain", adminKey, `{}`, 415, "", ""},
		{"oversized body", createPub, "application/json", adminKey, `{"name":"` + strings.Repeat("x", 100<<10) + `"}`, 413, "resource_exhausted", "request body too large"},
		{"unknown method", "/baton.v1.ConfigService/NoSuchMethod", "application/json", adminKey, `{}`, 404, "", ""},
		{"unknown service", "/baton.v1.NoSuchService/Get", "application/json", adminKey, `{}`, 404, "", ""},
		{"missing key", whoami, "application/json", "", `{}`, 401, "unauthenticated", "missing API key"},
		{"wrong key", whoami, "application/json", "bk_not_a_key_of_this_server", `{}`, 401, "unauthenticated", "unknown or revoked"},
		{"another partner's data", getPub, "application/json", app.DemoPublisherKey, `{"id":"` + app.DemoPublisher2ID + `"}`, 403, "permission_denied", "its own publisher"},
		{"publisher creating publishers", createPub, "application/json", app.DemoPublisherKey, `{"name":"x","kind":"PUBLISHER_KIND_MEDIA"}`, 403, "permission_denied", "admin"},
		{"invalid field", createPub, "application/json", adminKey, `{"name":"","kind":"PUBLISHER_KIND_MEDIA"}`, 400, "invalid_argument", `"fieldName":"name"`},
		{"undefined enum", createPub, "application/json", adminKey, `{"name":"x","kind":7}`, 400, "invalid_argument", "kind"},
		{"not found", getPub, "application/json", adminKey, `{"id":"pub_nope"}`, 404, "not_found", `publisher \"pub_nope\"`},
	}
	for _, tc := range cases {
		status, code, body := s.post(t, tc.path, tc.contentType, tc.key, strings.NewReader(tc.body))
		if status != tc.wantStatus || code != tc.wantCode || !strings.Contains(body, tc.wantInBody) {
			t.Errorf("%s: got %d %q %s; want %d %q containing %q", tc.name, status, code, body, tc.wantStatus, tc.wantCode, tc.wantInBody)
		}
		// The server keeps serving after each.
		if status, code, body := s.post(t, whoami, "application/json", adminKey, strings.NewReader(`{}`)); status != 200 {
			t.Fatalf("after %s: WhoAmI got %d %s %s", tc.name, status, code, body)
		}
	}
}

func violationFields(t testing.TB, err error) []string {
	t.Helper()
	var cerr *connect.Error
	if !errors.As(err, &cerr) {
		t.Fatalf("error %v is not a Connect error", err)
	}
	var fields []string
	for _, d := range cerr.Details() {
		v, derr := d.Value()
		if derr != nil {
			continue
		}
		if vs, ok := v.(*validatepb.Violations); ok {
			for _, vi := range vs.GetViolations() {
				var parts []string
				for _, e := range vi.GetField().GetElements() {
					parts = append(parts, e.GetFieldName())
				}
				fields = append(fields, strings.Join(parts, "."))
			}
		}
	}
	return fields
}

func TestValidationNamesTheField(t *testing.T) {
	t.Parallel()
	s := start(t)
	c := s.config(adminKey)
	ctx := context.Background()
	cases := []struct {
		name  string
		call  func() error
		field string
	}{
		{"offer with a relative landing URL", func() error {
			_, err := c.CreateOffer(ctx, &batonv1.CreateOfferRequest{AdvertiserId: app.DemoAdvertiserID, Name: "x", LandingUrl: "/lp",
				Payout: &batonv1.Payout{Kind: &batonv1.Payout_PercentBps{PercentBps: 100}}})
			return err
		}, "landing_url"},
		{"offer without payout", func() error {
			_, err := c.CreateOffer(ctx, &batonv1.CreateOfferRequest{AdvertiserId: app.DemoAdvertiserID, Name: "x", LandingUrl: "https://a.example/"})
			return err
		}, "payout"},
		{"payout over 100%", func() error {
			_, err := c.CreateOffer(ctx, &batonv1.CreateOfferRequest{AdvertiserId: app.DemoAdvertiserID, Name: "x", LandingUrl: "https://a.example/",
				Payout: &batonv1.Payout{Kind: &batonv1.Payout_PercentBps{PercentBps: 10001}}})
			return err
		}, "payout.percent_bps"},
		{"admin key with a partner (CEL across fields)", func() error {
			_, err := c.CreateApiKey(ctx, &batonv1.CreateApiKeyRequest{Name: "x", Role: batonv1.Role_ROLE_ADMIN, PartnerId: "pub_demo"})
			return err
		}, ""},
		{"publisher key for a publisher that does not exist", func() error {
			_, err := c.CreateApiKey(ctx, &batonv1.CreateApiKeyRequest{Name: "x", Role: batonv1.Role_ROLE_PUBLISHER, PartnerId: "pub_nope"})
			return err
		}, "partner_id"},
		{"override for an unknown publisher", func() error {
			_, err := c.CreateOffer(ctx, &batonv1.CreateOfferRequest{AdvertiserId: app.DemoAdvertiserID, Name: "x", LandingUrl: "https://a.example/",
				Payout:          &batonv1.Payout{Kind: &batonv1.Payout_PercentBps{PercentBps: 100}},
				PayoutOverrides: []*batonv1.PayoutOverride{{PublisherId: "pub_nope", Payout: &batonv1.Payout{Kind: &batonv1.Payout_PercentBps{PercentBps: 1}}}}})
			return err
		}, "payout_overrides.publisher_id"},
		{"update that makes the offer invalid", func() error {
			_, err := c.UpdateOffer(ctx, &batonv1.UpdateOfferRequest{Offer: &batonv1.Offer{Id: app.DemoOfferID, LandingUrl: "ftp://x"},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"landing_url"}}})
			return err
		}, "offer.landing_url"},
		{"update of a read-only field", func() error {
			_, err := c.UpdateOffer(ctx, &batonv1.UpdateOfferRequest{Offer: &batonv1.Offer{Id: app.DemoOfferID, AdvertiserId: "adv_x"},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"advertiser_id"}}})
			return err
		}, ""},
		{"bad page token", func() error {
			_, err := c.ListPublishers(ctx, &batonv1.ListPublishersRequest{PageToken: "garbage"})
			return err
		}, "page_token"},
	}
	for _, tc := range cases {
		err := tc.call()
		if connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Errorf("%s: code %v (%v), want invalid_argument", tc.name, connect.CodeOf(err), err)
			continue
		}
		if fields := violationFields(t, err); tc.field != "" && !slices.Contains(fields, tc.field) {
			t.Errorf("%s: violations name %v, want %q (%v)", tc.name, fields, tc.field, err)
		}
	}
}

func TestAPublisherSeesOnlyItsOwnData(t *testing.T) {
	t.Parallel()
	s := start(t)
	ctx := context.Background()
	admin := s.config(adminKey)
	pub := s.config(app.DemoPublisherKey)

	// An offer with an override for each demo publisher.
	_, err := admin.UpdateOffer(ctx, &batonv1.UpdateOfferRequest{
		Offer: &batonv1.Offer{Id: app.DemoOfferID, PayoutOverrides: []*batonv1.PayoutOverride{
			{PublisherId: app.DemoPublisherID, Payout: &batonv1.Payout{Kind: &batonv1.Payout_PercentBps{PercentBps: 700}}},
			{PublisherId: app.DemoPublisher2ID, Payout: &batonv1.Payout{Kind: &batonv1.Payout_PercentBps{PercentBps: 900}}},
		}},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"payout_overrides"}},
	})
	if err != nil {
		t.Fatal(err)
	}

	if _, err := pub.GetPublisher(ctx, &batonv1.GetPublisherRequest{Id: app.DemoPublisherID}); err != nil {
		t.Fatalf("own publisher: %v", err)
	}
	if _, err := pub.GetPublisher(ctx, &batonv1.GetPublisherRequest{Id: app.DemoPublisher2ID}); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Fatalf("other publisher: %v, want permission_denied", err)
	}
	list, err := pub.ListPublishers(ctx, &batonv1.ListPublishersRequest{})
	if err != nil || len(list.GetPublishers()) != 1 || list.GetPublishers()[0].GetId() != app.DemoPublisherID {
		t.Fatalf("ListPublishers as publisher = %v, %v; want only its own", list, err)
	}
	offer, err := pub.GetOffer(ctx, &batonv1.GetOfferRequest{Id: app.DemoOfferID})
	if err != nil {
		t.Fatal(err)
	}
	if ovs := offer.GetOffer().GetPayoutOverrides(); len(ovs) != 1 || ovs[0].GetPublisherId() != app.DemoPublisherID {
		t.Fatalf("publisher sees overrides %v; want only its own", ovs)
	}
	if _, err := pub.ListSites(ctx, &batonv1.ListSitesRequest{PublisherId: app.DemoPublisher2ID}); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Fatalf("other publisher's sites: %v, want permission_denied", err)
	}
	keys, err := pub.ListApiKeys(ctx, &batonv1.ListApiKeysRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys.GetApiKeys() {
		if k.GetPartnerId() != app.DemoPublisherID {
			t.Fatalf("publisher lists key %v of another partner", k)
		}
	}
	if _, err := pub.CreateApiKey(ctx, &batonv1.CreateApiKeyRequest{Name: "x", Role: batonv1.Role_ROLE_PUBLISHER, PartnerId: app.DemoPublisher2ID}); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Fatalf("key for another publisher: %v, want permission_denied", err)
	}
	// The advertiser cannot read publishers or other advertisers.
	adv := s.config(app.DemoAdvertiserKey)
	if _, err := adv.GetPublisher(ctx, &batonv1.GetPublisherRequest{Id: app.DemoPublisherID}); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Fatalf("advertiser reading a publisher: %v", err)
	}
}

func TestKeysAndSecrets(t *testing.T) {
	t.Parallel()
	s := start(t)
	ctx := context.Background()
	admin := s.config(adminKey)

	created, err := admin.CreateApiKey(ctx, &batonv1.CreateApiKeyRequest{Name: "ci", Role: batonv1.Role_ROLE_PUBLISHER, PartnerId: app.DemoPublisherID})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(created.GetKey(), "bk_") || len(created.GetKey()) < 40 {
		t.Fatalf("new key %q", created.GetKey())
	}
	fresh := s.config(created.GetKey())
	who, err := fresh.WhoAmI(ctx, &batonv1.WhoAmIRequest{})
	if err != nil || who.GetKey().GetPartnerId() != app.DemoPublisherID || who.GetKey().GetRole() != batonv1.Role_ROLE_PUBLISHER {
		t.Fatalf("WhoAmI with the new key = %v, %v", who, err)
	}
	if _, err := admin.RevokeApiKey(ctx, &batonv1.RevokeApiKeyRequest{Id: created.GetApiKey().GetId()}); err != nil {
		t.Fatal(err)
	}
	if _, err := fresh.WhoAmI(ctx, &batonv1.WhoAmIRequest{}); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("revoked key: %v, want unauthenticated", err)
	}

	adv, err := admin.CreateAdvertiser(ctx, &batonv1.CreateAdvertiserRequest{Name: "Shop", RegisteredHosts: []string{"203.0.113.7"}})
	if err != nil {
		t.Fatal(err)
	}
	if adv.GetSecret() == "" || strings.Contains(adv.GetAdvertiser().GetSecretHint(), adv.GetSecret()[:8]) {
		t.Fatalf("secret %q, hint %q", adv.GetSecret(), adv.GetAdvertiser().GetSecretHint())
	}
	rot, err := admin.RotateAdvertiserSecret(ctx, &batonv1.RotateAdvertiserSecretRequest{Id: adv.GetAdvertiser().GetId(), Overlap: durationpb.New(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if rot.GetSecret() == adv.GetSecret() || rot.GetPreviousSecretExpireTime().AsTime().Before(time.Now().Add(59*time.Minute)) {
		t.Fatalf("rotation: %v", rot)
	}
}

func TestPagination(t *testing.T) {
	t.Parallel()
	s := start(t)
	ctx := context.Background()
	admin := s.config(adminKey)
	for i := range 5 {
		if _, err := admin.CreatePublisher(ctx, &batonv1.CreatePublisherRequest{Name: "p" + string(rune('a'+i)), Kind: batonv1.PublisherKind_PUBLISHER_KIND_NETWORK}); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	token := ""
	pages := 0
	for {
		res, err := admin.ListPublishers(ctx, &batonv1.ListPublishersRequest{PageSize: 2, PageToken: token, Kind: batonv1.PublisherKind_PUBLISHER_KIND_NETWORK})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, p := range res.GetPublishers() {
			names = append(names, p.GetName())
		}
		token = res.GetNextPageToken()
		if token == "" {
			break
		}
	}
	// Every publisher exactly once, over three pages (IDs made in the same
	// millisecond may sort either way, so the order is not checked).
	slices.Sort(names)
	if pages != 3 || strings.Join(names, ",") != "pa,pb,pc,pd,pe" {
		t.Fatalf("%d pages: %v", pages, names)
	}
}

func TestGracefulShutdownFinishesInFlightRequests(t *testing.T) {
	t.Parallel()
	s := start(t)
	// A raw connection, so we know the headers and half the body have
	// reached the server (no client-side buffering) before it is stopped.
	addr := strings.TrimPrefix(s.url, "http://")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"name":"in flight","kind":"PUBLISHER_KIND_MEDIA"}`
	// Expect: 100-continue is the server's signal: it answers "100
	// Continue" when the handler starts reading the body.
	head := "POST /baton.v1.ConfigService/CreatePublisher HTTP/1.1\r\nHost: baton\r\nContent-Type: application/json\r\n" +
		"Authorization: Bearer " + adminKey + "\r\nContent-Length: " + fmt.Sprint(len(body)) + "\r\nExpect: 100-continue\r\n\r\n"
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	rd := bufio.NewReader(conn)
	if line, err := rd.ReadString('\n'); err != nil || !strings.HasPrefix(line, "HTTP/1.1 100 ") {
		t.Fatalf("before the body: %q %v, want 100 Continue", line, err)
	}
	if line, err := rd.ReadString('\n'); err != nil || line != "\r\n" {
		t.Fatalf("after 100 Continue: %q %v", line, err)
	}
	if _, err := io.WriteString(conn, body[:20]); err != nil {
		t.Fatal(err)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- s.stop() }()
	// Shutdown has begun once the listener refuses new connections; the
	// in-flight request must still hold it open.
	testwait.Until(t, 15*time.Second, "the listener closes at shutdown", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	select {
	case err := <-stopped:
		t.Fatalf("server stopped (%v) before the in-flight request finished", err)
	default:
	}
	if _, err := io.WriteString(conn, body[20:]); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(rd, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(got), "in flight") {
		t.Fatalf("in-flight request: %d %s", res.StatusCode, got)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("Serve returned %v after a graceful stop", err)
	}
	// New connections are refused now.
	if _, err := http.Post(s.url+"/healthz", "text/plain", bytes.NewReader(nil)); err == nil {
		t.Fatal("server still accepts connections after shutdown")
	}
}
