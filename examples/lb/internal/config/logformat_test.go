package config

import (
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

	for _, tc := range []struct{ format, want string }{
		{"%[src]", "not supported: log-format sample expression at offset 1"},
		{"%zz", "not supported: log-format variable '%zz'"},
		{"%{+X}ci", "not supported: log-format flag '+X'"},
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
