package sslsync

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"

	"github.com/proxyblocks/proxyblocks/shctx/sslcache"
)

// Type is a message type.
type Type uint8

// The message types.
const (
	// New carries a session: store it.
	New Type = 1
	// Get asks for a session; a peer holding it answers with New.
	Get Type = 2
	// Delete says a session must no longer resume.
	Delete Type = 3
)

// String returns the packet type's name.
func (t Type) String() string {
	switch t {
	case New:
		return "new"
	case Get:
		return "get"
	case Delete:
		return "delete"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Packet layout. Every field has a fixed place except the session, whose
// length is what remains between the header and the trailer, so a packet
// has no length field to disagree with its size.
//
//	offset  size  field
//	0       1     version (1)
//	1       1     type (New, Get, Delete)
//	2       32    session id, zero-padded
//	34      n     serialized session (New only; empty otherwise)
//	34+n    4     timestamp, seconds since the epoch, big-endian
//	38+n    32    HMAC-SHA256 of bytes 0 to 38+n under the fleet's key
const (
	// Version is the protocol version this package speaks.
	Version = 1
	// HeaderLen is the size of the fields before the session.
	HeaderLen = 2 + sslcache.IDLen
	// TrailerLen is the size of the timestamp and the signature.
	TrailerLen = 4 + sha256.Size
	// MinLen is the size of a Get or Delete packet.
	MinLen = HeaderLen + TrailerLen
	// MaxLen is the size of a packet carrying the longest session.
	MaxLen = MinLen + sslcache.MaxSessionLen
)

// ErrMalformed means a packet does not follow the layout.
var ErrMalformed = errors.New("malformed packet")

// Message is a decoded packet. Session aliases the packet it was decoded
// from.
type Message struct {
	Type    Type
	ID      [sslcache.IDLen]byte
	Session []byte
	Time    uint32
	MAC     [sha256.Size]byte
}

// Decode checks a packet's layout and splits it into fields. It does not
// check the signature or the time: see [Verify].
func Decode(pkt []byte) (Message, error) {
	var m Message
	if len(pkt) < MinLen {
		return m, fmt.Errorf("sslsync: %d bytes, shorter than the %d of any message: %w", len(pkt), MinLen, ErrMalformed)
	}
	if len(pkt) > MaxLen {
		return m, fmt.Errorf("sslsync: %d bytes, longer than the %d of any message: %w", len(pkt), MaxLen, ErrMalformed)
	}
	if pkt[0] != Version {
		return m, fmt.Errorf("sslsync: version %d, want %d: %w", pkt[0], Version, ErrMalformed)
	}
	m.Type = Type(pkt[1])
	n := len(pkt) - MinLen
	switch m.Type {
	case New:
		if n == 0 {
			return m, fmt.Errorf("sslsync: new message without a session: %w", ErrMalformed)
		}
	case Get, Delete:
		if n != 0 {
			return m, fmt.Errorf("sslsync: %v message with %d bytes of session: %w", m.Type, n, ErrMalformed)
		}
	default:
		return m, fmt.Errorf("sslsync: unknown message %v: %w", m.Type, ErrMalformed)
	}
	copy(m.ID[:], pkt[2:HeaderLen])
	if n > 0 {
		m.Session = pkt[HeaderLen : HeaderLen+n : HeaderLen+n]
	}
	m.Time = binary.BigEndian.Uint32(pkt[HeaderLen+n:])
	copy(m.MAC[:], pkt[HeaderLen+n+4:])
	return m, nil
}

// Append encodes a message, signs it with key and appends it to dst.
func Append(dst, key []byte, t Type, id [sslcache.IDLen]byte, session []byte, ts uint32) []byte {
	return appendSigned(dst, hmac.New(sha256.New, key), t, id, session, ts)
}

func appendSigned(dst []byte, mac hash.Hash, t Type, id [sslcache.IDLen]byte, session []byte, ts uint32) []byte {
	start := len(dst)
	dst = append(dst, Version, byte(t))
	dst = append(dst, id[:]...)
	dst = append(dst, session...)
	dst = binary.BigEndian.AppendUint32(dst, ts)
	mac.Reset()
	mac.Write(dst[start:])
	return mac.Sum(dst)
}

// Verify reports whether pkt carries a valid signature under key.
func Verify(pkt, key []byte) bool {
	return verify(pkt, hmac.New(sha256.New, key), nil)
}

func verify(pkt []byte, mac hash.Hash, scratch []byte) bool {
	if len(pkt) < sha256.Size {
		return false
	}
	body := pkt[:len(pkt)-sha256.Size]
	mac.Reset()
	mac.Write(body)
	return hmac.Equal(mac.Sum(scratch[:0]), pkt[len(body):])
}
