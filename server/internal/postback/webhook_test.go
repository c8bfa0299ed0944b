package postback

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

// The example from the Standard Webhooks specification
// (https://github.com/standard-webhooks/standard-webhooks, spec/standard-webhooks.md).
const (
	swSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	swMsgID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	swTimestamp = "1614265330"
	swBody      = `{"test": 2432232314}`
	swSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

var swTime = time.Unix(1614265330, 0)

func TestStandardWebhooksSpecVector(t *testing.T) {
	got, err := Sign([]string{swSecret}, swMsgID, swTime, []byte(swBody))
	if err != nil {
		t.Fatal(err)
	}
	if got != swSignature {
		t.Errorf("Sign = %q, want %q", got, swSignature)
	}
	// Sub-second parts of ts are not signed.
	got, err = Sign([]string{swSecret}, swMsgID, swTime.Add(999*time.Millisecond), []byte(swBody))
	if err != nil || got != swSignature {
		t.Errorf("Sign(ts+999ms) = %q, %v; want %q", got, err, swSignature)
	}
	if err := Verify([]string{swSecret}, swMsgID, swTimestamp, []byte(swBody), swSignature, swTime, 5*time.Minute); err != nil {
		t.Errorf("Verify(spec vector) = %v", err)
	}
}

func TestVerifyRefusesTampering(t *testing.T) {
	secrets := []string{swSecret}
	tol := 5 * time.Minute
	cases := []struct {
		name, id, ts, body, header string
		now                        time.Time
	}{
		{"body", swMsgID, swTimestamp, `{"test": 2432232315}`, swSignature, swTime},
		{"body with trailing newline", swMsgID, swTimestamp, swBody + "\n", swSignature, swTime},
		{"msg id", "msg_p5jXN8AQM9LWM0D4loKWxJeK", swTimestamp, swBody, swSignature, swTime},
		{"timestamp", swMsgID, "1614265331", swBody, swSignature, swTime},
		{"timestamp with leading zero", swMsgID, "01614265330", swBody, swSignature, swTime},
		{"timestamp with sign", swMsgID, "+1614265330", swBody, swSignature, swTime},
		{"timestamp with space", swMsgID, " 1614265330", swBody, swSignature, swTime},
		{"timestamp not a number", swMsgID, "yesterday", swBody, swSignature, swTime},
		{"stale", swMsgID, swTimestamp, swBody, swSignature, swTime.Add(tol + time.Second)},
		{"from the future", swMsgID, swTimestamp, swBody, swSignature, swTime.Add(-tol - time.Second)},
		{"signature flipped", swMsgID, swTimestamp, swBody, "v1,h0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", swTime},
		{"wrong version", swMsgID, swTimestamp, swBody, "v2," + strings.TrimPrefix(swSignature, "v1,"), swTime},
		{"no version", swMsgID, swTimestamp, swBody, strings.TrimPrefix(swSignature, "v1,"), swTime},
		{"empty header", swMsgID, swTimestamp, swBody, "", swTime},
		{"truncated signature", swMsgID, swTimestamp, swBody, swSignature[:20], swTime},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := Verify(secrets, c.id, c.ts, []byte(c.body), c.header, c.now, tol); err == nil {
				t.Error("Verify accepted a tampered message")
			}
		})
	}
	// The edges of the tolerance window are inside it.
	for _, now := range []time.Time{swTime.Add(tol), swTime.Add(-tol)} {
		if err := Verify(secrets, swMsgID, swTimestamp, []byte(swBody), swSignature, now, tol); err != nil {
			t.Errorf("Verify at now=%v: %v", now.Sub(swTime), err)
		}
	}
	// A non-canonical timestamp is refused even when it is what was signed.
	key, _ := decodeSecrets(secrets)
	for _, ts := range []string{"01614265330", "+1614265330", "-0", "-5"} {
		sig := "v1," + base64.StdEncoding.EncodeToString(webhookMAC(key[0], swMsgID, ts, []byte(swBody)))
		if err := Verify(secrets, swMsgID, ts, []byte(swBody), sig, time.Unix(0, 0), 100*365*24*time.Hour); err == nil {
			t.Errorf("Verify accepted non-canonical timestamp %q", ts)
		}
	}
	if err := Verify(secrets, swMsgID, swTimestamp, []byte(swBody), swSignature, swTime, 0); err == nil {
		t.Error("Verify accepted a zero tolerance")
	}
}

func TestSignVerifyRotation(t *testing.T) {
	oldS, newS, other := NewSecret(), NewSecret(), NewSecret()
	body := []byte(`{"conversion_id":"cv_1","amount":1500}`)
	ts := time.Unix(1700000000, 0)
	header, err := Sign([]string{newS, oldS}, "msg_1", ts, body)
	if err != nil {
		t.Fatal(err)
	}
	entries := strings.Split(header, " ")
	if len(entries) != 2 {
		t.Fatalf("Sign with two secrets gave %d entries: %q", len(entries), header)
	}
	for i, e := range entries {
		sig, ok := strings.CutPrefix(e, "v1,")
		if !ok {
			t.Errorf("entry %d = %q, want a v1 entry", i, e)
		}
		if raw, err := base64.StdEncoding.DecodeString(sig); err != nil || len(raw) != 32 {
			t.Errorf("entry %d signature %q: %d bytes, %v", i, sig, len(raw), err)
		}
	}
	if entries[0] == entries[1] {
		t.Error("both secrets gave the same signature")
	}
	// Entries are in the order of the secrets.
	if one, _ := Sign([]string{oldS}, "msg_1", ts, body); one != entries[1] {
		t.Errorf("Sign(old) = %q, want second entry %q", one, entries[1])
	}
	for name, secrets := range map[string][]string{
		"new only":          {newS},
		"old only":          {oldS},
		"other then old":    {other, oldS},
		"new and old":       {newS, oldS},
		"unrelated and new": {other, newS},
	} {
		if err := Verify(secrets, "msg_1", "1700000000", body, header, ts, time.Minute); err != nil {
			t.Errorf("%s: Verify = %v", name, err)
		}
	}
	if err := Verify([]string{other}, "msg_1", "1700000000", body, header, ts, time.Minute); err == nil {
		t.Error("Verify accepted a header signed with other secrets")
	}
	// Unknown versions and garbage entries are skipped, not fatal.
	mixed := "v1a,AAAA garbage v1,!!!notbase64 " + entries[1]
	if err := Verify([]string{oldS}, "msg_1", "1700000000", body, mixed, ts, time.Minute); err != nil {
		t.Errorf("Verify(mixed header) = %v", err)
	}
}

func TestSecrets(t *testing.T) {
	a, b := NewSecret(), NewSecret()
	if a == b {
		t.Fatal("NewSecret returned the same secret twice")
	}
	rest, ok := strings.CutPrefix(a, "whsec_")
	if !ok {
		t.Fatalf("NewSecret() = %q, want whsec_ prefix", a)
	}
	if key, err := base64.StdEncoding.DecodeString(rest); err != nil || len(key) != 32 {
		t.Errorf("NewSecret key: %d bytes, %v", len(key), err)
	}

	key := func(n int) string { return base64.StdEncoding.EncodeToString(make([]byte, n)) }
	good := []string{"whsec_" + key(24), "whsec_" + key(64), swSecret}
	for _, s := range good {
		if _, err := Sign([]string{s}, "m", swTime, nil); err != nil {
			t.Errorf("Sign(%q) = %v", s, err)
		}
	}
	bad := map[string][]string{
		"no secrets":      nil,
		"no prefix":       {strings.TrimPrefix(swSecret, "whsec_")},
		"wrong prefix":    {"whsek_" + key(32)},
		"url base64":      {"whsec_" + base64.URLEncoding.EncodeToString([]byte{0xfb, 0xff, 0xfe, 0xfb, 0xff, 0xfe, 0xfb, 0xff, 0xfe, 0xfb, 0xff, 0xfe, 0xfb, 0xff, 0xfe, 0xfb, 0xff, 0xfe, 0xfb, 0xff, 0xfe, 0xfb, 0xff, 0xfe})},
		"not base64":      {"whsec_not base64!"},
		"empty key":       {"whsec_"},
		"23 bytes":        {"whsec_" + key(23)},
		"65 bytes":        {"whsec_" + key(65)},
		"one bad of two":  {swSecret, "whsec_" + key(8)},
		"missing padding": {"whsec_" + strings.TrimRight(key(25), "=")},
	}
	for name, secrets := range bad {
		_, err := Sign(secrets, "m", swTime, nil)
		if err == nil {
			t.Errorf("%s: Sign accepted %q", name, secrets)
			continue
		}
		for _, s := range secrets {
			if len(s) > len("whsec_")+4 && strings.Contains(err.Error(), s) {
				t.Errorf("%s: error %q leaks the secret", name, err)
			}
		}
		if Verify(secrets, swMsgID, swTimestamp, []byte(swBody), swSignature, swTime, time.Minute) == nil {
			t.Errorf("%s: Verify accepted %q", name, secrets)
		}
	}
}

func TestSignQuery(t *testing.T) {
	// RFC 4231, test case 2.
	if got, want := SignQuery("Jefe", "what do ya want for nothing?"), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"; got != want {
		t.Errorf("SignQuery(RFC 4231 #2) = %s, want %s", got, want)
	}
	// The key is the secret string as written, whsec_ prefix included.
	q := "cid=abc&amount=1500"
	if SignQuery(swSecret, q) == SignQuery(strings.TrimPrefix(swSecret, "whsec_"), q) {
		t.Error("SignQuery strips the whsec_ prefix")
	}
	if SignQuery("k", q) == SignQuery("k", q+"0") {
		t.Error("SignQuery ignores part of the query")
	}
}
