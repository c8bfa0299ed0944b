package app_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	batonv1 "github.com/batonhq/baton/gen/go/baton/v1"
	"github.com/batonhq/baton/server/internal/app"
	"github.com/batonhq/baton/server/internal/proof"
)

// hostileStrings are SQL metacharacters and LIKE wildcards: a query built by
// concatenation would break or widen on them.
var hostileStrings = append(append([]string{}, sqlish...),
	`%`, `_%_`, `\`, `x' OR 'x'='x`, "a\x00b", `'); DELETE FROM conversions WHERE ('1'='1`)

// stringFieldPaths lists every string field reachable from md (through
// singular and repeated message fields, up to depth levels), as paths of
// field descriptors. Map fields are skipped.
func stringFieldPaths(md protoreflect.MessageDescriptor, depth int) [][]protoreflect.FieldDescriptor {
	var out [][]protoreflect.FieldDescriptor
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		switch {
		case fd.IsMap():
		case fd.Kind() == protoreflect.StringKind:
			out = append(out, []protoreflect.FieldDescriptor{fd})
		case fd.Kind() == protoreflect.MessageKind && !fd.IsList() && depth > 0:
			if name := fd.Message().FullName(); strings.HasPrefix(string(name), "google.protobuf.") && name != "google.protobuf.FieldMask" {
				continue
			}
			for _, sub := range stringFieldPaths(fd.Message(), depth-1) {
				out = append(out, append([]protoreflect.FieldDescriptor{fd}, sub...))
			}
		}
	}
	return out
}

// setPath sets the string field at path (appending to a repeated one).
func setPath(m protoreflect.Message, path []protoreflect.FieldDescriptor, v string) {
	for _, fd := range path[:len(path)-1] {
		m = m.Mutable(fd).Message()
	}
	fd := path[len(path)-1]
	if fd.IsList() {
		m.Mutable(fd).List().Append(protoreflect.ValueOfString(v))
		return
	}
	m.Set(fd, protoreflect.ValueOfString(v))
}

func pathName(path []protoreflect.FieldDescriptor) string {
	var parts []string
	for _, fd := range path {
		parts = append(parts, string(fd.Name()))
	}
	return strings.Join(parts, ".")
}

// holds reports whether any string in m (at any depth) equals v.
func holds(m protoreflect.Message, v string) bool {
	found := false
	m.Range(func(fd protoreflect.FieldDescriptor, val protoreflect.Value) bool {
		switch {
		case fd.IsMap():
		case fd.IsList():
			l := val.List()
			for i := range l.Len() {
				if fd.Kind() == protoreflect.StringKind && l.Get(i).String() == v ||
					fd.Kind() == protoreflect.MessageKind && holds(l.Get(i).Message(), v) {
					found = true
				}
			}
		case fd.Kind() == protoreflect.StringKind:
			found = found || val.String() == v
		case fd.Kind() == protoreflect.MessageKind:
			found = found || holds(val.Message(), v)
		}
		return !found
	})
	return found
}

// TestHostileSQLInEveryStringField puts each hostile string into every
// string field of every RPC's request (walked by reflection, nested messages
// included), starting from a request that succeeds for the methods that
// write. No call may answer a server error; what is accepted and echoed
// back must come back verbatim; afterwards every table is there, the demo
// keys still work, and a revoked key is still revoked.
func TestHostileSQLInEveryStringField(t *testing.T) {
	t.Parallel()
	e := newConvEnv(t, &batonv1.CreateOfferRequest{})
	ctx := context.Background()
	clickID := e.clickID(t, "param1=sql")
	conv := mustOK(e.adv.RecordConversion(ctx, &batonv1.RecordConversionRequest{ClickId: clickID, OrderId: "SQL-BASE", AmountJpy: yen(100)}))(t)
	revoked := mustOK(e.clickEnv.admin.CreateApiKey(ctx, &batonv1.CreateApiKeyRequest{Name: "revoked", Role: batonv1.Role_ROLE_PUBLISHER, PartnerId: app.DemoPublisherID}))(t)
	mustOK(e.clickEnv.admin.RevokeApiKey(ctx, &batonv1.RevokeApiKeyRequest{Id: revoked.GetApiKey().GetId()}))(t)
	mask := func(p ...string) *fieldmaskpb.FieldMask { return &fieldmaskpb.FieldMask{Paths: p} }
	bps := &batonv1.Payout{Kind: &batonv1.Payout_PercentBps{PercentBps: 100}}
	pending := []batonv1.PostbackEvent{batonv1.PostbackEvent_POSTBACK_EVENT_PENDING}
	// Requests that succeed as they are (i numbers each so none collides).
	bases := map[string]func(i int) proto.Message{
		"CreatePublisher": func(i int) proto.Message {
			return &batonv1.CreatePublisherRequest{Name: "p", Kind: batonv1.PublisherKind_PUBLISHER_KIND_MEDIA}
		},
		"UpdatePublisher": func(i int) proto.Message {
			return &batonv1.UpdatePublisherRequest{Publisher: &batonv1.Publisher{Id: app.DemoPublisher2ID, Name: "p2"}, UpdateMask: mask("name")}
		},
		"CreateSite": func(i int) proto.Message {
			return &batonv1.CreateSiteRequest{PublisherId: app.DemoPublisherID, Name: "s", Url: "https://site.example/"}
		},
		"CreateAdvertiser": func(i int) proto.Message { return &batonv1.CreateAdvertiserRequest{Name: "a"} },
		"UpdateAdvertiser": func(i int) proto.Message {
			return &batonv1.UpdateAdvertiserRequest{Advertiser: &batonv1.Advertiser{Id: app.DemoAdvertiserID, Name: "shop"}, UpdateMask: mask("name")}
		},
		"CreateOffer": func(i int) proto.Message {
			return &batonv1.CreateOfferRequest{AdvertiserId: app.DemoAdvertiserID, Name: "o", LandingUrl: "https://shop.example/lp", Payout: bps}
		},
		"UpdateOffer": func(i int) proto.Message {
			return &batonv1.UpdateOfferRequest{Offer: &batonv1.Offer{Id: app.DemoOfferID, Name: "o"}, UpdateMask: mask("name")}
		},
		"CreateNetwork": func(i int) proto.Message { return &batonv1.CreateNetworkRequest{Name: "n"} },
		"CreateApiKey": func(i int) proto.Message {
			return &batonv1.CreateApiKeyRequest{Name: "k", Role: batonv1.Role_ROLE_PUBLISHER, PartnerId: app.DemoPublisherID}
		},
		"CreateTrackingLink": func(i int) proto.Message {
			return &batonv1.CreateTrackingLinkRequest{OfferId: app.DemoOfferID, PublisherId: app.DemoPublisherID}
		},
		"RecordClick": func(i int) proto.Message {
			return &batonv1.RecordClickRequest{LinkId: e.link.GetId(), Ip: "203.0.113.1", UserAgent: browserUA}
		},
		"RecordConversion": func(i int) proto.Message {
			return &batonv1.RecordConversionRequest{ClickId: clickID, OrderId: fmt.Sprintf("SQL-%d", i), AmountJpy: yen(100)}
		},
		"BuildFc2Tag": func(i int) proto.Message {
			return &batonv1.BuildFc2TagRequest{AdvertiserId: app.DemoAdvertiserID, UniqueId: "u", AmountY: proto.Int64(1), Format: batonv1.Fc2TagFormat_FC2_TAG_FORMAT_IMAGE}
		},
		"CreatePostbackEndpoint": func(i int) proto.Message {
			return &batonv1.CreatePostbackEndpointRequest{PublisherId: app.DemoPublisherID, UrlTemplate: "https://pb.example/?o={order_id}", Events: pending,
				Method: batonv1.PostbackMethod_POSTBACK_METHOD_GET}
		},
		"RenderPostback": func(i int) proto.Message {
			return &batonv1.RenderPostbackRequest{UrlTemplate: "https://pb.example/?o={order_id}", ConversionId: conv.GetConversion().GetId()}
		},
		"ExplainConversion": func(i int) proto.Message {
			return &batonv1.ExplainConversionRequest{ConversionId: conv.GetConversion().GetId()}
		},
	}
	files := []protoreflect.FileDescriptor{batonv1.File_baton_v1_config_proto, batonv1.File_baton_v1_click_proto,
		batonv1.File_baton_v1_conversion_proto, batonv1.File_baton_v1_attribution_proto, batonv1.File_baton_v1_postback_proto}
	call := func(method protoreflect.MethodDescriptor, req proto.Message) (int, string, protoreflect.Message) {
		body, err := proto.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		path := fmt.Sprintf("/%s/%s", method.Parent().FullName(), method.Name())
		r, _ := http.NewRequest(http.MethodPost, e.url+path, bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/proto")
		r.Header.Set("Authorization", "Bearer "+adminKey)
		res, err := e.client.Do(r)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK {
			var ce struct{ Code string }
			_ = json.Unmarshal(b, &ce)
			return res.StatusCode, ce.Code, nil
		}
		mt, err := protoregistry.GlobalTypes.FindMessageByName(method.Output().FullName())
		if err != nil {
			t.Fatal(err)
		}
		out := mt.New()
		if err := proto.Unmarshal(b, out.Interface()); err != nil {
			t.Fatalf("%s: answer: %v", path, err)
		}
		return 200, "", out
	}
	newRequest := func(method protoreflect.MethodDescriptor, i int) proto.Message {
		if base, ok := bases[string(method.Name())]; ok {
			return base(i)
		}
		mt, err := protoregistry.GlobalTypes.FindMessageByName(method.Input().FullName())
		if err != nil {
			t.Fatal(err)
		}
		return mt.New().Interface()
	}

	tried, lost, echoed, fields, methods := 0, 0, 0, 0, 0
	codes := map[string]int{}
	echoedBy := map[string]int{}
	i := 0
	for _, f := range files {
		for si := range f.Services().Len() {
			svc := f.Services().Get(si)
			for mi := range svc.Methods().Len() {
				method := svc.Methods().Get(mi)
				methods++
				if _, ok := bases[string(method.Name())]; ok {
					// The base must succeed, or the hostile values would be
					// refused for another reason and prove nothing.
					i++
					if status, code, _ := call(method, newRequest(method, i)); status != 200 {
						t.Fatalf("%s: base request refused: %d %s", method.Name(), status, code)
					}
				}
				writes := strings.HasPrefix(string(method.Name()), "Create") || strings.HasPrefix(string(method.Name()), "Update") ||
					strings.HasPrefix(string(method.Name()), "Record")
				for _, path := range stringFieldPaths(method.Input(), 3) {
					fields++
					for _, v := range hostileStrings {
						i++
						tried++
						req := newRequest(method, i)
						setPath(req.ProtoReflect(), path, v)
						status, code, out := call(method, req)
						if status >= 500 || code == "internal" || code == "unknown" || code == "unavailable" || code == "data_loss" {
							lost++
							t.Errorf("%s %s=%q: %d %s", method.Name(), pathName(path), v, status, code)
							continue
						}
						if status != 200 {
							codes[code]++
							continue
						}
						codes["ok"]++
						if writes && holds(out, v) {
							echoed++
							echoedBy[string(method.Name())]++
						}
					}
				}
			}
		}
	}
	// The values reached storage: every writing method with a free-text
	// field stored some of them and gave them back verbatim. (A tracking
	// link holds only IDs; an endpoint's strings are a URL template and, for
	// its GET base, no body.)
	for _, name := range []string{"CreatePublisher", "UpdatePublisher", "CreateSite", "CreateAdvertiser", "UpdateAdvertiser",
		"CreateOffer", "UpdateOffer", "CreateNetwork", "CreateApiKey", "RecordClick", "RecordConversion"} {
		if echoedBy[name] == 0 {
			lost++
			t.Errorf("%s stored none of the hostile values verbatim", name)
		}
	}
	// Every table is still there, the demo keys work, the revoked key is
	// still revoked, and the base conversion is intact.
	e.rows(t)
	if _, err := e.config(app.DemoPublisherKey).WhoAmI(ctx, &batonv1.WhoAmIRequest{}); err != nil {
		lost++
		t.Errorf("the demo publisher key: %v", err)
	}
	if _, err := e.config(revoked.GetKey()).WhoAmI(ctx, &batonv1.WhoAmIRequest{}); connect.CodeOf(err) != connect.CodeUnauthenticated {
		lost++
		t.Errorf("the revoked key: %v", err)
	}
	if c := mustOK(e.adv.GetConversion(ctx, &batonv1.GetConversionRequest{Id: conv.GetConversion().GetId()}))(t); c.GetConversion().GetOrderId() != "SQL-BASE" {
		lost++
		t.Errorf("the base conversion changed: %v", c)
	}
	var summary []string
	for c, n := range codes {
		summary = append(summary, fmt.Sprintf("%s %d", c, n))
	}
	sort.Strings(summary)
	proof.Tally(t, "hostile: SQL metacharacters in every string", tried, lost,
		fmt.Sprintf("%d values x %d string fields of %d methods; answers: %s; %d written and read back verbatim; tables, keys and data intact",
			len(hostileStrings), fields, methods, strings.Join(summary, ", "), echoed))
}

// TestHostileBodiesAndEncodings sends oversized, deeply nested and
// invalid-UTF-8 input to every entrance (Connect JSON and binary, gRPC-Web,
// the FC2 tag and POST, kickbacks, the click redirect): each is refused
// with a client error, and nothing is written.
func TestHostileBodiesAndEncodings(t *testing.T) {
	t.Parallel()
	e := newFC2Env(t)
	before := e.rows(t)
	const createPub = "/baton.v1.ConfigService/CreatePublisher"
	big := strings.Repeat("x", 70<<10) // over the 64 KiB limit of the test server
	// A binary CreatePublisherRequest whose name (field 1) is not UTF-8.
	badUTF8 := protowire.AppendTag(nil, 1, protowire.BytesType)
	badUTF8 = protowire.AppendBytes(badUTF8, []byte("a\xff\xfeb"))
	badUTF8 = protowire.AppendVarint(protowire.AppendTag(badUTF8, 2, protowire.VarintType), 1)
	// A binary message nested 15,000 deep (past protobuf's limit of 10,000,
	// within the size limit) through an unknown group field.
	var nested []byte
	for range 15000 {
		nested = protowire.AppendTag(nested, 99, protowire.StartGroupType)
	}
	for range 15000 {
		nested = protowire.AppendTag(nested, 99, protowire.EndGroupType)
	}
	grpcWeb := func(msg []byte) []byte {
		frame := []byte{0, 0, 0, 0, 0}
		n := len(msg)
		frame[1], frame[2], frame[3], frame[4] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
		return append(frame, msg...)
	}
	type rpcCase struct {
		name, contentType string
		body              []byte
		code              string // the Connect code (gRPC-Web: its status)
		gzip              bool   // sent with Content-Encoding: gzip
	}
	valid := `"name":"x","kind":"PUBLISHER_KIND_MEDIA"`
	deepJSON := []byte(`{` + valid + `,"unknown":` + strings.Repeat(`{"a":`, 5000) + "1" + strings.Repeat("}", 5001))
	rpcs := []rpcCase{
		{"JSON over the size limit", "application/json", []byte(`{"name":"` + big + `","kind":"PUBLISHER_KIND_MEDIA"}`), "resource_exhausted", false},
		{"binary over the size limit", "application/proto", protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), big), "resource_exhausted", false},
		{"JSON arrays nested 5,000 deep", "application/json", []byte(`{` + valid + `,"subIdParams":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}`), "invalid_argument", false},
		{"JSON objects nested 5,000 deep", "application/json", deepJSON, "invalid_argument", false},
		{name: "gzipped JSON nested 5,000 deep", contentType: "application/json", body: deepJSON, code: "invalid_argument", gzip: true},
		{name: "gRPC-Web JSON nested 5,000 deep", contentType: "application/grpc-web+json", body: grpcWeb(deepJSON), code: "3"},
		{name: "gRPC JSON nested 5,000 deep", contentType: "application/grpc+json", body: grpcWeb(deepJSON), code: "3"},
		{"binary nested 15,000 deep", "application/proto", nested, "invalid_argument", false},
		{"JSON with invalid UTF-8", "application/json", []byte("{\"name\":\"a\xff\xfeb\",\"kind\":\"PUBLISHER_KIND_MEDIA\"}"), "invalid_argument", false},
		{"JSON with an invalid escape", "application/json", []byte(`{"name":"\ud800","kind":"PUBLISHER_KIND_MEDIA"}`), "invalid_argument", false},
		{"binary with invalid UTF-8", "application/proto", badUTF8, "invalid_argument", false},
		{"gRPC-Web with invalid UTF-8", "application/grpc-web+proto", grpcWeb(badUTF8), "3", false},
		{"JSON with a NUL", "application/json", []byte(`{"name":"a\u0000b","kind":"PUBLISHER_KIND_MEDIA"}`), "invalid_argument", false},
		{"truncated binary", "application/proto", badUTF8[:3], "invalid_argument", false},
		{"JSON truncated", "application/json", []byte(`{"name":"x","ki`), "invalid_argument", false},
		{"JSON with duplicate keys", "application/json", []byte(`{"name":"x","name":"y","kind":"PUBLISHER_KIND_MEDIA"}`), "invalid_argument", false},
	}
	send := func(req *http.Request) (*http.Response, []byte, error) {
		res, err := e.client.Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		return res, b, err
	}
	tried, lost := 0, 0
	for _, c := range rpcs {
		tried++
		body := c.body
		if c.gzip {
			var z bytes.Buffer
			zw := gzip.NewWriter(&z)
			_, _ = zw.Write(body)
			_ = zw.Close()
			body = z.Bytes()
		}
		req, _ := http.NewRequest(http.MethodPost, e.url+createPub, bytes.NewReader(body))
		req.Header.Set("Content-Type", c.contentType)
		if c.gzip {
			req.Header.Set("Content-Encoding", "gzip")
		}
		if strings.HasPrefix(c.contentType, "application/grpc") {
			req.Header.Set("Te", "trailers")
		}
		req.Header.Set("Authorization", "Bearer "+adminKey)
		res, b, err := send(req)
		if err != nil {
			lost++
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		// A deeply nested JSON message is refused for its depth, not for
		// something else about it.
		wantMsg := ""
		if strings.Contains(c.name, "JSON") && strings.Contains(c.name, "nested") {
			wantMsg = "nests deeper than 64 levels"
		}
		if strings.HasPrefix(c.contentType, "application/grpc") {
			// gRPC and gRPC-Web answer 200 with the status in the headers
			// (a trailers-only answer), the trailers, or the trailers frame.
			msg, _ := url.PathUnescape(res.Header.Get("Grpc-Message") + res.Trailer.Get("Grpc-Message") + string(b))
			if res.Header.Get("Grpc-Status") != c.code && res.Trailer.Get("Grpc-Status") != c.code && !bytes.Contains(b, []byte("grpc-status:"+c.code)) ||
				!strings.Contains(msg, wantMsg) {
				lost++
				t.Errorf("%s: %d %v %v %q, want status %s %q", c.name, res.StatusCode, res.Header, res.Trailer, b, c.code, wantMsg)
			}
			continue
		}
		var ce struct{ Code, Message string }
		if err := json.Unmarshal(b, &ce); err != nil || ce.Code != c.code || !strings.Contains(ce.Message, wantMsg) {
			lost++
			t.Errorf("%s: %d %s, want %s %q", c.name, res.StatusCode, b, c.code, wantMsg)
		}
	}
	// The legacy and plain-HTTP entrances.
	plain := []struct {
		name, method, path, contentType string
		body                            string
		wantStatus                      int
	}{
		{"tag with invalid UTF-8 in unique_id", "GET", "/tracking/tracking_img.php?shopid=100&amount_y=1&unique_id=%FF%FE", "", "", 200},
		{"tag with a NUL in uname", "GET", "/tracking/tracking_img.php?shopid=100&amount_y=1&unique_id=n1&uname=a%00b", "", "", 200},
		{"tag with a 70 KiB unique_id", "GET", "/tracking/tracking_img.php?shopid=100&amount_y=1&unique_id=" + strings.Repeat("u", 70<<10), "", "", 200},
		{"tag with broken percent-encoding", "GET", "/tracking/tracking_img.php?shopid=100&amount_y=1&unique_id=%zz", "", "", 200},
		{"POST over the size limit", "POST", "/tracking/tracking_post.php", "application/x-www-form-urlencoded",
			"shopid=100&amount_y=1&passwd=" + demoShopPassword + "&unique_id=" + big, 0},
		{"POST with invalid UTF-8", "POST", "/tracking/tracking_post.php", "application/x-www-form-urlencoded",
			"shopid=100&amount_y=1&passwd=" + demoShopPassword + "&unique_id=%FF%FE", 0},
		{"POST with broken percent-encoding", "POST", "/tracking/tracking_post.php", "application/x-www-form-urlencoded",
			"shopid=100&amount_y=1&passwd=" + demoShopPassword + "&unique_id=%zz", 0},
		{"kickback over the size limit", "POST", "/postback", "application/x-www-form-urlencoded", "token=x&click_id=" + big, 0},
		{"kickback with invalid UTF-8", "GET", "/postback?token=%FF&click_id=%FF&order_id=%FE", "", "", 0},
		{"kickback with invalid UTF-8 in the network ID", "GET", "/postback?network=%FF&click_id=x&order_id=y", "", "", 0},
		{"kickback with a NUL in the network ID", "POST", "/postback", "application/x-www-form-urlencoded", "network=a%00b&click_id=x&order_id=y", 0},
		{"kickback with broken percent-encoding", "POST", "/postback", "application/x-www-form-urlencoded", "token=%zz&click_id=1", 0},
	}
	for _, c := range plain {
		tried++
		req, _ := http.NewRequest(c.method, e.url+c.path, strings.NewReader(c.body))
		if c.contentType != "" {
			req.Header.Set("Content-Type", c.contentType)
		}
		req.Header.Set("User-Agent", browserUA)
		res, b, err := send(req)
		if err != nil {
			lost++
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		ok := res.StatusCode >= 400 && res.StatusCode < 500
		if c.wantStatus != 0 {
			ok = res.StatusCode == c.wantStatus && res.Header.Get("Content-Type") == "image/gif"
		}
		if !ok {
			lost++
			t.Errorf("%s: %d %q", c.name, res.StatusCode, b)
		}
	}
	if w := written(before, e.rows(t)); len(w) > 0 {
		lost += len(w)
		t.Errorf("refused input wrote rows: %v", w)
	}
	// The shop can see why: the refusals are logged, with what could not be
	// stored as it came (NUL, invalid UTF-8) shown as U+FFFD (uname and
	// email are never kept in the log).
	marked, uname := 0, false
	for _, r := range refusalsOf(mustOK(e.admin.ListRefusals(context.Background(), &batonv1.ListRefusalsRequest{PageSize: 1000}))(t)) {
		if strings.Contains(r.GetOrderId(), "\uFFFD") {
			marked++
		}
		uname = uname || strings.HasPrefix(r.GetMessage(), "uname must be")
	}
	if marked != 2 || !uname {
		lost++
		t.Errorf("refusals logged: %d with U+FFFD in the order ID (want 2: tag and POST), uname refusal %v", marked, uname)
	}
	// A click with hostile sub-IDs is still a click (never refused), its
	// sub-IDs cleaned and flagged, and the redirect stays on the landing host.
	for _, q := range []string{"param1=%FF%FE", "param1=a%00b", "param1=" + strings.Repeat("p", 8<<10), "param1=%zz", "param1=<script>"} {
		tried++
		res := e.click(t, nil, q, browserUA)
		loc, err := url.Parse(res.Header.Get("Location"))
		if res.StatusCode != http.StatusFound || err != nil || loc.Host != "shop.example" {
			lost++
			t.Errorf("click %s: %d %s", q[:min(len(q), 40)], res.StatusCode, res.Header.Get("Location"))
		}
	}
	proof.Tally(t, "hostile: oversized, nested, invalid UTF-8", tried, lost,
		fmt.Sprintf("%d API bodies (Connect JSON and binary, gzipped JSON, gRPC and gRPC-Web) and %d tag/POST/kickback requests refused with a 4xx (tags: the image) and 0 rows written; 5 hostile clicks kept on the landing host",
			len(rpcs), len(plain)))
}
