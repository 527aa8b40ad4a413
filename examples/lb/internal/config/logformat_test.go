package config

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseLogFormat(t *testing.T) {
	items, err := ParseLogFormat(`%ci:%cp [%t] %{+Q}r 100%% %{+Q,-Q}b`)
	require.NoError(t, err)
	require.Equal(t, []LogItem{
		{Var: "ci"}, {Text: ":"}, {Var: "cp"}, {Text: " ["}, {Var: "t"}, {Text: "] "},
		{Var: "r", Quote: true}, {Text: " 100% "}, {Var: "b"},
	}, items)

	items, err = ParseLogFormat("%{+E}o %{+Q}HQ %{-E}[src]")
	require.NoError(t, err)
	require.Equal(t, []LogItem{{Text: " "}, {Var: "HQ", Quote: true, Escape: true}, {Text: " "}, {Expr: "src"}}, items)

	for _, tc := range []struct{ format, want string }{
		{"%[src", "log-format: missing ']' after '%[' at offset 1"},
		{"%[]", "log-format: sample expression '' at offset 1: empty expression"},
		{"%[nosuch]", "log-format: sample expression 'nosuch' at offset 1: unknown fetch method: 'nosuch'"},
		{"a %[src,nosuch]", "log-format: sample expression 'src,nosuch' at offset 3: invalid ACL syntax: unknown converter 'nosuch'"},
		{"%[req.hdr(host)]", "log-format: sample expression 'req.hdr(host)' at offset 1: bad value: fetch 'req.hdr' reads the request or the response, which have gone on when the line is written (capture it, or keep it in a variable)"},
		{"%[path,lower]", "log-format: sample expression 'path,lower' at offset 1: bad value: fetch 'path' reads the request or the response, which have gone on when the line is written (capture it, or keep it in a variable)"},
		{"%zz", "not supported: log-format variable '%zz'"},
		{"%{+Z}ci", "not supported: log-format flag '+Z'"},
		{"%{+Q", "log-format: missing '}' after '%{' at offset 0"},
		{"100%", "log-format: a variable name must follow '%' at offset 3"},
		{"", "log-format: empty format"},
	} {
		_, err := ParseLogFormat(tc.format)
		require.EqualError(t, err, tc.want, "format %q", tc.format)
	}
}

// log-format is checked against the proxy's mode once the section is
// read, as HAProxy checks it, and the error names its line.
func TestLogFormatModes(t *testing.T) {
	c := mustParse(t, "defaults\n  mode http\n  log-format \"%ci %{+Q}r\"\nfrontend f\n  bind :1\n")
	require.Len(t, c.Proxy("f", KindFrontend).LogFormat, 3)

	_, err := parse(t, "defaults\n  log-format \"%ci %HM\"\nfrontend f\n  mode tcp\n  bind :1\n")
	require.ErrorIs(t, err, ErrBadValue)
	require.ErrorContains(t, err, "lb.cfg:2: bad value: frontend 'f': format variable 'HM' is reserved for HTTP mode")

	// The later of log-format and option tcplog (httplog) wins.
	c = mustParse(t, "defaults\n  log-format \"%ci\"\nfrontend f\n  option tcplog\n  bind :1\nfrontend g\n  option tcplog\n  log-format \"%b\"\n  bind :2\n")
	require.Nil(t, c.Proxy("f", KindFrontend).LogFormat)
	require.Len(t, c.Proxy("g", KindFrontend).LogFormat, 1)

	_, err = parse(t, "frontend f\n  log-format %ci %cp\n")
	require.ErrorContains(t, err, "lb.cfg:2: bad value: 'log-format' in 'frontend' section: expects exactly one argument")
}

// Sample expressions are items of their own, with the quote flag of
// their braces or of %{+Q}o.
func TestParseLogFormatExpr(t *testing.T) {
	items, err := ParseLogFormat(`%ci %[src,ipmask(24)] %{+Q}[var(txn.x)]x%{+Q}o %[dst_port]`)
	require.NoError(t, err)
	require.Equal(t, []LogItem{
		{Var: "ci"}, {Text: " "}, {Expr: "src,ipmask(24)"}, {Text: " "}, {Expr: "var(txn.x)", Quote: true},
		{Text: "x "}, {Expr: "dst_port", Quote: true},
	}, items)
	require.False(t, items[2].HTTPOnly())

	// A bad expression stops the start at its line.
	_, err = parse(t, "frontend f\n  bind :1\n  log-format \"%[src,bogus]\"\n")
	require.ErrorContains(t, err, "lb.cfg:3: bad value: 'log-format' in 'frontend' section: log-format: sample expression 'src,bogus' at offset 1")
}

// +X is a flag as +Q is, and %{+X}o sets it for what follows.
func TestLogFormatHexFlag(t *testing.T) {
	items, err := ParseLogFormat(`%{+X}o %ci:%cp_%{-X}fi %{+X,+Q}Ts %rt %ID`)
	require.NoError(t, err)
	var got []string
	for _, it := range items {
		if it.Var != "" {
			got = append(got, fmt.Sprintf("%s:%v:%v", it.Var, it.Hex, it.Quote))
		}
	}
	require.Equal(t, []string{"ci:true:false", "cp:true:false", "fi:false:false", "Ts:true:true", "rt:true:false", "ID:true:false"}, got)
}

func TestLogFormatGlobalFlag(t *testing.T) {
	items, err := ParseLogFormat(`%{+Q}o %{-Q}ci %r %{-Q}s %b`)
	require.NoError(t, err)
	var got []string
	for _, it := range items {
		if it.Var != "" {
			got = append(got, fmt.Sprintf("%s:%v", it.Var, it.Quote))
		}
	}
	require.Equal(t, []string{"ci:false", "r:true", "s:false", "b:true"}, got)
	_, err = ParseLogFormat(CLFLogFormat)
	require.NoError(t, err)
}

func TestOptionHTTPLogCLF(t *testing.T) {
	cfg, err := parse(t, "defaults\n    mode http\nlisten a\n    bind :80\n    log-format %ci\n    option httplog clf\nlisten b\n    bind :81\n    mode tcp\n    option httplog clf\n")
	require.NoError(t, err)
	a, b := cfg.Proxy("a", KindListen), cfg.Proxy("b", KindListen)
	clf, _ := ParseLogFormat(CLFLogFormat)
	require.Equal(t, clf, a.LogFormat, "the later of log-format and the option wins")
	require.Nil(t, b.LogFormat)
	require.True(t, b.Options.TCPLog, "httplog in mode tcp falls back to tcplog")
	require.Contains(t, cfg.Warnings, "lb.cfg:10: 'option httplog' not usable with proxy 'b' (needs 'mode http'). Falling back to 'option tcplog'.")
	_, err = parse(t, "listen a\n    mode http\n    option httplog bogus\n")
	require.ErrorContains(t, err, "'option httplog' only takes 'clf', not 'bogus'")
}

// unique-id-format takes a log-format, but not the fetch of the ID it
// makes.
func TestUniqueIDFormat(t *testing.T) {
	c := mustParse(t, "frontend f\n  bind :1\n  unique-id-format %{+X}o\\ %ci:%cp_%[uuid]\n  unique-id-header X-ID\n")
	f := c.Proxy("f", KindFrontend)
	require.Equal(t, "X-ID", f.UniqueIDHeader)
	// The escaped space is text; +X reaches the variables after it.
	require.Equal(t, []LogItem{{Text: " "}, {Var: "ci", Hex: true}, {Text: ":"}, {Var: "cp", Hex: true}, {Text: "_"}, {Expr: "uuid", Hex: true}}, f.UniqueIDFormat)
	_, err := parse(t, "frontend f\n  bind :1\n  unique-id-format %ci_%[unique-id]\n")
	require.ErrorContains(t, err, "lb.cfg:3: bad value: 'unique-id-format' in 'frontend' section: the format may not use the unique-id fetch, which it makes")
	_, err = parse(t, "frontend f\n  bind :1\n  unique-id-format %zz\n")
	require.ErrorContains(t, err, "log-format variable '%zz'")
}

// The variables of sizes, times, URI parts and TLS parse, and those of
// HTTP mode only are refused in mode tcp, as haproxy 2.6 refuses them.
func TestLogFormatMoreVariables(t *testing.T) {
	all := "%U %B %HP %HPO %HQ %T %Tl %trl %Th %Ti %Tq %Td %Tu %lc %sslv %sslc"
	items, err := ParseLogFormat(all)
	require.NoError(t, err)
	var vars []string
	for _, it := range items {
		if it.Var != "" {
			vars = append(vars, "%"+it.Var)
		}
	}
	require.Equal(t, strings.Fields(all), vars)
	for _, v := range []string{"trl", "Ti", "Tq", "HP", "HPO", "HQ"} {
		_, err := parse(t, "frontend f\n  mode tcp\n  bind :1\n  log-format \"%"+v+"\"\n")
		require.ErrorContains(t, err, "format variable '"+v+"' is reserved for HTTP mode", v)
	}
	mustParse(t, "frontend f\n  mode tcp\n  bind :1\n  log-format \"%U %T %Tl %Th %Td %Tu %lc %sslv %sslc\"\n")
}

// TestTCPLogFormat: the tcplog format upgraded connections log in reads.
func TestTCPLogFormat(t *testing.T) {
	items, err := ParseLogFormat(TCPLogFormat)
	require.NoError(t, err)
	require.NotEmpty(t, items)
}
