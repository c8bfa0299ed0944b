// Package clickid makes and reads Baton's click IDs: 29 characters of
// lower-case Crockford base32 (URL-safe, no ambiguous letters) holding 48
// bits of milliseconds and 96 random bits. The time prefix keeps inserts at
// the right edge of the index and tells which partition holds the click, so a
// lookup by ID touches one partition; the random part makes IDs unguessable.
package clickid

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"time"

	"github.com/batonhq/baton/server/internal/ids"
)

// Len is the length of a click ID.
const Len = 29

const alphabet = "0123456789abcdefghjkmnpqrstvwxyz"

var decode [256]byte

func init() {
	for i := range decode {
		decode[i] = 0xff
	}
	for i := 0; i < len(alphabet); i++ {
		decode[alphabet[i]] = byte(i)
	}
}

// Generator makes click IDs from a clock and a random source.
type Generator struct {
	Now  func() time.Time
	Rand io.Reader
}

// Default uses the wall clock and crypto/rand.
var Default = Generator{Now: time.Now, Rand: rand.Reader}

// New returns a new ID and the millisecond-truncated time it encodes (store
// that time with the click: it is how the ID finds its partition).
func (g Generator) New() (string, time.Time) {
	now := g.Now().UTC().Truncate(time.Millisecond)
	var b [18]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli())<<16)
	if _, err := io.ReadFull(g.Rand, b[6:]); err != nil {
		panic("clickid: random source failed: " + err.Error())
	}
	return ids.Base32(b[:]), now
}

// New returns a new ID from Default.
func New() (string, time.Time) { return Default.New() }

// ErrInvalid means a string is not a Baton click ID.
var ErrInvalid = errors.New("not a Baton click ID")

// Parse checks id and returns the time it encodes.
func Parse(id string) (time.Time, error) {
	if len(id) != Len {
		return time.Time{}, ErrInvalid
	}
	var acc uint64
	bits := 0
	var ms uint64
	got := 0
	for i := 0; i < Len; i++ {
		v := decode[id[i]]
		if v == 0xff {
			return time.Time{}, ErrInvalid
		}
		if got < 48 {
			acc = acc<<5 | uint64(v)
			bits += 5
			if bits >= 48 && got == 0 {
				ms = acc >> uint(bits-48)
				got = 48
			}
		}
	}
	// The last character carries 144 mod 5 = 4 bits of data and 1 of padding.
	if decode[id[Len-1]]&1 != 0 {
		return time.Time{}, ErrInvalid
	}
	return time.UnixMilli(int64(ms)).UTC(), nil
}
