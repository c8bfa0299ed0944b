// Package ids makes the identifiers Baton hands out: time-ordered, URL-safe
// and unguessable.
package ids

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"time"
)

// alphabet is Crockford's base32 in lower case: URL-safe, no padding, no
// ambiguous letters (i, l, o, u), and lexical order equals numeric order.
const alphabet = "0123456789abcdefghjkmnpqrstvwxyz"

// Source makes IDs. The zero value is not usable; use NewSource.
type Source struct {
	now  func() time.Time
	rand io.Reader
}

// NewSource returns a Source reading the clock and randomness given; nil
// means time.Now and crypto/rand.
func NewSource(now func() time.Time, random io.Reader) *Source {
	if now == nil {
		now = time.Now
	}
	if random == nil {
		random = rand.Reader
	}
	return &Source{now: now, rand: random}
}

// Default uses the wall clock and crypto/rand.
var Default = NewSource(nil, nil)

// New returns prefix + "_" + 26 characters: 48 bits of milliseconds since
// the Unix epoch, then 80 random bits. IDs made later sort after IDs made
// earlier (to the millisecond), which keeps B-tree inserts at the right edge.
func (s *Source) New(prefix string) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(s.now().UnixMilli())<<16)
	if _, err := io.ReadFull(s.rand, b[6:]); err != nil {
		// crypto/rand does not fail on supported platforms; a custom reader
		// that does is a programming error in a test.
		panic("ids: random source failed: " + err.Error())
	}
	return prefix + "_" + Base32(b[:])
}

// Time returns the creation time encoded in an ID made by New.
func Time(id string) (time.Time, error) {
	i := strings.LastIndexByte(id, '_')
	body := id[i+1:]
	if len(body) != 26 {
		return time.Time{}, errors.New("ids: not a Baton ID")
	}
	var ms uint64
	for _, c := range body[:10] {
		v := strings.IndexRune(alphabet, c)
		if v < 0 {
			return time.Time{}, errors.New("ids: not a Baton ID")
		}
		ms = ms<<5 | uint64(v)
	}
	// 10 characters hold 50 bits; the first 48 are the milliseconds.
	return time.UnixMilli(int64(ms >> 2)), nil
}

// Base32 writes b in lower-case Crockford base32, most significant bits
// first, padding the last character with zero bits. The output sorts as the
// input does.
func Base32(b []byte) string {
	out := make([]byte, 0, (len(b)*8+4)/5)
	var acc uint64
	bits := 0
	for _, x := range b {
		acc = acc<<8 | uint64(x)
		bits += 8
		for bits >= 5 {
			bits -= 5
			out = append(out, alphabet[(acc>>uint(bits))&31])
		}
	}
	if bits > 0 {
		out = append(out, alphabet[(acc<<uint(5-bits))&31])
	}
	return string(out)
}
