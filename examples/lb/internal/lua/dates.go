package lua

import (
	"strings"
	"time"

	glua "github.com/yuin/gopher-lua"
)

// core.http_date, core.imf_date, core.rfc850_date and core.asctime_date:
// an HTTP date to seconds since the epoch, or nil, read as haproxy 2.6
// reads them: the names of days and months as written in the formats
// (any day of the week goes), every number field of its fixed width
// whatever its value (an hour 25 or a 31st of February rolls over into
// the next ones), "GMT" where the format has it, and nothing checked
// after the date. The result is a 32-bit number, as haproxy's is.

var (
	shortDays = []string{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}
	longDays  = []string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}
	months    = []string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
)

// dateScan reads a date field by field.
type dateScan struct {
	s  string
	ok bool
}

// word takes one of words, reporting its index.
func (d *dateScan) word(words []string) int {
	if d.ok {
		for i, w := range words {
			if strings.HasPrefix(d.s, w) {
				d.s = d.s[len(w):]
				return i
			}
		}
	}
	d.ok = false
	return 0
}

// lit takes lit.
func (d *dateScan) lit(lit string) {
	if d.ok && strings.HasPrefix(d.s, lit) {
		d.s = d.s[len(lit):]
		return
	}
	d.ok = false
}

// num takes n digits; lead allows a space for the first.
func (d *dateScan) num(n int, lead bool) int {
	if !d.ok || len(d.s) < n {
		d.ok = false
		return 0
	}
	v := 0
	for i := range n {
		c := d.s[i]
		switch {
		case c >= '0' && c <= '9':
			v = v*10 + int(c-'0')
		case c == ' ' && lead && i == 0:
		default:
			d.ok = false
			return 0
		}
	}
	d.s = d.s[n:]
	return v
}

// clock takes HH:MM:SS.
func (d *dateScan) clock() (h, m, s int) {
	h = d.num(2, false)
	d.lit(":")
	m = d.num(2, false)
	d.lit(":")
	s = d.num(2, false)
	return h, m, s
}

// epoch is the date's seconds since the epoch, as a 32-bit number.
func epoch(year, month, day, h, m, s int) int64 {
	return int64(int32(time.Date(year, time.Month(month+1), day, h, m, s, 0, time.UTC).Unix()))
}

// imfDate reads "Sun, 06 Nov 1994 08:49:37 GMT".
func imfDate(s string) (int64, bool) {
	d := &dateScan{s: s, ok: true}
	d.word(shortDays)
	d.lit(", ")
	day := d.num(2, false)
	d.lit(" ")
	mon := d.word(months)
	d.lit(" ")
	year := d.num(4, false)
	d.lit(" ")
	h, m, sec := d.clock()
	d.lit(" GMT")
	return epoch(year, mon, day, h, m, sec), d.ok
}

// rfc850Date reads "Sunday, 06-Nov-94 08:49:37 GMT"; a two-digit year
// up to 60 is in the 2000s, as haproxy 2.6.12 reads it, and four digits
// are taken too.
func rfc850Date(s string) (int64, bool) {
	d := &dateScan{s: s, ok: true}
	d.word(longDays)
	d.lit(", ")
	day := d.num(2, false)
	d.lit("-")
	mon := d.word(months)
	d.lit("-")
	year := d.num(2, false)
	if d.ok && len(d.s) >= 2 && d.s[0] >= '0' && d.s[0] <= '9' {
		year = year*100 + d.num(2, false)
	} else if year <= 60 {
		year += 2000
	} else {
		year += 1900
	}
	d.lit(" ")
	h, m, sec := d.clock()
	d.lit(" GMT")
	return epoch(year, mon, day, h, m, sec), d.ok
}

// asctimeDate reads "Sun Nov  6 08:49:37 1994".
func asctimeDate(s string) (int64, bool) {
	d := &dateScan{s: s, ok: true}
	d.word(shortDays)
	d.lit(" ")
	mon := d.word(months)
	d.lit(" ")
	day := d.num(2, true)
	d.lit(" ")
	h, m, sec := d.clock()
	d.lit(" ")
	year := d.num(4, false)
	return epoch(year, mon, day, h, m, sec), d.ok
}

// httpDate reads any of the three.
func httpDate(s string) (int64, bool) {
	for _, f := range []func(string) (int64, bool){imfDate, rfc850Date, asctimeDate} {
		if v, ok := f(s); ok {
			return v, true
		}
	}
	return 0, false
}

// dateFn is a core function reading a date with parse.
func dateFn(parse func(string) (int64, bool)) glua.LGFunction {
	return func(L *glua.LState) int {
		if v, ok := parse(L.CheckString(1)); ok {
			L.Push(glua.LNumber(v))
		} else {
			L.Push(glua.LNil)
		}
		return 1
	}
}
