package sslcache

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"time"
)

// maxTicketLifetime is crypto/tls's own bound on a session's age
// (maxSessionTicketLifetime); a longer Lifetime cannot extend it.
const maxTicketLifetime = 7 * 24 * time.Hour

// Configure makes cfg keep its server sessions in c: it sets WrapSession
// and UnwrapSession and enables session tickets, which in crypto/tls
// carry resumption for both TLS 1.2 and TLS 1.3.
func (c *Cache) Configure(cfg *tls.Config) {
	cfg.SessionTicketsDisabled = false
	cfg.WrapSession = c.Wrap
	cfg.UnwrapSession = c.Unwrap
}

// Wrap stores a new server session and returns the random ID the client
// receives as its ticket. It has the signature of
// [crypto/tls.Config.WrapSession]. A session the cache cannot hold (too
// large) still gets an ID, which will simply not resume: failing here
// would fail the handshake.
func (c *Cache) Wrap(_ tls.ConnectionState, ss *tls.SessionState) ([]byte, error) {
	b, err := ss.Bytes()
	if err != nil {
		return nil, fmt.Errorf("sslcache: serializing a session: %w", err)
	}
	var id [IDLen]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, fmt.Errorf("sslcache: drawing a session id: %w", err)
	}
	c.Put(id, b)
	return id[:], nil
}

// Unwrap returns the session stored under the ticket label, or (nil, nil)
// for a full handshake when there is none. It has the signature of
// [crypto/tls.Config.UnwrapSession]. A session that no longer parses, is
// past its lifetime, or was made with another protocol version than the
// one being negotiated is deleted from both levels and from peers, since
// crypto/tls would refuse it each time it is offered.
func (c *Cache) Unwrap(label []byte, cs tls.ConnectionState) (*tls.SessionState, error) {
	if len(label) != IDLen {
		// Not an ID of ours (a ticket from another server): full handshake.
		return nil, nil
	}
	id := [IDLen]byte(label)
	b, ok := c.lookup(id, true)
	if !ok {
		return nil, nil
	}
	now := c.now()
	created, ok := createdAt(b)
	if !ok {
		c.reject(id)
		return nil, nil
	}
	if age := now.Sub(created); age > c.lifetime || age > maxTicketLifetime {
		c.st.expired.Add(1)
		c.Delete(id)
		return nil, nil
	}
	if cs.Version != 0 && stateVersion(b) != cs.Version {
		c.reject(id)
		return nil, nil
	}
	ss, err := tls.ParseSessionState(b)
	if err != nil {
		c.reject(id)
		return nil, nil
	}
	return ss, nil
}

func (c *Cache) reject(id [IDLen]byte) {
	c.st.rejected.Add(1)
	c.Delete(id)
}

// ClientCache is a [crypto/tls.ClientSessionCache] kept in a Cache's
// shared level, so processes sharing the cache file resume each other's
// outbound sessions. crypto/tls keys sessions by server name (or address
// when there is none).
type ClientCache struct{ c *Cache }

// ClientSessionCache returns the outbound session cache backed by c.
func (c *Cache) ClientSessionCache() *ClientCache { return &ClientCache{c} }

func clientKey(sessionKey string) [clientKeyLen]byte {
	var k [clientKeyLen]byte
	k[0] = 'c'
	h := sha256.Sum256([]byte(sessionKey))
	copy(k[1:], h[:])
	return k
}

// Put stores the session for sessionKey; a nil cs deletes it, which
// crypto/tls does when a session stops being usable.
func (cc *ClientCache) Put(sessionKey string, cs *tls.ClientSessionState) {
	c := cc.c
	if c.closed.Load() {
		return
	}
	k := clientKey(sessionKey)
	if cs == nil {
		c.shared.Delete(k[:])
		return
	}
	ticket, state, err := cs.ResumptionState()
	if err != nil || state == nil || len(ticket) > 0xffff {
		return
	}
	sb, err := state.Bytes()
	if err != nil {
		return
	}
	v := make([]byte, 2+len(ticket)+len(sb))
	binary.BigEndian.PutUint16(v, uint16(len(ticket)))
	copy(v[2:], ticket)
	copy(v[2+len(ticket):], sb)
	if len(v) > c.shared.MaxValueLen(clientKeyLen) {
		c.st.tooLarge.Add(1)
		return
	}
	if err := c.shared.StoreUntil(k[:], v, c.now().Add(c.lifetime)); err != nil {
		c.st.storeErrors.Add(1)
		return
	}
	c.st.stores.Add(1)
}

// Get returns the session stored for sessionKey.
func (cc *ClientCache) Get(sessionKey string) (*tls.ClientSessionState, bool) {
	c := cc.c
	if c.closed.Load() {
		return nil, false
	}
	k := clientKey(sessionKey)
	bp := c.bufs.Get().(*[]byte)
	defer c.bufs.Put(bp)
	v := *bp
	n, ok := c.shared.Get(k[:], v)
	if ok && n > len(v) {
		v = make([]byte, n)
		var m int
		m, ok = c.shared.Get(k[:], v)
		ok = ok && m == n
	}
	if !ok || n < 2 {
		c.st.misses.Add(1)
		return nil, false
	}
	v = v[:n]
	tl := int(binary.BigEndian.Uint16(v))
	if 2+tl > n {
		c.shared.Delete(k[:])
		c.st.rejected.Add(1)
		return nil, false
	}
	// ParseSessionState keeps slices of its input, and the pooled buffer
	// is reused: hand it a copy.
	ticket := append([]byte(nil), v[2:2+tl]...)
	state, err := tls.ParseSessionState(append([]byte(nil), v[2+tl:]...))
	if err != nil {
		c.shared.Delete(k[:])
		c.st.rejected.Add(1)
		return nil, false
	}
	cs, err := tls.NewResumptionState(ticket, state)
	if err != nil {
		c.shared.Delete(k[:])
		c.st.rejected.Add(1)
		return nil, false
	}
	c.st.sharedHits.Add(1)
	return cs, true
}
