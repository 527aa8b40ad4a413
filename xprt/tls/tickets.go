package tls

import (
	"bufio"
	"container/list"
	"crypto/rand"
	"crypto/sha256"
	stdtls "crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// TicketKeysInUse is how many keys of a tls-ticket-keys file are active:
// the last ones in the file. HAProxy's build default (TLS_TICKETS_NO) is 3,
// and a file must hold at least that many.
const TicketKeysInUse = 3

// LoadTicketKeys reads a tls-ticket-keys file in HAProxy's format: one
// base64 key per line, each 48 bytes (AES-128 tickets) or 80 bytes
// (AES-256), all the same size. Of the last [TicketKeysInUse] keys the
// second to last encrypts new tickets and all three decrypt, so rotating
// is appending a fresh key and reloading: the key that encrypted before
// still decrypts, and the newest is already known to peers before it
// starts encrypting.
//
// crypto/tls wants 32-byte keys in a different ticket format, so each file
// key is reduced with SHA-256 of its bytes. Two processes reading the same
// file derive the same keys and resume each other's sessions; tickets are
// not interchangeable with HAProxy's own. The result is ordered for
// [crypto/tls.Config.SetSessionTicketKeys]: the encrypting key first.
func LoadTicketKeys(path string) ([][32]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &FileError{Keyword: "tls-ticket-keys", Path: path, Err: err}
	}
	defer f.Close()
	var raw [][]byte
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' {
			continue
		}
		k, err := base64.StdEncoding.DecodeString(text)
		if err != nil {
			return nil, &FileError{Keyword: "tls-ticket-keys", Path: path, Line: line, Err: fmt.Errorf("key is not valid base64: %w", err)}
		}
		if len(k) != 48 && len(k) != 80 {
			return nil, &FileError{Keyword: "tls-ticket-keys", Path: path, Line: line, Err: fmt.Errorf("key is %d bytes, want 48 or 80", len(k))}
		}
		if len(raw) > 0 && len(k) != len(raw[0]) {
			return nil, &FileError{Keyword: "tls-ticket-keys", Path: path, Line: line, Err: fmt.Errorf("key is %d bytes but the first key is %d: sizes cannot be mixed", len(k), len(raw[0]))}
		}
		raw = append(raw, k)
	}
	if err := sc.Err(); err != nil {
		return nil, &FileError{Keyword: "tls-ticket-keys", Path: path, Err: err}
	}
	if len(raw) < TicketKeysInUse {
		return nil, &FileError{Keyword: "tls-ticket-keys", Path: path, Err: fmt.Errorf("file holds %d keys, at least %d are needed", len(raw), TicketKeysInUse)}
	}
	n := len(raw)
	order := []int{n - 2, n - 1, n - 3}
	keys := make([][32]byte, 0, len(order))
	for _, i := range order {
		keys = append(keys, sha256.Sum256(raw[i]))
	}
	return keys, nil
}

// SessionStore is the server-side hook for stateful session resumption,
// the two halves of [crypto/tls.Config.WrapSession] and UnwrapSession:
// Wrap turns a session into the label sent to the client as its ticket,
// Unwrap turns a label back into the session, or returns (nil, nil) when
// it cannot, which means a full handshake. A shared cache (several
// processes or hosts) plugs in here; [CacheStore] adapts a plain byte
// cache keyed by 32-byte IDs.
type SessionStore interface {
	Wrap(cs stdtls.ConnectionState, ss *stdtls.SessionState) ([]byte, error)
	Unwrap(label []byte, cs stdtls.ConnectionState) (*stdtls.SessionState, error)
}

// SessionCache stores serialized sessions under 32-byte IDs, the shape of
// HAProxy's SSL session cache. Implementations must be safe for
// concurrent use and may drop entries at any time.
type SessionCache interface {
	Put(id [32]byte, session []byte)
	Get(id [32]byte) ([]byte, bool)
}

// CacheStore returns a SessionStore that keeps sessions in c and sends
// clients a random 32-byte ID instead of an encrypted session. The ID
// carries no secret, so sessions never leave the cache and ticket keys
// play no part; resumption works wherever c is shared.
func CacheStore(c SessionCache) SessionStore { return cacheStore{c} }

type cacheStore struct{ c SessionCache }

func (s cacheStore) Wrap(_ stdtls.ConnectionState, ss *stdtls.SessionState) ([]byte, error) {
	b, err := ss.Bytes()
	if err != nil {
		return nil, fmt.Errorf("tls: serializing session: %w", err)
	}
	var id [32]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, fmt.Errorf("tls: session id: %w", err)
	}
	s.c.Put(id, b)
	return id[:], nil
}

func (s cacheStore) Unwrap(label []byte, _ stdtls.ConnectionState) (*stdtls.SessionState, error) {
	if len(label) != 32 {
		return nil, nil
	}
	b, ok := s.c.Get([32]byte(label))
	if !ok {
		return nil, nil
	}
	ss, err := stdtls.ParseSessionState(b)
	if err != nil {
		// A corrupt entry costs a full handshake, not the connection.
		return nil, nil
	}
	return ss, nil
}

// ticketStore is the default store: crypto/tls's encrypted tickets under
// the config's ticket keys.
type ticketStore struct{ config *stdtls.Config }

func (s ticketStore) Wrap(cs stdtls.ConnectionState, ss *stdtls.SessionState) ([]byte, error) {
	return s.config.EncryptTicket(cs, ss)
}

func (s ticketStore) Unwrap(label []byte, cs stdtls.ConnectionState) (*stdtls.SessionState, error) {
	return s.config.DecryptTicket(label, cs)
}

// extraCreated marks the Extra entry that holds a session's issue time.
const extraCreated = "proxyblocks/created:"

// withLifetime bounds sessions from a store to lifetime after issue
// (tune.ssl.lifetime). crypto/tls keeps its own, longer limit and does not
// expose the issue time, so it is carried in SessionState.Extra.
func withLifetime(s SessionStore, lifetime time.Duration, now func() time.Time) (wrap func(stdtls.ConnectionState, *stdtls.SessionState) ([]byte, error), unwrap func([]byte, stdtls.ConnectionState) (*stdtls.SessionState, error)) {
	wrap = func(cs stdtls.ConnectionState, ss *stdtls.SessionState) ([]byte, error) {
		if lifetime > 0 {
			e := make([]byte, len(extraCreated)+8)
			copy(e, extraCreated)
			binary.BigEndian.PutUint64(e[len(extraCreated):], uint64(now().Unix()))
			ss.Extra = append(ss.Extra, e)
		}
		return s.Wrap(cs, ss)
	}
	unwrap = func(label []byte, cs stdtls.ConnectionState) (*stdtls.SessionState, error) {
		ss, err := s.Unwrap(label, cs)
		if err != nil || ss == nil || lifetime <= 0 {
			return ss, err
		}
		for _, e := range ss.Extra {
			if len(e) == len(extraCreated)+8 && string(e[:len(extraCreated)]) == extraCreated {
				created := time.Unix(int64(binary.BigEndian.Uint64(e[len(extraCreated):])), 0)
				if now().Sub(created) > lifetime {
					return nil, nil
				}
				return ss, nil
			}
		}
		// Issued without a time (before a lifetime was set): not trusted.
		return nil, nil
	}
	return wrap, unwrap
}

// MemoryCache is an in-process [SessionCache] holding at most a fixed
// number of sessions, dropping the least recently stored first.
type MemoryCache struct {
	mu    sync.Mutex
	max   int
	order *list.List // front is newest
	items map[[32]byte]*list.Element
}

type memItem struct {
	id   [32]byte
	data []byte
}

// NewMemoryCache returns a cache of at most size sessions (at least 1).
func NewMemoryCache(size int) *MemoryCache {
	if size < 1 {
		size = 1
	}
	return &MemoryCache{max: size, order: list.New(), items: map[[32]byte]*list.Element{}}
}

// Put stores a session.
func (m *MemoryCache) Put(id [32]byte, session []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if el, ok := m.items[id]; ok {
		el.Value.(*memItem).data = session
		m.order.MoveToFront(el)
		return
	}
	m.items[id] = m.order.PushFront(&memItem{id: id, data: session})
	for m.order.Len() > m.max {
		old := m.order.Back()
		m.order.Remove(old)
		delete(m.items, old.Value.(*memItem).id)
	}
}

// Get returns a stored session. Like HAProxy's cache, a hit does not
// refresh the entry's age.
func (m *MemoryCache) Get(id [32]byte) ([]byte, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if el, ok := m.items[id]; ok {
		return el.Value.(*memItem).data, true
	}
	return nil, false
}

// Len returns the number of sessions held.
func (m *MemoryCache) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.order.Len()
}
