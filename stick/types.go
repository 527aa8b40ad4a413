package stick

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// KeyType is the type of a table's keys.
type KeyType uint8

// Key types, named by the words of the "type" argument of a stick-table.
const (
	KeyIPv4    KeyType = iota // "ip" or "ipv4": 4 bytes, network order
	KeyIPv6                   // "ipv6": 16 bytes
	KeyInteger                // "integer": an unsigned 32-bit value
	KeyString                 // "string [len N]": at most N bytes (default 31), cut at the first NUL
	KeyBinary                 // "binary [len N]": exactly N bytes (default 32), zero-padded
)

// keyTypeWords holds the keyword HAProxy prints for each key type in
// "show table" headers.
var keyTypeWords = [...]string{
	KeyIPv4:    "ip",
	KeyIPv6:    "ipv6",
	KeyInteger: "integer",
	KeyString:  "string",
	KeyBinary:  "binary",
}

// String returns the keyword of the key type as written in configurations.
func (k KeyType) String() string {
	if int(k) < len(keyTypeWords) {
		return keyTypeWords[k]
	}
	return "KeyType(" + strconv.Itoa(int(k)) + ")"
}

// Default key lengths for the types that accept "len".
const (
	// DefaultStringLen is the longest string key when no "len" is given.
	// HAProxy reserves 32 bytes including a terminating NUL.
	DefaultStringLen = 31
	// DefaultBinaryLen is the length of binary keys when no "len" is given.
	DefaultBinaryLen = 32
	// MaxKeyLen bounds "len" so that one entry stays a small object.
	MaxKeyLen = 65535
)

// Sentinel errors returned by the parsers and the table. Callers test them
// with errors.Is; the returned errors carry the detail.
var (
	// ErrBadConfig reports an invalid table definition.
	ErrBadConfig = errors.New("stick: invalid table configuration")
	// ErrUnknownDataType reports a data type name this package does not know.
	ErrUnknownDataType = errors.New("stick: unknown data type")
	// ErrNotStored reports a data type the table does not store.
	ErrNotStored = errors.New("stick: data type not stored in this table")
	// ErrBadKey reports a key that does not fit the table's key type.
	ErrBadKey = errors.New("stick: invalid key")
	// ErrTableFull reports that no entry could be created because the
	// table is at its size limit and every entry is in use (or the table
	// is "nopurge").
	ErrTableFull = errors.New("stick: table full")
	// ErrNotFound reports a key absent from the table.
	ErrNotFound = errors.New("stick: key not found")
	// ErrClosed reports use of a closed table.
	ErrClosed = errors.New("stick: table closed")
)

// ParseKeyType parses the words following "type" in a stick-table line:
// a type keyword, optionally followed by "len" and a length for string and
// binary keys. It returns the key type, the key length in bytes (the
// maximum length for strings) and how many words it consumed.
func ParseKeyType(words ...string) (KeyType, int, int, error) {
	if len(words) == 0 {
		return 0, 0, 0, fmt.Errorf("%w: missing key type after 'type'", ErrBadConfig)
	}
	var kt KeyType
	switch words[0] {
	case "ip", "ipv4":
		return KeyIPv4, 4, 1, nil
	case "ipv6":
		return KeyIPv6, 16, 1, nil
	case "integer":
		return KeyInteger, 4, 1, nil
	case "string":
		kt = KeyString
	case "binary":
		kt = KeyBinary
	default:
		return 0, 0, 0, fmt.Errorf("%w: unknown key type %q (want ip, ipv4, ipv6, integer, string or binary)", ErrBadConfig, words[0])
	}
	n := DefaultStringLen
	if kt == KeyBinary {
		n = DefaultBinaryLen
	}
	if len(words) < 2 || words[1] != "len" {
		return kt, n, 1, nil
	}
	if len(words) < 3 {
		return 0, 0, 0, fmt.Errorf("%w: missing length after 'len' for %s keys", ErrBadConfig, words[0])
	}
	v, err := strconv.Atoi(words[2])
	if err != nil || v <= 0 || v > MaxKeyLen {
		return 0, 0, 0, fmt.Errorf("%w: key length %q for %s keys must be an integer from 1 to %d", ErrBadConfig, words[2], words[0], MaxKeyLen)
	}
	return kt, v, 3, nil
}

// DataType identifies a stored data type. Its value is HAProxy's: the
// index of the type and its bit in the peers protocol.
type DataType uint8

// Stored data types, with HAProxy's numbering.
const (
	DataServerID     DataType = 0  // server_id: id of the server the key sticks to (signed)
	DataGPT0         DataType = 1  // gpt0: general purpose tag
	DataGPC0         DataType = 2  // gpc0: general purpose counter
	DataGPC0Rate     DataType = 3  // gpc0_rate(period)
	DataConnCnt      DataType = 4  // conn_cnt: connections counted
	DataConnRate     DataType = 5  // conn_rate(period)
	DataConnCur      DataType = 6  // conn_cur: connections in progress (local gauge)
	DataSessCnt      DataType = 7  // sess_cnt: sessions counted
	DataSessRate     DataType = 8  // sess_rate(period)
	DataHTTPReqCnt   DataType = 9  // http_req_cnt: HTTP requests counted
	DataHTTPReqRate  DataType = 10 // http_req_rate(period)
	DataHTTPErrCnt   DataType = 11 // http_err_cnt: 4xx, invalid or denied requests
	DataHTTPErrRate  DataType = 12 // http_err_rate(period)
	DataBytesInCnt   DataType = 13 // bytes_in_cnt: bytes received from clients (64-bit)
	DataBytesInRate  DataType = 14 // bytes_in_rate(period)
	DataBytesOutCnt  DataType = 15 // bytes_out_cnt: bytes sent to clients (64-bit)
	DataBytesOutRate DataType = 16 // bytes_out_rate(period)
	DataGPC1         DataType = 17 // gpc1: second general purpose counter
	DataGPC1Rate     DataType = 18 // gpc1_rate(period)
	DataHTTPFailCnt  DataType = 20 // http_fail_cnt: server 5xx except 501 and 505
	DataHTTPFailRate DataType = 21 // http_fail_rate(period)
	DataGPT          DataType = 22 // gpt(N): an array of N general purpose tags
	DataGPC          DataType = 23 // gpc(N): an array of N general purpose counters
	DataGPCRate      DataType = 24 // gpc_rate(N,period): an array of N rates

	// dataTypeCount bounds the DataType values this package knows.
	dataTypeCount = 25
)

// MaxArrayLen is the largest element count of an array type, HAProxy's
// limit.
const MaxArrayLen = 100

// Standard storage types of data types.
type stdType uint8

const (
	stdNone stdType = iota
	stdSINT         // signed 32-bit
	stdUINT         // unsigned 32-bit
	stdULL          // unsigned 64-bit
	stdFRQP         // freq.Ctr, 12 bytes, with a period
)

var dataTypes = [dataTypeCount]struct {
	name string
	std  stdType
}{
	DataServerID:     {"server_id", stdSINT},
	DataGPT0:         {"gpt0", stdUINT},
	DataGPC0:         {"gpc0", stdUINT},
	DataGPC0Rate:     {"gpc0_rate", stdFRQP},
	DataConnCnt:      {"conn_cnt", stdUINT},
	DataConnRate:     {"conn_rate", stdFRQP},
	DataConnCur:      {"conn_cur", stdUINT},
	DataSessCnt:      {"sess_cnt", stdUINT},
	DataSessRate:     {"sess_rate", stdFRQP},
	DataHTTPReqCnt:   {"http_req_cnt", stdUINT},
	DataHTTPReqRate:  {"http_req_rate", stdFRQP},
	DataHTTPErrCnt:   {"http_err_cnt", stdUINT},
	DataHTTPErrRate:  {"http_err_rate", stdFRQP},
	DataBytesInCnt:   {"bytes_in_cnt", stdULL},
	DataBytesInRate:  {"bytes_in_rate", stdFRQP},
	DataBytesOutCnt:  {"bytes_out_cnt", stdULL},
	DataBytesOutRate: {"bytes_out_rate", stdFRQP},
	DataGPC1:         {"gpc1", stdUINT},
	DataGPC1Rate:     {"gpc1_rate", stdFRQP},
	DataHTTPFailCnt:  {"http_fail_cnt", stdUINT},
	DataHTTPFailRate: {"http_fail_rate", stdFRQP},
	DataGPT:          {"gpt", stdUINT},
	DataGPC:          {"gpc", stdUINT},
	DataGPCRate:      {"gpc_rate", stdFRQP},
}

func (d DataType) known() bool { return int(d) < dataTypeCount && dataTypes[d].std != stdNone }

// String returns HAProxy's name of the data type, without period.
func (d DataType) String() string {
	if d.known() {
		return dataTypes[d].name
	}
	return "DataType(" + strconv.Itoa(int(d)) + ")"
}

// IsRate reports whether the data type is a rate, which takes a period.
func (d DataType) IsRate() bool { return d.known() && dataTypes[d].std == stdFRQP }

// IsArray reports whether the data type is an array (gpt, gpc and
// gpc_rate), which takes an element count.
func (d DataType) IsArray() bool { return d == DataGPT || d == DataGPC || d == DataGPCRate }

// LookupDataType returns the data type named name, as written after
// "data." on the runtime socket or in a store list (without period).
func LookupDataType(name string) (DataType, error) {
	for i := range dataTypes {
		if dataTypes[i].std != stdNone && dataTypes[i].name == name {
			return DataType(i), nil
		}
	}
	return 0, fmt.Errorf("%w: %q", ErrUnknownDataType, name)
}

// DataSpec is one stored data type and, for rates, its period.
type DataSpec struct {
	Type DataType
	// Period is the rate period; it is required for rates and must be
	// zero for the other types. It is kept with millisecond precision.
	Period time.Duration
	// Count is the number of elements of an array type, from 1 to
	// MaxArrayLen; it must be zero for the other types.
	Count int
}

// String formats the spec as in a store list: "conn_rate(10000)" style
// periods are shown in milliseconds, as HAProxy prints them, and arrays
// as "gpc(3)" or "gpc_rate(3,10000)".
func (s DataSpec) String() string {
	switch {
	case s.Type.IsArray() && s.Type.IsRate():
		return fmt.Sprintf("%s(%d,%d)", s.Type, s.Count, s.Period.Milliseconds())
	case s.Type.IsArray():
		return fmt.Sprintf("%s(%d)", s.Type, s.Count)
	case s.Type.IsRate():
		return fmt.Sprintf("%s(%d)", s.Type, s.Period.Milliseconds())
	}
	return s.Type.String()
}

// maxTicks is the longest delay a wrapping millisecond tick can express.
const maxTicks = 1<<31 - 1

// ParseStore parses a comma-separated store list such as
// "conn_cur,conn_rate(10s),gpc(3),gpc_rate(3,1m)". Periods take HAProxy's
// time units (us, ms, s, m, h, d; ms when none is given); arrays take
// their element count first, from 1 to MaxArrayLen. Errors about arrays
// carry HAProxy's wording.
func ParseStore(list string) ([]DataSpec, error) {
	if list == "" {
		return nil, fmt.Errorf("%w: empty store list", ErrBadConfig)
	}
	var specs []DataSpec
	for list != "" {
		// An item ends at a comma outside parentheses: the arguments of
		// gpc_rate(N,period) hold one.
		item := list
		depth, cut := 0, -1
		for i := 0; i < len(list) && cut < 0; i++ {
			switch list[i] {
			case '(':
				depth++
			case ')':
				depth--
			case ',':
				if depth == 0 {
					cut = i
				}
			}
		}
		list = ""
		if cut >= 0 {
			item, list = item[:cut], item[cut+1:]
		}
		spec, err := parseStoreItem(item)
		if err != nil {
			return nil, err
		}
		specs = append(specs, spec)
	}
	return specs, nil
}

// parseStoreItem parses one item of a store list.
func parseStoreItem(item string) (DataSpec, error) {
	name, arg, hasArg := strings.Cut(item, "(")
	if hasArg {
		var ok bool
		if arg, ok = strings.CutSuffix(arg, ")"); !ok {
			if strings.IndexByte(arg, ')') < 0 {
				return DataSpec{}, fmt.Errorf("%w: missing closing parenthesis after store option '%s'", ErrBadConfig, name)
			}
			return DataSpec{}, fmt.Errorf("%w: unexpected text after ')' in store item %q", ErrBadConfig, item)
		}
	}
	dt, err := LookupDataType(name)
	if err != nil {
		return DataSpec{}, fmt.Errorf("store item %q: %w", item, err)
	}
	spec := DataSpec{Type: dt}
	if dt.IsArray() {
		if !hasArg {
			return DataSpec{}, fmt.Errorf("%w: missing argument to store option '%s' (its element count, as in %s(2))", ErrBadConfig, name, name)
		}
		count, rest, more := strings.Cut(arg, ",")
		n, err := strconv.Atoi(count)
		if err != nil || n < 1 || n > MaxArrayLen {
			return DataSpec{}, fmt.Errorf("%w: array size is out of allowed range (1-%d) for store option '%s' (got %q)", ErrBadConfig, MaxArrayLen, name, count)
		}
		spec.Count = n
		arg, hasArg = rest, more
	}
	switch {
	case dt.IsRate() && !hasArg:
		if dt.IsArray() {
			return DataSpec{}, fmt.Errorf("%w: missing argument to store option '%s' (its period, as in %s(%d,10s))", ErrBadConfig, name, name, spec.Count)
		}
		return DataSpec{}, fmt.Errorf("%w: store item %q needs a period, as in %s(10s)", ErrBadConfig, item, name)
	case !dt.IsRate() && hasArg:
		if dt.IsArray() {
			return DataSpec{}, fmt.Errorf("%w: unexpected argument to store option '%s' (it takes only an element count)", ErrBadConfig, name)
		}
		return DataSpec{}, fmt.Errorf("%w: store item %q takes no argument", ErrBadConfig, item)
	case hasArg:
		d, err := ParseTime(arg)
		if err != nil {
			return DataSpec{}, fmt.Errorf("error when processing store option '%s': %w", name, err)
		}
		if d <= 0 {
			return DataSpec{}, fmt.Errorf("%w: store item %q: period must be positive", ErrBadConfig, item)
		}
		spec.Period = d
	}
	return spec, nil
}

// ParseTime parses a delay in HAProxy's syntax: a non-negative integer
// followed by an optional unit among us, ms, s, m, h and d (default ms).
// The result must fit a 31-bit millisecond tick.
func ParseTime(s string) (time.Duration, error) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("%w: invalid time %q: expected digits and an optional unit", ErrBadConfig, s)
	}
	v, err := strconv.ParseUint(s[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: invalid time %q: %w", ErrBadConfig, s, err)
	}
	var unit time.Duration
	switch s[i:] {
	case "us":
		unit = time.Microsecond
	case "", "ms":
		unit = time.Millisecond
	case "s":
		unit = time.Second
	case "m":
		unit = time.Minute
	case "h":
		unit = time.Hour
	case "d":
		unit = 24 * time.Hour
	default:
		return 0, fmt.Errorf("%w: invalid time %q: unknown unit %q", ErrBadConfig, s, s[i:])
	}
	if v > uint64(maxTicks*time.Millisecond/unit) {
		return 0, fmt.Errorf("%w: time %q is larger than %d ms", ErrBadConfig, s, maxTicks)
	}
	return time.Duration(v) * unit, nil
}

// ParseSize parses an entry count with an optional k, m or g suffix (powers
// of two, as HAProxy reads them: "1m" is 1048576).
func ParseSize(s string) (int, error) {
	num, mul := s, uint64(1)
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 'k', 'K':
			num, mul = s[:n-1], 1<<10
		case 'm', 'M':
			num, mul = s[:n-1], 1<<20
		case 'g', 'G':
			num, mul = s[:n-1], 1<<30
		}
	}
	v, err := strconv.ParseUint(num, 10, 32)
	if err != nil || v == 0 || v*mul > 1<<31-1 {
		return 0, fmt.Errorf("%w: invalid size %q: want a positive integer below 2^31, with an optional k, m or g suffix", ErrBadConfig, s)
	}
	return int(v * mul), nil
}

// ParseConfig builds a Config from the words following "stick-table" on a
// configuration line, for example
//
//	type ip size 1m expire 30s store conn_cur,conn_rate(10s)
//
// It understands type (with len), size, expire, nopurge, store (repeatable)
// and peers (which turns on update tracking). The table's name is not part
// of the line; set Config.Name afterwards.
func ParseConfig(words []string) (Config, error) {
	var cfg Config
	haveType, haveSize := false, false
	for i := 0; i < len(words); {
		w := words[i]
		arg := func() (string, error) {
			if i+1 >= len(words) {
				return "", fmt.Errorf("%w: missing value after %q", ErrBadConfig, w)
			}
			return words[i+1], nil
		}
		switch w {
		case "type":
			kt, n, used, err := ParseKeyType(words[i+1:]...)
			if err != nil {
				return Config{}, err
			}
			cfg.Type, cfg.KeyLen, haveType = kt, n, true
			i += 1 + used
			continue
		case "size":
			a, err := arg()
			if err != nil {
				return Config{}, err
			}
			if cfg.Size, err = ParseSize(a); err != nil {
				return Config{}, err
			}
			haveSize = true
		case "expire":
			a, err := arg()
			if err != nil {
				return Config{}, err
			}
			if cfg.Expire, err = ParseTime(a); err != nil {
				return Config{}, fmt.Errorf("expire: %w", err)
			}
		case "store":
			a, err := arg()
			if err != nil {
				return Config{}, err
			}
			specs, err := ParseStore(a)
			if err != nil {
				return Config{}, err
			}
			cfg.Store = append(cfg.Store, specs...)
		case "peers":
			a, err := arg()
			if err != nil {
				return Config{}, err
			}
			cfg.Peers, cfg.Sync = a, true
		case "nopurge":
			cfg.NoPurge = true
			i++
			continue
		default:
			return Config{}, fmt.Errorf("%w: unsupported stick-table argument %q", ErrBadConfig, w)
		}
		i += 2
	}
	if !haveType {
		return Config{}, fmt.Errorf("%w: stick-table needs 'type'", ErrBadConfig)
	}
	if !haveSize {
		return Config{}, fmt.Errorf("%w: stick-table needs 'size'", ErrBadConfig)
	}
	return cfg, cfg.validate()
}
