package acl

import (
	"fmt"
	"io"
	"os"
	"sync"
)

// The converters not and debug, as HAProxy 2.6 has them.

// DebugOutput returns where the debug converter writes for the sink
// named "stdout" or "stderr": the process's own by default; a program
// (or a test) may replace it before the configuration is compiled.
var DebugOutput = func(sink string) io.Writer {
	if sink == "stdout" {
		return os.Stdout
	}
	return os.Stderr
}

// debugMu keeps the debug converter's lines whole.
var debugMu sync.Mutex

func init() {
	// not: the boolean negation of the sample read as a boolean (an
	// integer other than 0, a string starting with one), as HAProxy
	// casts it.
	converters["not"] = converter{ArgNone, TypeBool, func([]string) (ConvFunc, error) {
		return func(s Sample) (Sample, bool) {
			b, ok := sampleBool(s)
			return Bool(!b), ok
		}, nil
	}}
	// debug([prefix][,sink]): passes the sample on unchanged and writes
	// "[debug] prefix: type=T <value>" to the sink, stdout or stderr
	// (HAProxy's rings, buf0 by default, are not offered).
	converters["debug"] = converter{ArgOptional, 0, func(a []string) (ConvFunc, error) {
		if len(a) > 2 {
			return nil, fmt.Errorf("expects [<prefix>][,<destination>]")
		}
		prefix, sink := "", "buf0"
		if len(a) > 0 {
			prefix = a[0]
		}
		if len(a) > 1 && a[1] != "" {
			sink = a[1]
		}
		if sink != "stdout" && sink != "stderr" {
			return nil, fmt.Errorf("%w: sink '%s' (only stdout and stderr; lb has no ring buffers)", ErrUnsupportedConv, sink)
		}
		w := DebugOutput(sink)
		return func(s Sample) (Sample, bool) {
			line := fmt.Appendf(nil, "[debug] %s: type=%s <", prefix, debugType(s))
			for _, c := range []byte(s.String()) {
				if c < 0x20 || c >= 0x7f {
					c = '.'
				}
				line = append(line, c)
			}
			line = append(line, ">\n"...)
			debugMu.Lock()
			_, _ = w.Write(line)
			debugMu.Unlock()
			return s, true
		}, nil
	}}
}

// ErrUnsupportedConv means a converter is known but lb cannot do what
// its arguments ask.
var ErrUnsupportedConv = fmt.Errorf("not supported")

// sampleBool reads a sample as a boolean, as HAProxy casts one; an
// address and an empty string have no boolean value.
func sampleBool(s Sample) (bool, bool) {
	switch s.Type {
	case TypeBool, TypeInt:
		return s.Int != 0, true
	case TypeStr:
		n, ok := smpInt(s) // an empty string has none
		return n != 0, ok
	}
	return false, false
}

// debugType names a sample's type as HAProxy's debug converter does.
func debugType(s Sample) string {
	switch s.Type {
	case TypeBool:
		return "bool"
	case TypeInt:
		return "sint"
	case TypeIP:
		if s.IP.Is4() {
			return "ipv4"
		}
		return "ipv6"
	}
	return "str"
}
