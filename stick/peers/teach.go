package peers

import (
	"github.com/proxyblocks/proxyblocks/stick"
)

// Teach copies every entry of src into dst as a full resync over a
// session would, without a connection: what HAProxy's old process sends
// its successor through the local peer on a reload, so that a program
// reloading in place can hand its tables over the same way.
//
// The two tables are matched as a peer's definition is: by name, key type
// and key length (a string table's length included). When they do not
// match nothing is copied and Teach returns false. Otherwise every entry
// of src travels, in update order, with the values of the data types dst
// stores too (conn_cur never: it counts a process's own connections;
// array elements beyond dst's count are dropped; rate counters keep
// their current and previous periods), and with the time it has left,
// even beyond dst's expire, as HAProxy 2.6 keeps it. In dst the entries count as learned from a peer: a
// Section sharing dst does not push them as its own updates.
//
// src needs stick.Config.Sync, as every shared table does; a table
// without it has no update order and gives nothing. Both tables may be
// in use meanwhile.
func Teach(dst, src *stick.Table) (bool, error) {
	from, err := newShared(src, 1)
	if err != nil {
		return false, err
	}
	to, err := newShared(dst, 1)
	if err != nil {
		return false, err
	}
	d, err := parseDefine(from.defBody(), []*shared{to})
	if err != nil {
		return false, err
	}
	if d.st == nil {
		return false, nil
	}
	var b []byte
	for _, e := range src.UpdatesAfter(0) {
		b = from.appendEntry(b[:0], e, 0, true, true)
		if _, err := applyUpdate(b, d, 0, true, true); err != nil {
			return true, err
		}
	}
	return true, nil
}

// defBody returns the body of the table's definition message.
func (st *shared) defBody() []byte {
	_, n := Varint(st.def[2:])
	return st.def[2+n:]
}
