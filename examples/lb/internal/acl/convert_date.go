package acl

import (
	"fmt"
	"strconv"
	"time"
)

// The date converters of HAProxy 2.6: http_date([offset[,unit]]) and
// ltime and utime(format[,offset]), which format a date given in
// seconds (or ms or us) since the epoch. As HAProxy does, they keep the
// seconds' low 55 bits, so a negative date lands far in the future.

const dateMask = 1<<55 - 1

func init() {
	converters["http_date"] = converter{ArgOptional, TypeStr, func(a []string) (ConvFunc, error) {
		if len(a) > 2 {
			return nil, fmt.Errorf("expects [<offset>[,<unit>]]")
		}
		var off int64
		if len(a) > 0 && a[0] != "" {
			var err error
			if off, err = intArg(a[0]); err != nil {
				return nil, err
			}
		}
		div, digits := int64(1), false
		if len(a) > 1 {
			switch a[1] {
			case "s":
			case "ms":
				div, digits = 1000, true
			case "us":
				div, digits = 1000000, true
			default:
				return nil, fmt.Errorf("expects 's', 'ms' or 'us', got '%s'", a[1])
			}
		}
		return func(s Sample) (Sample, bool) {
			v, ok := smpInt(s)
			if !ok || s.Type == TypeIP {
				return Sample{}, false
			}
			v += off
			sec, frac := v/div, v%div
			t := time.Unix(sec&dateMask, 0).UTC()
			b := make([]byte, 0, 40)
			b = append(b, t.Weekday().String()[:3]...)
			b = append(b, ", "...)
			b = appendPad(b, int64(t.Day()), 2, '0')
			b = append(b, ' ')
			b = append(b, t.Month().String()[:3]...)
			b = append(b, ' ')
			b = strconv.AppendInt(b, int64(t.Year()), 10)
			b = append(b, ' ')
			b = appendPad(b, int64(t.Hour()), 2, '0')
			b = append(b, ':')
			b = appendPad(b, int64(t.Minute()), 2, '0')
			b = append(b, ':')
			b = appendPad(b, int64(t.Second()), 2, '0')
			if digits { // HAProxy writes the fraction without padding
				b = append(b, '.')
				b = strconv.AppendInt(b, frac, 10)
			}
			b = append(b, " GMT"...)
			return Str(string(b)), true
		}, nil
	}}
	for _, name := range []string{"ltime", "utime"} {
		local := name == "ltime"
		converters[name] = converter{ArgOptional, TypeStr, func(a []string) (ConvFunc, error) {
			if len(a) > 2 {
				return nil, fmt.Errorf("expects <format>[,<offset>]")
			}
			var format string
			if len(a) > 0 {
				format = a[0]
			}
			var off int64
			if len(a) > 1 && a[1] != "" {
				var err error
				if off, err = intArg(a[1]); err != nil {
					return nil, err
				}
			}
			return func(s Sample) (Sample, bool) {
				v, ok := smpInt(s)
				if !ok || s.Type == TypeIP {
					return Sample{}, false
				}
				t := time.Unix((v+off)&dateMask, 0)
				if local {
					t = t.Local()
				} else {
					t = t.UTC()
				}
				var arr [64]byte
				return Str(string(strftime(arr[:0], format, t, !local, time.Local))), true
			}, nil
		}}
	}
}

// appendPad appends n in decimal, padded to width with pad (none when
// pad is 0).
func appendPad(b []byte, n int64, width int, pad byte) []byte {
	var d [24]byte
	s := strconv.AppendInt(d[:0], n, 10)
	if pad != 0 {
		for i := len(s); i < width; i++ {
			b = append(b, pad)
		}
	}
	return append(b, s...)
}

var (
	dayNames   = [...]string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}
	monthNames = [...]string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
)

// strftime appends t formatted as glibc's strftime does in the C
// locale: conversions with the flags _ - 0 ^ #, a width, and the E and
// O modifiers (which change nothing there); an unknown conversion is
// written as it stands. utc says t comes from gmtime (its zone is then
// named GMT); %s reads t's broken-down time as a time in zone, as glibc's
// mktime reads it in the local zone.
func strftime(b []byte, format string, t time.Time, utc bool, zone *time.Location) []byte {
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			b = append(b, c)
			continue
		}
		start := i
		var pad byte // 0: the conversion's own; '_', '-' or '0'
		upper, swap := false, false
	flags:
		for i+1 < len(format) {
			switch f := format[i+1]; f {
			case '_', '-', '0':
				pad = f
			case '^':
				upper = true
			case '#':
				swap = true
			default:
				break flags
			}
			i++
		}
		width := -1
		for i+1 < len(format) && format[i+1] >= '0' && format[i+1] <= '9' {
			if width < 0 {
				width = 0
			}
			width = width*10 + int(format[i+1]-'0')
			i++
		}
		if i+1 < len(format) && (format[i+1] == 'E' || format[i+1] == 'O') {
			i++
		}
		if i+1 >= len(format) {
			return append(b, format[start:]...)
		}
		i++
		num := func(n int64, digits int, defPad byte) {
			p := defPad
			if pad == '_' {
				p = ' '
			} else if pad == '0' {
				p = '0'
			}
			w := digits
			if width >= 0 {
				w = width
			}
			if pad == '-' { // no padding, but spaces up to a width given
				p, w = ' ', max(width, 0)
			}
			if n < 0 {
				b = append(b, '-')
				n = -n
				w--
			}
			if p == ' ' {
				for s := len(strconv.FormatInt(n, 10)); s < w; s++ {
					b = append(b, ' ')
				}
				b = strconv.AppendInt(b, n, 10)
				return
			}
			b = appendPad(b, n, w, '0')
		}
		str := func(v string, lowerOnSwap bool) {
			switch {
			case upper || swap && !lowerOnSwap:
				v = asciiCase(v, 'a', 'z', 'A'-'a')
			case swap:
				v = asciiCase(v, 'A', 'Z', 'a'-'A')
			}
			p := byte(' ')
			if pad == '0' {
				p = '0'
			}
			for n := len(v); n < width; n++ {
				b = append(b, p)
			}
			b = append(b, v...)
		}
		sub := func(f string) {
			if width < 0 && !upper && !swap {
				b = strftime(b, f, t, utc, zone)
				return
			}
			str(string(strftime(nil, f, t, utc, zone)), false)
		}
		year, yday, wday := int64(t.Year()), t.YearDay()-1, int(t.Weekday())
		hour12 := t.Hour() % 12
		if hour12 == 0 {
			hour12 = 12
		}
		switch conv := format[i]; conv {
		case 'a':
			str(dayNames[wday][:3], false)
		case 'A':
			str(dayNames[wday], false)
		case 'b', 'h':
			str(monthNames[t.Month()-1][:3], false)
		case 'B':
			str(monthNames[t.Month()-1], false)
		case 'c':
			sub("%a %b %e %H:%M:%S %Y")
		case 'C':
			num(year/100, 2, '0')
		case 'd':
			num(int64(t.Day()), 2, '0')
		case 'D', 'x':
			sub("%m/%d/%y")
		case 'e':
			num(int64(t.Day()), 2, ' ')
		case 'F':
			sub("%Y-%m-%d")
		case 'g':
			y, _ := t.ISOWeek()
			num(int64(y%100), 2, '0')
		case 'G':
			y, _ := t.ISOWeek()
			num(int64(y), 1, '0')
		case 'H':
			num(int64(t.Hour()), 2, '0')
		case 'I':
			num(int64(hour12), 2, '0')
		case 'j':
			num(int64(yday+1), 3, '0')
		case 'k':
			num(int64(t.Hour()), 2, ' ')
		case 'l':
			num(int64(hour12), 2, ' ')
		case 'm':
			num(int64(t.Month()), 2, '0')
		case 'M':
			num(int64(t.Minute()), 2, '0')
		case 'n':
			str("\n", false)
		case 'p', 'P':
			v := "AM"
			if t.Hour() >= 12 {
				v = "PM"
			}
			if conv == 'P' {
				v = asciiCase(v, 'A', 'Z', 'a'-'A')
			}
			str(v, true)
		case 'r':
			sub("%I:%M:%S %p")
		case 'R':
			sub("%H:%M")
		case 's':
			u := t
			if t.Location() != zone {
				u = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, zone)
			}
			num(u.Unix(), 1, '0')
		case 'S':
			num(int64(t.Second()), 2, '0')
		case 't':
			str("\t", false)
		case 'T', 'X':
			sub("%H:%M:%S")
		case 'u':
			num(int64((wday+6)%7+1), 1, '0')
		case 'U':
			num(int64((yday+7-wday)/7), 2, '0')
		case 'V':
			_, w := t.ISOWeek()
			num(int64(w), 2, '0')
		case 'w':
			num(int64(wday), 1, '0')
		case 'W':
			num(int64((yday+7-(wday+6)%7)/7), 2, '0')
		case 'y':
			num(year%100, 2, '0')
		case 'Y':
			num(year, 1, '0')
		case 'z':
			_, off := t.Zone()
			sign := byte('+')
			if off < 0 {
				sign, off = '-', -off
			}
			b = append(b, sign)
			b = appendPad(b, int64(off/3600*100+off%3600/60), 4, '0')
		case 'Z':
			name, _ := t.Zone()
			if utc {
				name = "GMT" // as gmtime names it
			}
			str(name, true)
		case '%':
			str("%", false)
		default:
			b = append(b, format[start:i+1]...)
		}
	}
	return b
}
