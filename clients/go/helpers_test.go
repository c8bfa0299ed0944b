package baton_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	baton "github.com/batonhq/baton/clients/go"
)

func TestTrackingLink(t *testing.T) {
	for _, tc := range []struct {
		name, base, link string
		subs             []string
		deep, want       string
	}{
		{"bare", "https://track.example.com", "Ab3dE5", nil, "", "https://track.example.com/c/Ab3dE5"},
		{"trailing slash", "https://track.example.com/", "demo", nil, "", "https://track.example.com/c/demo"},
		{"subs and jump", "http://127.0.0.1:8080", "demo", []string{"sess 1&2", "", "あ"}, "/item/42?color=red",
			"http://127.0.0.1:8080/c/demo?jump=%2Fitem%2F42%3Fcolor%3Dred&param1=sess+1%262&param3=%E3%81%82"},
		{"at most five", "https://t.example", "x", []string{"1", "2", "3", "4", "5", "6"}, "",
			"https://t.example/c/x?param1=1&param2=2&param3=3&param4=4&param5=5"},
		{"path escaped", "https://t.example", "a/b", nil, "", "https://t.example/c/a%2Fb"},
	} {
		if got := baton.TrackingLink(tc.base, tc.link, tc.subs, tc.deep); got != tc.want {
			t.Errorf("%s: got  %s\nwant %s", tc.name, got, tc.want)
		}
	}
}

// The example of FC2's documentation.
var fc2Example = baton.FC2Fields{
	ShopID: "26", UniqueID: "100", UName: "tarou", Email: "tarou@hogehoge.com", AmountY: "1980",
	TS: "20060228185000", Recurring: "0", ItemCode: "sample1", UnitNum: "1",
}

func TestFC2SH(t *testing.T) {
	const want = "cdfa85a2c27f3bc879b5d9b7a61bac4550a51f98"
	if got := baton.FC2SH("secretpw", fc2Example); got != want {
		t.Errorf("FC2SH = %s, want %s", got, want)
	}
	if got := baton.FC2SHShort("secretpw", fc2Example); got != want[:16] {
		t.Errorf("FC2SHShort = %s, want %s", got, want[:16])
	}
	other := fc2Example
	other.AmountY = "1981"
	if baton.FC2SH("secretpw", other) == want {
		t.Error("sh does not cover amount_y")
	}
}

// The example of the Standard Webhooks specification.
const (
	whSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	whID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	whTS     = "1614265330"
	whBody   = `{"test": 2432232314}`
	whSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

var whNow = time.Unix(1614265330, 0)

func whHeader(id, ts, sig string) http.Header {
	h := http.Header{}
	for k, v := range map[string]string{"webhook-id": id, "webhook-timestamp": ts, "webhook-signature": sig} {
		if v != "" {
			h.Set(k, v)
		}
	}
	return h
}

func sign(t *testing.T, secret, id, ts, body string) string {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		t.Fatal(err)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + ts + "." + body))
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func TestVerifyWebhookSpecExample(t *testing.T) {
	if got := sign(t, whSecret, whID, whTS, whBody); got != whSig {
		t.Fatalf("test signer disagrees with the specification: %s", got)
	}
	if err := baton.VerifyWebhook([]string{whSecret}, whHeader(whID, whTS, whSig), []byte(whBody), 5*time.Minute, whNow); err != nil {
		t.Fatalf("spec example refused: %v", err)
	}
	// Zero tolerance means the default; within it, a little later is fine.
	if err := baton.VerifyWebhook([]string{whSecret}, whHeader(whID, whTS, whSig), []byte(whBody), 0, whNow.Add(4*time.Minute)); err != nil {
		t.Fatalf("default tolerance: %v", err)
	}
}

func TestVerifyWebhookAcceptsAnySecretAndAnyEntry(t *testing.T) {
	const other = "whsec_" + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	// Rotation: the old secret and the new one, either order.
	for _, secrets := range [][]string{{other, whSecret}, {whSecret, other}} {
		if err := baton.VerifyWebhook(secrets, whHeader(whID, whTS, whSig), []byte(whBody), time.Minute, whNow); err != nil {
			t.Errorf("%v: %v", secrets, err)
		}
	}
	// Several entries, unknown versions and garbage are skipped.
	h := whHeader(whID, whTS, "v1a,abc v1,!!notbase64 "+sign(t, other, whID, whTS, whBody)+" "+whSig)
	if err := baton.VerifyWebhook([]string{whSecret}, h, []byte(whBody), time.Minute, whNow); err != nil {
		t.Errorf("multi-entry header: %v", err)
	}
	// The prefix may be left out.
	if err := baton.VerifyWebhook([]string{strings.TrimPrefix(whSecret, "whsec_")}, whHeader(whID, whTS, whSig), []byte(whBody), time.Minute, whNow); err != nil {
		t.Errorf("secret without prefix: %v", err)
	}
}

func TestVerifyWebhookRefuses(t *testing.T) {
	const other = "whsec_" + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	for _, tc := range []struct {
		name    string
		secrets []string
		h       http.Header
		body    string
		now     time.Time
		want    error
	}{
		{"tampered body", []string{whSecret}, whHeader(whID, whTS, whSig), `{"test": 2432232315}`, whNow, baton.ErrWebhookSignature},
		{"other id", []string{whSecret}, whHeader("msg_other", whTS, whSig), whBody, whNow, baton.ErrWebhookSignature},
		{"wrong secret", []string{other}, whHeader(whID, whTS, whSig), whBody, whNow, baton.ErrWebhookSignature},
		{"only other versions", []string{whSecret}, whHeader(whID, whTS, strings.Replace(whSig, "v1,", "v2,", 1)), whBody, whNow, baton.ErrWebhookSignature},
		{"no signature header", []string{whSecret}, whHeader(whID, whTS, ""), whBody, whNow, baton.ErrWebhookSignature},
		{"no id header", []string{whSecret}, whHeader("", whTS, whSig), whBody, whNow, baton.ErrWebhookSignature},
		{"no timestamp header", []string{whSecret}, whHeader(whID, "", whSig), whBody, whNow, baton.ErrWebhookSignature},
		{"too old", []string{whSecret}, whHeader(whID, whTS, whSig), whBody, whNow.Add(5*time.Minute + time.Second), baton.ErrWebhookTimestamp},
		{"too new", []string{whSecret}, whHeader(whID, whTS, whSig), whBody, whNow.Add(-5*time.Minute - time.Second), baton.ErrWebhookTimestamp},
		{"malformed timestamp", []string{whSecret}, whHeader(whID, "16142653x0", whSig), whBody, whNow, baton.ErrWebhookTimestamp},
	} {
		err := baton.VerifyWebhook(tc.secrets, tc.h, []byte(tc.body), 5*time.Minute, tc.now)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	for name, secrets := range map[string][]string{"none": nil, "not base64": {"whsec_***"}, "empty": {"whsec_"}} {
		err := baton.VerifyWebhook(secrets, whHeader(whID, whTS, whSig), []byte(whBody), time.Minute, whNow)
		if err == nil || errors.Is(err, baton.ErrWebhookSignature) || strings.Contains(err.Error(), "***") {
			t.Errorf("secrets %s: %v, want a configuration error that does not show the secret", name, err)
		}
	}
}
