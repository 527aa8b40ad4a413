package stick

import (
	"iter"
	"sync"

	"github.com/google/btree"
)

// updates is the table's update sequence: the order in which peers send
// entries. Local updates take the next sequence number; remote ones (learned
// from a peer) take it plus 2^31, the opposite half of the wrapping
// sequence, so a sender walking local updates never sends them back.
type updates struct {
	mu     sync.Mutex
	tree   *btree.BTreeG[updItem]
	update uint32 // last sequence number handed out
	local  uint32 // last local sequence number
	// watchers are told, without blocking, that an update was queued.
	watchers []chan<- struct{}
}

type updItem struct {
	seq uint32
	e   *Entry
}

const (
	updInTree = 1 << iota
	updLocal
	updSeen // the current update was sent to a peer
)

const remoteOffset = 1 << 31

func (u *updates) init() {
	u.tree = btree.NewG(btreeDeg, func(a, b updItem) bool { return a.seq < b.seq })
}

// touch queues e as updated, following HAProxy's rules: a local touch
// takes a new sequence unless the entry already waits, unsent, as a local
// update; a remote touch only when the entry is not queued at all.
func (u *updates) touch(e *Entry, local bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	in := e.updFlags&updInTree != 0
	if local {
		if in && e.updFlags&updSeen == 0 && e.updFlags&updLocal != 0 {
			return
		}
	} else if in {
		return
	}
	if in {
		u.tree.Delete(updItem{seq: e.upd})
	}
	u.update++
	seq := u.update
	flags := uint8(updInTree)
	if local {
		u.local = seq
		flags |= updLocal
	} else {
		seq += remoteOffset
	}
	e.upd, e.updFlags = seq, flags
	if old, ok := u.tree.ReplaceOrInsert(updItem{seq: seq, e: e}); ok && old.e != e {
		// The sequence wrapped onto an entry never updated since: it
		// leaves the tree, as in HAProxy.
		old.e.updFlags = 0
	}
	for _, w := range u.watchers {
		select {
		case w <- struct{}{}:
		default:
		}
	}
}

// unlink removes e from the tree; u.mu must be held.
func (u *updates) unlink(e *Entry) {
	if e.updFlags&updInTree != 0 {
		u.tree.Delete(updItem{seq: e.upd})
		e.updFlags = 0
	}
}

// NotifyUpdates makes the table send on c, without blocking, each time it
// queues an update, until stop is called. Give c a buffer of one: a
// pending signal then stands for every update queued since it was sent.
// Peers use it to wake up when there is something to push. It does
// nothing on a table without Sync (stop is still safe to call).
func (t *Table) NotifyUpdates(c chan<- struct{}) (stop func()) {
	if !t.sync {
		return func() {}
	}
	t.upd.mu.Lock()
	t.upd.watchers = append(t.upd.watchers, c)
	t.upd.mu.Unlock()
	return func() {
		t.upd.mu.Lock()
		defer t.upd.mu.Unlock()
		for i, w := range t.upd.watchers {
			if w == c {
				t.upd.watchers = append(t.upd.watchers[:i:i], t.upd.watchers[i+1:]...)
				return
			}
		}
	}
}

// LastUpdate returns the last update sequence number handed out, local or
// remote (without the 2^31 offset), and the last local one. Both are 0 on
// a table without Sync.
func (t *Table) LastUpdate() (update, local uint32) {
	if !t.sync {
		return 0, 0
	}
	t.upd.mu.Lock()
	defer t.upd.mu.Unlock()
	return t.upd.update, t.upd.local
}

// UpdatesAfter iterates, in increasing order, over the entries whose update
// sequence is greater than after (numerically, without wrapping; a sender
// that wraps calls it again from 0). Each entry is referenced while it is
// yielded, so it may be read, touched and even looked up again; the
// iterator collects entries in batches and holds no lock while yielding.
// It yields nothing on a table without Sync.
func (t *Table) UpdatesAfter(after uint32) iter.Seq2[uint32, *Entry] {
	return func(yield func(uint32, *Entry) bool) {
		if !t.sync {
			return
		}
		var batch [64]updItem
		next := uint64(after) + 1
		for next <= 1<<32-1 {
			items := batch[:0]
			t.upd.mu.Lock()
			t.upd.tree.AscendGreaterOrEqual(updItem{seq: uint32(next)}, func(it updItem) bool {
				it.e.state().Add(1)
				items = append(items, it)
				return len(items) < cap(items)
			})
			t.upd.mu.Unlock()
			for i, it := range items {
				ok := yield(it.seq, it.e)
				it.e.Release()
				if !ok {
					for _, rest := range items[i+1:] {
						rest.e.Release()
					}
					return
				}
			}
			if len(items) < cap(batch) {
				return
			}
			next = uint64(items[len(items)-1].seq) + 1
		}
	}
}
