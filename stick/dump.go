package stick

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// ErrBadFilter reports a "show table" or "clear table" filter, or a "set
// table" data list, that cannot be parsed. The errors wrapping it are
// *CommandError values whose text is HAProxy's message.
var ErrBadFilter = errors.New("stick: invalid command arguments")

// CommandError is an error in runtime-socket arguments. Its text is the
// message HAProxy prints for the same mistake, so a command-line front end
// can print it as is.
type CommandError struct{ Msg string }

// Error returns the HAProxy-style message.
func (e *CommandError) Error() string { return e.Msg }

// Unwrap lets errors.Is match ErrBadFilter.
func (e *CommandError) Unwrap() error { return ErrBadFilter }

func cmdErr(format string, a ...any) error { return &CommandError{Msg: fmt.Sprintf(format, a...)} }

func errNotStored(t *Table, dt DataType) error {
	return fmt.Errorf("%w: %s in table %q", ErrNotStored, dt, t.name)
}

// Op is a comparison operator of a data filter.
type Op uint8

// Comparison operators, with HAProxy's names.
const (
	OpEq Op = iota // eq
	OpNe           // ne
	OpLe           // le
	OpGe           // ge
	OpLt           // lt
	OpGt           // gt
)

var opNames = [...]string{OpEq: "eq", OpNe: "ne", OpLe: "le", OpGe: "ge", OpLt: "lt", OpGt: "gt"}

// String returns the operator's name.
func (o Op) String() string {
	if int(o) < len(opNames) {
		return opNames[o]
	}
	return "Op(" + strconv.Itoa(int(o)) + ")"
}

func (o Op) match(a, b int64) bool {
	switch o {
	case OpEq:
		return a == b
	case OpNe:
		return a != b
	case OpLe:
		return a <= b
	case OpGe:
		return a >= b
	case OpLt:
		return a < b
	case OpGt:
		return a > b
	}
	return false
}

// DataFilter selects entries whose value of Type compares to Value with
// Op (rates compare their interpolated value).
type DataFilter struct {
	Type  DataType
	Op    Op
	Value int64
}

// Filter selects entries for Dump and Clear. The zero value selects all.
// When Key is set only that key is selected and Data is ignored, as in
// HAProxy.
type Filter struct {
	Key  []byte // in the form GetOrCreate takes; ParseKey builds it from text
	Data []DataFilter
}

// maxDataFilters is how many data filters HAProxy accepts on one command.
const maxDataFilters = 4

func (f *Filter) match(e *Entry) bool {
	if f == nil {
		return true
	}
	for _, d := range f.Data {
		if !d.Op.match(e.Get(d.Type), d.Value) {
			return false
		}
	}
	return true
}

// ParseKey parses a key written as text on the runtime socket: a dotted
// IPv4 address for ip tables (an IPv4-mapped IPv6 address is accepted), an
// IPv6 or IPv4 address for ipv6, a decimal number from 0 to 2^32-1 for
// integer, the text itself for string, and hexadecimal for binary (HAProxy
// refuses binary keys on the socket). The result is what GetOrCreate and
// Lookup take.
func (t *Table) ParseKey(s string) ([]byte, error) {
	switch t.typ {
	case KeyIPv4, KeyIPv6:
		a, err := netip.ParseAddr(s)
		if err == nil && a.Zone() == "" {
			if t.typ == KeyIPv4 && a.Unmap().Is4() {
				b := a.Unmap().As4()
				return b[:], nil
			}
			if t.typ == KeyIPv6 {
				b := a.As16()
				return b[:], nil
			}
		}
	case KeyInteger:
		if v, err := strconv.ParseUint(s, 10, 32); err == nil {
			return binary.BigEndian.AppendUint32(nil, uint32(v)), nil
		}
	case KeyString:
		return []byte(s), nil
	case KeyBinary:
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, fmt.Errorf("%w: %q is not a valid %s key for table %q", ErrBadKey, s, t.typ, t.name)
}

// ParseFilter parses the arguments following the table name in "show
// table" and "clear table": either "key K", or up to four "data.TYPE OP
// VALUE" conditions. Errors are *CommandError with HAProxy's messages;
// their word numbers count the three words "show table NAME" first.
func (t *Table) ParseFilter(args []string) (Filter, error) {
	var f Filter
	for i := 0; i < len(args); {
		switch {
		case args[i] == "key":
			if i+1 >= len(args) || args[i+1] == "" {
				return Filter{}, cmdErr("Key value expected")
			}
			k, err := t.ParseKey(args[i+1])
			if err != nil {
				return Filter{}, cmdErr("Invalid key")
			}
			f.Key = k
			i += 2
		case strings.HasPrefix(args[i], "data."):
			if len(f.Data) == maxDataFilters {
				return Filter{}, cmdErr("Detected extra data in filter, %dth word of input, after '%s'", i+4, args[i-1])
			}
			n := len(f.Data) + 1
			dt, err := LookupDataType(args[i][len("data."):])
			if err != nil {
				return Filter{}, cmdErr("Filter entry #%d: Unknown data type", n)
			}
			if !t.Stores(dt) {
				return Filter{}, cmdErr("Filter entry #%d: Data type not stored in this table", n)
			}
			op := -1
			if i+1 < len(args) {
				op = slices.Index(opNames[:], args[i+1])
			}
			if op < 0 {
				return Filter{}, cmdErr(`Filter entry #%d: Require and operator among "eq", "ne", "le", "ge", "lt", "gt"`, n)
			}
			var v int64
			if i+2 < len(args) {
				v, err = strconv.ParseInt(args[i+2], 10, 64)
			}
			if i+2 >= len(args) || err != nil {
				return Filter{}, cmdErr("Filter entry #%d: Require a valid integer value to compare against", n)
			}
			f.Data = append(f.Data, DataFilter{Type: dt, Op: Op(op), Value: v})
			i += 3
		default:
			return Filter{}, cmdErr("Optional argument only supports \"data.<store_data_type>\" <operator> <value> and key <key>")
		}
	}
	return f, nil
}

// DataValue is a value to store with SetData.
type DataValue struct {
	Type  DataType
	Value int64
}

// ParseSetData parses the "data.TYPE VALUE" pairs of "set table NAME key K
// ...". Errors are *CommandError with HAProxy's messages. With an error it
// also returns the values read before the faulty pair: HAProxy's "set
// table" has created the entry and stored those by the time it complains,
// so a front end doing the same passes them to SetData before printing
// the error.
func (t *Table) ParseSetData(args []string) ([]DataValue, error) {
	var vals []DataValue
	for i := 0; i < len(args); i += 2 {
		name, ok := strings.CutPrefix(args[i], "data.")
		if !ok {
			return vals, cmdErr("\"data.<type>\" followed by a value expected")
		}
		dt, err := LookupDataType(name)
		if err != nil {
			return vals, cmdErr("Unknown data type")
		}
		if !t.Stores(dt) {
			return vals, cmdErr("Data type not stored in this table")
		}
		var v int64
		if i+1 < len(args) {
			v, err = strconv.ParseInt(args[i+1], 10, 64)
		}
		if i+1 >= len(args) || err != nil {
			return vals, cmdErr("Require a valid integer value to store")
		}
		vals = append(vals, DataValue{Type: dt, Value: v})
	}
	return vals, nil
}

// SetData creates the entry for key if needed, stores the values, and
// touches it, like HAProxy's "set table". Every type is checked before
// anything is written.
func (t *Table) SetData(key []byte, vals []DataValue) error {
	for _, v := range vals {
		if !t.Stores(v.Type) {
			return errNotStored(t, v.Type)
		}
	}
	e, err := t.GetOrCreate(key)
	if err != nil {
		return err
	}
	for _, v := range vals {
		_ = e.Set(v.Type, v.Value) // checked above
	}
	e.Touch()
	e.Release()
	return nil
}

// Delete removes the entry for key unless it is in use. It reports
// whether an entry was removed.
func (t *Table) Delete(key []byte) (bool, error) {
	var buf keyBuf
	nk, k32, err := t.normKey(key, &buf)
	if err != nil {
		return false, err
	}
	h := t.hash(nk, k32)
	s := t.shardFor(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.closed.Load() {
		return false, ErrClosed
	}
	e := s.find(t, nk, k32, h)
	return e != nil && t.remove(s, e), nil
}

// Clear removes the entries f selects (all when f is nil or empty),
// skipping those in use, as "clear table" does. It returns how many it
// removed.
func (t *Table) Clear(f *Filter) (int, error) {
	if f != nil && f.Key != nil {
		ok, err := t.Delete(f.Key)
		if ok {
			return 1, err
		}
		return 0, err
	}
	removed := 0
	var items []expItem
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		if t.closed.Load() {
			s.mu.Unlock()
			return removed, ErrClosed
		}
		items = items[:0]
		s.exps.Ascend(func(it expItem) bool { items = append(items, it); return true })
		for _, it := range items {
			if e := s.entry(t, it.idx); f.match(e) && t.remove(s, e) {
				removed++
			}
		}
		s.mu.Unlock()
	}
	return removed, nil
}

// DumpHeader writes the line "show table" prints for the table:
//
//	# table: NAME, type: ip, size:N, used:N
func (t *Table) DumpHeader(w io.Writer) error {
	_, err := fmt.Fprintf(w, "# table: %s, type: %s, size:%d, used:%d\n", t.name, t.typ, t.size, t.current.Load())
	return err
}

// Dump writes the table as HAProxy 2.6's "show table NAME [filter]" does:
// the header line, then one line per selected entry in key order, such as
//
//	0xc000123450: key=1.2.3.4 use=0 exp=29000 gpc0=1 conn_rate(10000)=3
//
// where use is the number of references, exp the milliseconds left, and
// the stored data follow in HAProxy's type order. The address identifies
// the entry only. Dump does not write the empty line that ends a
// runtime-socket answer.
func (t *Table) Dump(w io.Writer, f *Filter) error {
	type line struct {
		key  []byte
		text []byte
	}
	var lines []line
	collect := func(e *Entry) {
		if !f.match(e) {
			return
		}
		lines = append(lines, line{key: bytes.Clone(e.rawKey()), text: t.appendEntry(nil, e)})
	}
	if f != nil && f.Key != nil {
		if e, err := t.Lookup(f.Key); err == nil {
			lines = append(lines, line{text: t.appendEntryRefs(nil, e, e.Refs()-1)})
			e.Release()
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
	} else {
		for i := range t.shards {
			s := &t.shards[i]
			s.mu.Lock()
			if !t.closed.Load() {
				s.exps.Ascend(func(it expItem) bool { collect(s.entry(t, it.idx)); return true })
			}
			s.mu.Unlock()
		}
		slices.SortFunc(lines, func(a, b line) int { return bytes.Compare(a.key, b.key) })
	}
	if err := t.DumpHeader(w); err != nil {
		return err
	}
	for _, l := range lines {
		if _, err := w.Write(l.text); err != nil {
			return err
		}
	}
	return nil
}

func (t *Table) appendEntry(b []byte, e *Entry) []byte { return t.appendEntryRefs(b, e, e.Refs()) }

func (t *Table) appendEntryRefs(b []byte, e *Entry, refs int) []byte {
	b = fmt.Appendf(b, "%p: key=", e)
	kb := e.rawKey()
	switch t.typ {
	case KeyIPv4:
		b = netip.AddrFrom4([4]byte(kb)).AppendTo(b)
	case KeyIPv6:
		b = appendIPv6(b, [16]byte(kb))
	case KeyInteger:
		b = strconv.AppendUint(b, uint64(binary.LittleEndian.Uint32(kb)), 10)
	case KeyString:
		b = appendText(b, kb)
	default:
		b = appendHex(b, kb)
	}
	b = append(b, " use="...)
	b = strconv.AppendInt(b, int64(refs), 10)
	b = append(b, " exp="...)
	b = strconv.AppendUint(b, uint64(e.ExpiresIn()), 10)
	for _, dt := range t.stored {
		l := &t.layout[dt]
		// An array shows one item per element, the element's index
		// after the name: "gpc0=1 gpc1=0 gpc0_rate(10000)=1 ...".
		for i := range int(l.n) {
			b = append(b, ' ')
			b = append(b, dataTypes[dt].name...)
			if dt.IsArray() {
				if l.std == stdFRQP {
					// gpc_rate's index goes between "gpc" and "_rate".
					b = append(b[:len(b)-len("_rate")], strconv.Itoa(i)...)
					b = append(b, "_rate"...)
				} else {
					b = strconv.AppendInt(b, int64(i), 10)
				}
			}
			if l.std == stdFRQP {
				b = append(b, '(')
				b = strconv.AppendUint(b, uint64(l.period), 10)
				b = append(b, ')')
			}
			b = append(b, '=')
			if l.std == stdULL {
				b = strconv.AppendUint(b, e.u64(l.off).Load(), 10)
			} else {
				b = strconv.AppendInt(b, e.GetElem(dt, i), 10)
			}
		}
	}
	return append(b, '\n')
}

// appendIPv6 formats like glibc's inet_ntop, which HAProxy uses: as Go
// does, except that addresses in ::/96 other than :: and ::x end in a
// dotted IPv4 address.
func appendIPv6(b []byte, a [16]byte) []byte {
	zero := true
	for _, c := range a[:12] {
		zero = zero && c == 0
	}
	if zero && (a[12] != 0 || a[13] != 0) {
		b = append(b, "::"...)
		return netip.AddrFrom4([4]byte(a[12:])).AppendTo(b)
	}
	return netip.AddrFrom16(a).AppendTo(b)
}

// appendText escapes a string key as HAProxy's dump_text does: space, '='
// and '\' get a backslash, tab, CR, LF and ESC their C escapes, other
// unprintable bytes \xHH.
func appendText(b, s []byte) []byte {
	for _, c := range s {
		switch {
		case c == ' ' || c == '=' || c == '\\':
			b = append(b, '\\', c)
		case c == '\t':
			b = append(b, '\\', 't')
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == 0x1b:
			b = append(b, '\\', 'e')
		case c > 0x20 && c < 0x7f:
			b = append(b, c)
		default:
			b = append(b, '\\', 'x', hexDigits[c>>4], hexDigits[c&15])
		}
	}
	return b
}

const hexDigits = "0123456789ABCDEF"

func appendHex(b, s []byte) []byte {
	for _, c := range s {
		b = append(b, hexDigits[c>>4], hexDigits[c&15])
	}
	return b
}
