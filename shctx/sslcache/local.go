package sslcache

import "sync"

// localShards splits the process's level so that concurrent handshakes
// rarely share a lock; IDs are random, so their first byte spreads them.
const localShards = 16

// localLevel is the process's own level: a fixed number of slots per
// shard, reused in CLOCK order (a hit sets a reference bit, the hand
// spares a referenced slot once), so that a hit writes one byte and a
// store never allocates bookkeeping. A nil *localLevel is an empty,
// disabled level.
type localLevel struct {
	shards [localShards]localShard
}

type localShard struct {
	mu   sync.Mutex
	idx  map[[IDLen]byte]int32
	ents []localEnt
	max  int
	hand int
	_    [40]byte // keeps neighbouring shards' locks off one cache line
}

type localEnt struct {
	id     [IDLen]byte
	data   []byte // nil for a free slot
	expire int64  // unix nanoseconds
	ref    bool
}

func newLocalLevel(size int) *localLevel {
	per := max(1, (size+localShards-1)/localShards)
	l := &localLevel{}
	for i := range l.shards {
		l.shards[i].idx = make(map[[IDLen]byte]int32, per)
		l.shards[i].ents = make([]localEnt, 0, per)
		l.shards[i].max = per
	}
	return l
}

func (l *localLevel) shard(id *[IDLen]byte) *localShard {
	return &l.shards[id[0]%localShards]
}

func (l *localLevel) put(id [IDLen]byte, data []byte, expire int64) {
	if l == nil {
		return
	}
	s := l.shard(&id)
	s.mu.Lock()
	defer s.mu.Unlock()
	if i, ok := s.idx[id]; ok {
		e := &s.ents[i]
		e.data, e.expire, e.ref = data, expire, true
		return
	}
	var i int
	if len(s.ents) < s.max {
		s.ents = append(s.ents, localEnt{})
		i = len(s.ents) - 1
	} else {
		i = s.victim()
	}
	s.ents[i] = localEnt{id: id, data: data, expire: expire}
	s.idx[id] = int32(i)
}

// victim frees and returns a slot: a free one, else the first
// unreferenced one after clearing the bits the hand passes over.
func (s *localShard) victim() int {
	for {
		i := s.hand
		s.hand = (s.hand + 1) % len(s.ents)
		e := &s.ents[i]
		if e.data == nil {
			return i
		}
		if e.ref {
			e.ref = false
			continue
		}
		delete(s.idx, e.id)
		return i
	}
}

func (l *localLevel) get(id [IDLen]byte, now int64) ([]byte, bool) {
	if l == nil {
		return nil, false
	}
	s := l.shard(&id)
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.idx[id]
	if !ok {
		return nil, false
	}
	e := &s.ents[i]
	if e.expire <= now {
		delete(s.idx, id)
		*e = localEnt{}
		return nil, false
	}
	e.ref = true
	return e.data, true
}

func (l *localLevel) remove(id [IDLen]byte) bool {
	if l == nil {
		return false
	}
	s := l.shard(&id)
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.idx[id]
	if !ok {
		return false
	}
	delete(s.idx, id)
	s.ents[i] = localEnt{}
	return true
}

func (l *localLevel) len() int {
	if l == nil {
		return 0
	}
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.idx)
		s.mu.Unlock()
	}
	return n
}
