package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// More global keywords lb takes without effect, each checked as HAProxy
// 2.6 checks its value: some strictly, some as C's atoi reads a number
// (a word that is no number is 0), some not at all. Each says why it
// changes nothing in lb.

// tuneCheck checks a keyword's arguments.
type tuneCheck func(kw string, a []string) error

// tuneNoEffect are those keywords, with their check and the reason they
// change nothing.
var tuneNoEffect = map[string]struct {
	check tuneCheck
	why   string
}{
	"tune.h2.header-table-size":             {strictRange(4096, 65536), "lb's HTTP/2 announces its own header table size"},
	"tune.h2.max-frame-size":                {strictRange(16384, 16777215), "lb's HTTP/2 announces its own largest frame size"},
	"tune.http.logurilen":                   {atoiArg(false, 0, 0), "lb logs the whole URI"},
	"fd-hard-limit":                         {atoiArg(false, 0, 0), "lb takes the file descriptor limit the system gives, or ulimit-n"},
	"tune.pool-low-fd-ratio":                {atoiArg(true, 0, 100), "lb keeps no pool of idle server connections by file descriptor count"},
	"tune.pool-high-fd-ratio":               {atoiArg(true, 0, 100), "lb keeps no pool of idle server connections by file descriptor count"},
	"tune.pattern.cache-size":               {cacheSizeArg, "lb keeps no cache of pattern lookups"},
	"tune.vars.global-max-size":             {sizeArg, "lb does not cap the memory of variables"},
	"tune.vars.proc-max-size":               {sizeArg, "lb does not cap the memory of variables"},
	"tune.vars.sess-max-size":               {sizeArg, "lb does not cap the memory of variables"},
	"tune.vars.txn-max-size":                {sizeArg, "lb does not cap the memory of variables"},
	"tune.vars.reqres-max-size":             {sizeArg, "lb does not cap the memory of variables"},
	"thread-groups":                         {strictRangeMsg(1, 1), "lb's goroutines are not grouped"},
	"tune.sched.low-latency":                {onOff, "the Go runtime schedules lb's tasks"},
	"tune.idle-pool.shared":                 {onOff, "lb's idle server connections are shared by all its goroutines"},
	"cluster-secret":                        {oneWord("expects an ASCII string argument"), "lb has no QUIC, whose tokens the secret signs"},
	"h2-workaround-bogus-websocket-clients": {noWord, "lb's HTTP/2 never offers WebSocket (extended CONNECT)"},
}

func init() {
	for kw, t := range tuneNoEffect {
		globalKeywords[kw] = func(_ *parser, a []string) error { return t.check(kw, a) }
	}
}

// extra refuses a word after the n the keyword reads.
func extra(kw string, a []string, n int) error {
	if len(a) > n {
		return fmt.Errorf("'%s' cannot handle unexpected argument '%s'", kw, a[n])
	}
	return nil
}

// cAtoi reads a number as C's atoi does: blanks, a sign, then the digits
// up to the first other character; 0 when there are none.
func cAtoi(s string) int {
	s = strings.TrimLeft(s, " \t")
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg, s = s[0] == '-', s[1:]
	}
	n := 0
	for i := 0; i < len(s) && s[i] >= '0' && s[i] <= '9' && n < 1<<30; i++ {
		n = n*10 + int(s[i]-'0')
	}
	if neg {
		return -n
	}
	return n
}

// strictRange takes one integer within [lo, hi].
func strictRange(lo, hi int) tuneCheck {
	return func(kw string, a []string) error {
		if len(a) > 0 {
			if n, err := strconv.Atoi(a[0]); err == nil && n >= lo && n <= hi {
				return extra(kw, a, 1)
			}
		}
		return fmt.Errorf("'%s' expects a numeric value between %d and %d", kw, lo, hi)
	}
}

// strictRangeMsg is strictRange worded as thread-groups is.
func strictRangeMsg(lo, hi int) tuneCheck {
	return func(kw string, a []string) error {
		v := ""
		if len(a) > 0 {
			v = a[0]
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("'%s' passed a missing or unparsable integer value in '%s'", kw, v)
		}
		if n < lo || n > hi {
			return fmt.Errorf("'%s' value must be between %d and %d (was %d)", kw, lo, hi, n)
		}
		return extra(kw, a, 1)
	}
}

// atoiArg takes one number read as atoi reads it, within [lo, hi] when
// ranged.
func atoiArg(ranged bool, lo, hi int) tuneCheck {
	return func(kw string, a []string) error {
		msg := fmt.Sprintf("'%s' expects an integer argument", kw)
		if ranged {
			msg += fmt.Sprintf(" between %d and %d", lo, hi)
		}
		if len(a) == 0 {
			return errors.New(msg)
		}
		if n := cAtoi(a[0]); ranged && (n < lo || n > hi) {
			return errors.New(msg)
		}
		return extra(kw, a, 1)
	}
}

// cacheSizeArg takes a number atoi reads as not negative; words after
// it are not read.
func cacheSizeArg(kw string, a []string) error {
	if len(a) == 0 || cAtoi(a[0]) < 0 {
		return fmt.Errorf("'%s' expects a positive numeric value", kw)
	}
	return nil
}

// sizeArg takes an optional size in bytes, digits after an optional
// sign (HAProxy 2.6 refuses a unit there); words after it are not read.
func sizeArg(kw string, a []string) error {
	if len(a) == 0 {
		return nil
	}
	s := strings.TrimLeft(a[0], " \t")
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return fmt.Errorf("%s: '%s' is an invalid size", kw, a[0])
	}
	return nil
}

// onOff takes "on" or "off".
func onOff(kw string, a []string) error {
	v := ""
	if len(a) > 0 {
		v = a[0]
	}
	if v != "on" && v != "off" {
		return fmt.Errorf("'%s' expects either 'on' or 'off' but got '%s'", kw, v)
	}
	return extra(kw, a, 1)
}

// oneWord takes one word, refusing none with msg.
func oneWord(msg string) tuneCheck {
	return func(kw string, a []string) error {
		if len(a) == 0 {
			return errors.New(msg)
		}
		return extra(kw, a, 1)
	}
}

// noWord takes no argument.
func noWord(kw string, a []string) error { return extra(kw, a, 0) }
