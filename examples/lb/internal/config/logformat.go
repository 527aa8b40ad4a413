package config

import (
	"errors"
	"fmt"
	"strings"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
)

// LogItem is one piece of a log-format: literal text, a variable
// (HAProxy's name without the %) or a sample expression (%[...]), with
// its flags.
type LogItem struct {
	Text  string // literal text when Var and Expr are empty
	Var   string
	Expr  string // a sample expression, as between %[ and ]: "src,ipmask(24)"
	Quote bool   // %{+Q}: the value between double quotes
	// Hex is %{+X}: addresses, ports, %Ts, %rt and %pid in upper-case
	// hexadecimal, as HAProxy writes them.
	Hex bool
	// Escape is %{+E}: '"', '\\' and ']' in the value preceded by a
	// backslash, as HAProxy writes them.
	Escape bool
}

// logVars are the log-format variables the balancer fills, HAProxy's
// names. The HTTP ones print "-" on a TCP-mode line.
var logVars = map[string]bool{
	"ci": true, "cp": true, "t": true, "tr": true, "ft": true, "f": true, "b": true, "s": true,
	"Tw": true, "Tc": true, "Tt": true, "B": true, "ts": true, "tsc": true,
	"ac": true, "fc": true, "bc": true, "sc": true, "rc": true, "sq": true, "bq": true,
	"pid": true, "H": true, "hr": true, "hs": true, "hrl": true, "hsl": true,
	"ST": true, "TR": true, "Tr": true, "Ta": true, "r": true, "HM": true, "HU": true, "HV": true,
	"trg": true, "ms": true, "CC": true, "CS": true,
	"fi": true, "fp": true, "si": true, "sp": true, "bi": true, "bp": true, "Ts": true, "rt": true, "ID": true,
	"U": true, "HP": true, "HPO": true, "HQ": true, "T": true, "Tl": true, "trl": true, "Th": true, "Ti": true,
	"Tq": true, "Td": true, "Tu": true, "lc": true, "sslv": true, "sslc": true,
}

// TCPLogFormat is HAProxy's tcplog format, in which a TCP frontend
// whose connection went to an HTTP backend (upgraded) logs each request.
const TCPLogFormat = `%ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq`

// CLFLogFormat is the format "option httplog clf" logs in, HAProxy's:
// the Common Log Format's fields first, then HAProxy's own.
const CLFLogFormat = `%{+Q}o %{-Q}ci - - [%trg] %r %ST %B "" "" %cp %ms %ft %b %s %TR %Tw %Tc %Tr %Ta %tsc %ac %fc %bc %sc %rc %sq %bq %CC %CS %hrl %hsl`

// HTTPSLogFormat is the format "option httpslog" logs in, HAProxy's: the
// httplog fields, then the connection's error codes, whether its TLS
// session was resumed, the SNI, the TLS version and the cipher.
const HTTPSLogFormat = `%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r %[fc_err]/%[ssl_fc_err,hex]/%[ssl_c_err]/%[ssl_c_ca_err]/%[ssl_fc_is_resumed] %[ssl_fc_sni]/%sslv/%sslc`

// httpLogVars are the variables HAProxy reserves for HTTP mode: a TCP
// proxy's log-format may not use them.
var httpLogVars = map[string]bool{"TR": true, "Tr": true, "Ta": true, "r": true, "HM": true, "HU": true, "HV": true, "tr": true, "CC": true, "CS": true,
	"trl": true, "Ti": true, "Tq": true, "HP": true, "HPO": true, "HQ": true}

// HTTPOnly reports whether the item is a variable of HTTP mode only.
func (it LogItem) HTTPOnly() bool { return httpLogVars[it.Var] }

// ParseLogFormat reads a log-format string: text, "%%" for a percent
// sign, variables written %name or %{+Q}name, and sample expressions
// written %[fetch,converter...] or %{+Q}[...]; the flags are +Q (quote),
// +X (hexadecimal) and +E (escape), and %{+Q}o (or +X, +E) sets them for
// every item after it that sets none. Other flags are refused by name,
// and so are fetches that read the request or the response themselves,
// as HAProxy refuses them: the message has gone on when the line is
// written.
func ParseLogFormat(s string) ([]LogItem, error) {
	var items []LogItem
	defaultQuote, defaultHex, defaultEscape := false, false, false
	var text strings.Builder
	flush := func() {
		if text.Len() > 0 {
			items = append(items, LogItem{Text: text.String()})
			text.Reset()
		}
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c != '%' {
			text.WriteByte(c)
			i++
			continue
		}
		i++
		if i < len(s) && s[i] == '%' {
			text.WriteByte('%')
			i++
			continue
		}
		item := LogItem{Quote: defaultQuote, Hex: defaultHex, Escape: defaultEscape}
		if i < len(s) && s[i] == '{' {
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return nil, fmt.Errorf("log-format: missing '}' after '%%{' at offset %d", i-1)
			}
			for _, f := range strings.Split(s[i+1:i+end], ",") {
				switch f {
				case "+Q":
					item.Quote = true
				case "-Q":
					item.Quote = false
				case "+X":
					item.Hex = true
				case "-X":
					item.Hex = false
				case "+E":
					item.Escape = true
				case "-E":
					item.Escape = false
				default:
					return nil, fmt.Errorf("%w: log-format flag '%s'", ErrUnsupported, f)
				}
			}
			i += end + 1
		}
		if i < len(s) && s[i] == '[' {
			end := acl.SampleEnd(s[i:])
			if end < 0 {
				return nil, fmt.Errorf("log-format: missing ']' after '%%[' at offset %d", i)
			}
			item.Expr = s[i+1 : i+end]
			if err := checkLogExpr(item.Expr); err != nil {
				return nil, fmt.Errorf("log-format: sample expression '%s' at offset %d: %w", item.Expr, i, err)
			}
			flush()
			items = append(items, item)
			i += end + 1
			continue
		}
		j := i
		for j < len(s) && (s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z') {
			j++
		}
		if j == i {
			return nil, fmt.Errorf("log-format: a variable name must follow '%%' at offset %d", i-1)
		}
		item.Var = s[i:j]
		if item.Var == "o" {
			defaultQuote, defaultHex, defaultEscape = item.Quote, item.Hex, item.Escape
			i = j
			continue
		}
		if !logVars[item.Var] {
			return nil, fmt.Errorf("%w: log-format variable '%%%s'", ErrUnsupported, item.Var)
		}
		flush()
		items = append(items, item)
		i = j
	}
	flush()
	if len(items) == 0 {
		return nil, errors.New("log-format: empty format")
	}
	return items, nil
}

// checkLogExpr compiles a log-format's sample expression, so that a bad
// one stops the start at its line, and refuses the fetches a line may not
// read.
func checkLogExpr(expr string) error {
	if expr == "" {
		return errors.New("empty expression")
	}
	f, _, err := acl.CompileFetch(expr)
	if err != nil {
		return err
	}
	if !acl.LogUsable(f.Name) {
		return fmt.Errorf("%w: fetch '%s' reads the request or the response, which have gone on when the line is written (capture it, or keep it in a variable)", ErrBadValue, f.Name)
	}
	return nil
}
