package postback

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// secretPrefix starts every Standard Webhooks secret.
const secretPrefix = "whsec_"

// Accepted sizes, in bytes, of a decoded Standard Webhooks key.
const (
	minSecretBytes = 24
	maxSecretBytes = 64
	newSecretBytes = 32
)

// NewSecret returns a new Standard Webhooks secret: "whsec_" followed by the
// standard (padded) base64 encoding of 32 bytes from crypto/rand. The result
// is accepted by Sign and Verify and is meant to be shown to the partner
// once and stored encrypted.
func NewSecret() string {
	key := make([]byte, newSecretBytes)
	rand.Read(key) // never returns an error since Go 1.24; it crashes instead
	return secretPrefix + base64.StdEncoding.EncodeToString(key)
}

// decodeSecrets returns the HMAC keys of secrets. Error messages name a
// secret by its index, never by its value.
func decodeSecrets(secrets []string) ([][]byte, error) {
	if len(secrets) == 0 {
		return nil, errors.New("postback: no webhook secrets")
	}
	keys := make([][]byte, len(secrets))
	for i, s := range secrets {
		rest, ok := strings.CutPrefix(s, secretPrefix)
		if !ok {
			return nil, fmt.Errorf("postback: webhook secret %d does not start with %q", i, secretPrefix)
		}
		key, err := base64.StdEncoding.Strict().DecodeString(rest)
		if err != nil {
			return nil, fmt.Errorf("postback: webhook secret %d is not standard base64 after %q", i, secretPrefix)
		}
		if len(key) < minSecretBytes || len(key) > maxSecretBytes {
			return nil, fmt.Errorf("postback: webhook secret %d has %d key bytes, want %d to %d", i, len(key), minSecretBytes, maxSecretBytes)
		}
		keys[i] = key
	}
	return keys, nil
}

func webhookMAC(key []byte, msgID, timestamp string, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msgID))
	m.Write([]byte{'.'})
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Sign returns the Standard Webhooks "webhook-signature" header value for a
// message: one "v1,<base64 signature>" entry per secret, in the order of
// secrets, separated by single spaces. While a secret is being rotated, pass
// both the new and the old one so that the receiver accepts either. ts is
// signed at whole-second precision as decimal Unix seconds, which is also
// what the caller must send as "webhook-timestamp"; msgID is sent as
// "webhook-id". It fails when secrets is empty or any secret is malformed
// (missing "whsec_" prefix, not standard padded base64, or a key outside
// 24..64 bytes); the error does not contain the secret.
func Sign(secrets []string, msgID string, ts time.Time, body []byte) (string, error) {
	keys, err := decodeSecrets(secrets)
	if err != nil {
		return "", err
	}
	stamp := strconv.FormatInt(ts.Unix(), 10)
	entries := make([]string, len(keys))
	for i, k := range keys {
		entries[i] = "v1," + base64.StdEncoding.EncodeToString(webhookMAC(k, msgID, stamp, body))
	}
	return strings.Join(entries, " "), nil
}

// Verify checks a Standard Webhooks signature. It returns nil when any v1
// entry of signatureHeader matches the signature under any of secrets;
// entries of other versions (for example "v1a,...") and undecodable entries
// are skipped, and every comparison is constant-time. timestamp is the
// "webhook-timestamp" header: decimal Unix seconds in canonical form (no
// sign, spaces or leading zeros); it is refused when it lies more than
// tolerance before or after now. tolerance must be positive (Standard
// Webhooks suggests 5 minutes). A malformed or empty secret list is an
// error, as in Sign.
func Verify(secrets []string, msgID, timestamp string, body []byte, signatureHeader string, now time.Time, tolerance time.Duration) error {
	keys, err := decodeSecrets(secrets)
	if err != nil {
		return err
	}
	if tolerance <= 0 {
		return errors.New("postback: webhook tolerance must be positive")
	}
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil || sec < 0 || strconv.FormatInt(sec, 10) != timestamp {
		return fmt.Errorf("postback: malformed webhook timestamp %q", timestamp)
	}
	if skew := now.Sub(time.Unix(sec, 0)); skew > tolerance || skew < -tolerance {
		return fmt.Errorf("postback: webhook timestamp %s is %v away from now, more than the tolerance %v", timestamp, skew.Round(time.Second), tolerance)
	}
	want := make([][]byte, len(keys))
	for i, k := range keys {
		want[i] = webhookMAC(k, msgID, timestamp, body)
	}
	sawV1 := false
	for _, entry := range strings.Fields(signatureHeader) {
		version, sig, ok := strings.Cut(entry, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err != nil || len(got) != sha256.Size {
			continue
		}
		sawV1 = true
		for _, w := range want {
			if hmac.Equal(got, w) {
				return nil
			}
		}
	}
	if !sawV1 {
		return errors.New("postback: no v1 webhook signature in header")
	}
	return errors.New("postback: webhook signature does not match")
}

// SignQuery returns the lower-case hex HMAC-SHA256 of query, keyed with the
// bytes of secret as written (no prefix stripping or base64 decoding). query
// is the rendered query string: everything after '?', before the signature
// parameter is appended, exactly as it will be sent (already encoded).
func SignQuery(secret, query string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(query))
	return hex.EncodeToString(m.Sum(nil))
}
