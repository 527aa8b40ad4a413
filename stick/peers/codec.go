package peers

import (
	"errors"
	"fmt"
	"strings"

	"github.com/proxyblocks/proxyblocks/stick"
)

// Storage kinds of HAProxy's data types, to decode (or skip) every value a
// peer may send, including types this package does not store.
type wireStd uint8

const (
	wNone wireStd = iota
	wSINT
	wUINT
	wULL
	wFRQP
	wDICT
	wUINTArr
	wFRQPArr
)

// wireTypes gives the storage kind of each data type id HAProxy defines,
// in its numbering (the bit in a table definition).
var wireTypes = [...]wireStd{
	0: wSINT, 1: wUINT, 2: wUINT, 3: wFRQP, 4: wUINT, 5: wFRQP, 6: wUINT,
	7: wUINT, 8: wFRQP, 9: wUINT, 10: wFRQP, 11: wUINT, 12: wFRQP,
	13: wULL, 14: wFRQP, 15: wULL, 16: wFRQP, 17: wUINT, 18: wFRQP,
	19: wDICT, 20: wUINT, 21: wFRQP, 22: wUINTArr, 23: wUINTArr,
	24: wFRQPArr, 25: wUINT, 26: wFRQP,
}

// maxArray bounds the element count of an array type (HAProxy's limit).
const maxArray = 100

// shared is a table the section shares, and what the protocol says of it.
type shared struct {
	t     *stick.Table
	id    uint64 // local id on the wire, 1-based
	name  string
	ktype uint64
	klen  uint64
	bits  uint64
	types []stick.DataType // the stored types, in the order values go
	def   []byte           // the whole definition message
}

func newShared(t *stick.Table, id uint64) (*shared, error) {
	st := &shared{t: t, id: id, name: t.Name()}
	if i := strings.IndexByte(st.name, '/'); i >= 0 {
		// HAProxy names a table declared in a peers section
		// "SECTION/NAME" and sends it as "/NAME".
		st.name = st.name[i:]
	}
	switch t.KeyType() {
	case stick.KeyIPv4:
		st.ktype, st.klen = wireKeyIPv4, 4
	case stick.KeyIPv6:
		st.ktype, st.klen = wireKeyIPv6, 16
	case stick.KeyInteger:
		st.ktype, st.klen = wireKeySINT, 4
	case stick.KeyString:
		// HAProxy counts the terminating NUL in the key size.
		st.ktype, st.klen = wireKeyStr, uint64(t.KeyLen())+1
	case stick.KeyBinary:
		st.ktype, st.klen = wireKeyBin, uint64(t.KeyLen())
	default:
		return nil, fmt.Errorf("peers: table %q: key type %v cannot be shared", st.name, t.KeyType())
	}
	if st.name == "" {
		return nil, errors.New("peers: a shared table needs a name")
	}
	st.types = t.StoredTypes()
	for _, dt := range st.types {
		st.bits |= 1 << dt
	}
	body := AppendVarint(nil, id)
	body = AppendVarint(body, uint64(len(st.name)))
	body = append(body, st.name...)
	body = AppendVarint(body, st.ktype)
	body = AppendVarint(body, st.klen)
	body = AppendVarint(body, st.bits)
	body = AppendVarint(body, uint64(t.ExpireAfter().Milliseconds()))
	// Rates and arrays give their parameters, in type order: the type,
	// an array's element count, a rate's period.
	for _, dt := range t.StoredTypes() {
		if dt.IsRate() || dt.IsArray() {
			body = AppendVarint(body, uint64(dt))
		}
		if dt.IsArray() {
			body = AppendVarint(body, uint64(t.Elems(dt)))
		}
		if dt.IsRate() {
			body = AppendVarint(body, uint64(t.Period(dt).Milliseconds()))
		}
	}
	st.def = appendMsg(nil, classTable, msgDefine, body)
	return st, nil
}

// appendMsg appends a message with a body (its type has bit 7 set).
func appendMsg(b []byte, class, typ byte, body []byte) []byte {
	b = append(b, class, typ)
	b = AppendVarint(b, uint64(len(body)))
	return append(b, body...)
}

// appendEntry appends the body of an update for e: the key and every
// stored value, in the order of the table's definition. id is written
// unless incremental; expire (ms left) only for timed updates.
func (st *shared) appendEntry(b []byte, e *stick.Entry, id uint32, inc, timed bool) []byte {
	if !inc {
		b = appendU32(b, id)
	}
	if timed {
		b = appendU32(b, e.ExpiresIn())
	}
	n := len(b)
	b = e.AppendKey(b)
	switch st.ktype {
	case wireKeyStr:
		// The length goes first: move the key behind it.
		var lb [10]byte
		l := AppendVarint(lb[:0], uint64(len(b)-n))
		b = append(b, l...)
		copy(b[n+len(l):], b[n:len(b)-len(l)])
		copy(b[n:], l)
	case wireKeyBin:
		for len(b)-n < int(st.klen) {
			b = append(b, 0)
		}
	}
	now := st.t.Now()
	for _, dt := range st.types {
		// An array's elements follow one another, each encoded as a
		// scalar of its kind; the count was in the definition.
		for i := range st.t.Elems(dt) {
			if dt.IsRate() {
				tick, curr, prev := e.CtrElem(dt, i).Snapshot()
				b = AppendVarint(b, uint64(now-tick))
				b = AppendVarint(b, uint64(curr))
				b = AppendVarint(b, uint64(prev))
			} else {
				// server_id, signed, is sign-extended, as HAProxy
				// sends a negative int.
				b = AppendVarint(b, uint64(e.GetElem(dt, i)))
			}
		}
	}
	return b
}

// remoteDef is a table as a remote peer defined it.
type remoteDef struct {
	st     *shared // the local table it matched, nil if none
	id     uint64
	bits   uint64
	nbelem [len(wireTypes)]uint64
	// lastGet is the id of the last update received; acked is the last
	// one acknowledged.
	lastGet, acked uint32
	got            bool
}

// parseDefine reads a table definition body and matches it with the
// local tables. A definition that names no local table, one with a
// different key, or one whose parameters are missing or not as announced
// is kept with st nil, as HAProxy ignores it: its updates are read and
// dropped. One cut before its data types is a protocol error.
func parseDefine(body []byte, tables []*shared) (*remoteDef, error) {
	r := reader{b: body}
	d := &remoteDef{id: r.varint()}
	name := r.bytes(r.varint())
	ktype, klen := r.varint(), r.varint()
	d.bits = r.varint()
	if r.err != nil {
		return nil, r.err
	}
	hasExpire := len(r.b) > 0
	if hasExpire {
		r.varint() // the sender's expire; updates carry their own when timed
		if r.err != nil {
			return nil, r.err
		}
	}
	match := true
	for i := range 64 {
		if d.bits&(1<<i) == 0 {
			continue
		}
		if i >= len(wireTypes) || wireTypes[i] == wNone {
			return nil, fmt.Errorf("table %q: unknown data type %d", name, i)
		}
		switch wireTypes[i] {
		case wFRQP:
			if !hasExpire {
				// An old sender: no parameters follow, and HAProxy
				// takes the definition as it is.
				continue
			}
			if r.varint() != uint64(i) {
				match = false
			}
			r.varint() // period: not compared, as in HAProxy
		case wUINTArr, wFRQPArr:
			if !hasExpire {
				match = false
				continue
			}
			if r.varint() != uint64(i) {
				match = false
			}
			d.nbelem[i] = r.varint()
			if r.err != nil {
				break
			}
			if d.nbelem[i] == 0 || d.nbelem[i] > maxArray {
				return nil, fmt.Errorf("table %q: array of %d elements for data type %d", name, d.nbelem[i], i)
			}
			if wireTypes[i] == wFRQPArr {
				r.varint()
			}
		}
	}
	if r.err != nil || !match {
		// Parameters missing or not as announced: HAProxy ignores
		// such a definition, and so the updates that follow it.
		return d, nil
	}
	for _, st := range tables {
		if st.name == string(name) && st.ktype == ktype && st.klen == klen {
			d.st = st
			break
		}
	}
	return d, nil
}

// applyUpdate reads an update body for table d and stores it. It returns
// the update id (id of the previous update + 1 when inc).
func applyUpdate(body []byte, d *remoteDef, prev uint32, inc, timed bool) (uint32, error) {
	r := reader{b: body}
	id := prev + 1
	if !inc {
		id = r.u32()
	}
	var expire uint32
	if timed {
		expire = r.u32()
	}
	st := d.st
	var key []byte
	switch st.ktype {
	case wireKeyStr:
		n := r.varint()
		if n > maxBody {
			return 0, fmt.Errorf("key of %d bytes", n)
		}
		key = r.bytes(n)
	default:
		key = r.bytes(st.klen)
	}
	if r.err != nil {
		return 0, r.err
	}
	// Read every value first: a malformed message changes nothing. The
	// values are then read again and stored, which needs no room for the
	// up to three hundred numbers of an array of rates.
	values := r
	if err := d.walkValues(&r, 0, nil); err != nil {
		return 0, err
	}
	e, err := st.t.GetOrCreate(key)
	if err != nil {
		// A full table that evicts nothing, or a key the table refuses:
		// the update is dropped, as HAProxy drops it.
		return id, nil
	}
	_ = d.walkValues(&values, st.t.Now(), e)
	e.TouchRemote()
	if timed && st.t.ExpireAfter() > 0 {
		// The time the sender gives, even beyond the table's own expire:
		// HAProxy 2.6 does not cap it (later versions do). Ticks wrap
		// past 2^31-1 ms.
		e.SetExpire(min(expire, 1<<31-1))
	}
	e.Release()
	return id, nil
}

// walkValues reads the values of an update, in the order of the remote
// definition, and stores them in e unless e is nil. Types the table does
// not store, array elements beyond its count and conn_cur (this process's
// own connections) are read and dropped, as HAProxy drops them; elements
// the remote array lacks are left alone.
func (d *remoteDef) walkValues(r *reader, now uint32, e *stick.Entry) error {
	for i := range len(wireTypes) {
		if d.bits&(1<<i) == 0 {
			continue
		}
		dt := stick.DataType(i)
		keep := e != nil && dt != stick.DataConnCur
		n := uint64(1)
		if wireTypes[i] == wUINTArr || wireTypes[i] == wFRQPArr {
			n = d.nbelem[i]
		}
		for idx := range n {
			switch wireTypes[i] {
			case wSINT, wUINT, wULL, wUINTArr:
				v := r.varint()
				if keep && r.err == nil {
					_ = e.SetElem(dt, int(idx), int64(v))
				}
			case wFRQP, wFRQPArr:
				age := uint32(r.varint())
				c, p := uint32(r.varint()), uint32(r.varint())
				if keep && r.err == nil {
					if ctr := e.CtrElem(dt, int(idx)); ctr != nil {
						ctr.Set((now-age)&^1, c, p)
					}
				}
			case wDICT:
				r.bytes(r.varint())
			}
		}
		if r.err != nil {
			return r.err
		}
	}
	return nil
}
