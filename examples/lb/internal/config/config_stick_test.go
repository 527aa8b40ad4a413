package config

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/stick"
	"github.com/stretchr/testify/require"
)

// addrs is an acl.Context with fixed addresses.
type addrs struct{ src, dst netip.AddrPort }

func (a addrs) Src() netip.AddrPort { return a.src }
func (a addrs) Dst() netip.AddrPort { return a.dst }

func TestStickSample(t *testing.T) {
	c, err := ParseFiles("../../testdata/stick.cfg")
	require.NoError(t, err)
	require.Equal(t, []StatsSocket{{Pos: Pos{"../../testdata/stick.cfg", 3}, Network: "unix", Path: "/tmp/lb-stick-sample.sock", Mode: 0o600, Level: "admin", UID: -1, GID: -1}}, c.Global.StatsSockets)

	fe := c.Proxy("fe", KindFrontend)
	require.NotNil(t, fe.Stick.Table)
	tc := fe.Stick.Table.Config
	require.Equal(t, "fe", tc.Name)
	require.Equal(t, stick.KeyIPv4, tc.Type)
	require.Equal(t, 100*1024, tc.Size)
	require.Equal(t, 30*time.Second, tc.Expire)
	require.Contains(t, tc.Store, stick.DataSpec{Type: stick.DataConnRate, Period: 10 * time.Second})
	require.Equal(t, 2, fe.ACLs.Len())

	rules := fe.Stick.ConnRules
	require.Len(t, rules, 6)
	require.Equal(t, "accept", rules[0].Action)
	require.Equal(t, "track-sc", rules[1].Action)
	require.Equal(t, 0, rules[1].Slot)
	require.Equal(t, "src", rules[1].Key)
	require.Equal(t, "", rules[1].Table)
	require.Nil(t, rules[1].Cond)
	require.Equal(t, 1, rules[2].Slot)
	require.Equal(t, "per_ip", rules[2].Table)
	require.Equal(t, "reject", rules[3].Action)
	require.Equal(t, "silent-drop", rules[4].Action)
	require.Equal(t, 22, rules[4].Pos.Line)

	// The conditions are compiled against the proxy's ACLs.
	lan := addrs{netip.MustParseAddrPort("192.168.1.1:1000"), netip.MustParseAddrPort("127.0.0.1:18480")}
	wan := addrs{netip.MustParseAddrPort("8.8.8.8:1000"), netip.MustParseAddrPort("127.0.0.1:18481")}
	require.True(t, rules[0].Cond.Eval(lan))
	require.False(t, rules[0].Cond.Eval(wan))
	require.False(t, rules[5].Cond.Eval(lan), "unless dst_port 18480")
	require.True(t, rules[5].Cond.Eval(wan))

	be := c.Proxy("be", KindBackend)
	require.Equal(t, []StickRule{
		{Pos: Pos{"../../testdata/stick.cfg", 32}, Match: true, Store: true, Key: "src"},
	}, be.Stick.Rules[:1])
	require.True(t, be.Stick.Rules[1].Match)
	require.False(t, be.Stick.Rules[1].Store)
	require.Equal(t, "per_ip", be.Stick.Rules[1].Table)
	require.False(t, be.Stick.Rules[1].Cond.Eval(lan))
	require.True(t, be.Stick.Rules[2].Store)
	require.True(t, be.Stick.Rules[2].Cond.Eval(lan))
	require.Nil(t, c.Proxy("per_ip", KindBackend).Stick.Rules)
}

func TestStickErrors(t *testing.T) {
	const fe = "frontend fe\n bind :0\n"
	const be = "backend be\n server s 127.0.0.1:1\n"
	for _, tc := range []struct {
		name, text string
		line       int
		sentinel   error
		msg        string
	}{
		{"acl unknown fetch", fe + " acl x nosuch 1\n", 3, ErrBadValue, "'nosuch'"},
		{"acl bad ip", fe + " acl x src 1.2.3\n", 3, ErrBadValue, "not an IP address"},
		{"acl in defaults", "defaults\n acl x src 1.2.3.4\n", 2, ErrMisplaced, "'acl' not allowed in 'defaults' section"},
		{"acl in global", "global\n acl x src 1.2.3.4\n", 2, ErrMisplaced, "not allowed in 'global' section"},
		{"unknown acl", fe + " tcp-request connection reject if nope\n", 3, ErrBadValue, "'nope'"},
		{"acl declared later", fe + " tcp-request connection reject if x\n acl x src 1.2.3.4\n", 3, ErrBadValue, "'x'"},
		{"bad cond", fe + " tcp-request connection reject if { src 1.1.1.1\n", 3, ErrBadValue, "missing '}'"},
		{"no action", fe + " tcp-request connection if TRUE\n", 3, ErrBadValue, "expects an action"},
		{"bad action", fe + " tcp-request connection deny\n", 3, ErrUnknownKeyword, "'tcp-request connection deny'"},
		{"track-sc3", fe + " stick-table type ip size 1\n tcp-request connection track-sc3 src\n", 4, ErrUnknownKeyword, "track-sc3"},
		{"track without key", fe + " stick-table type ip size 1\n tcp-request connection track-sc0\n", 4, ErrBadValue, "expects a key fetch"},
		{"track other key", fe + " stick-table type ip size 1\n tcp-request connection track-sc0 dst\n", 4, ErrUnsupported, "only 'src'"},
		{"track junk", fe + " stick-table type ip size 1\n tcp-request connection track-sc0 src tabl x\n", 4, ErrBadValue, "unexpected 'tabl x'"},
		{"track without table", fe + " tcp-request connection track-sc0 src\n", 3, ErrReference, "needs a stick-table"},
		{"track unknown table", fe + " tcp-request connection track-sc0 src table t\n", 3, ErrReference, "refers to table 't'"},
		{"tcp-request content", fe + " tcp-request content expect-netscaler-cip layer4\n", 3, ErrUnsupported, "'tcp-request content expect-netscaler-cip'"},
		{"content capture form", fe + " tcp-request content capture src id 0\n", 3, ErrBadValue, "expects <expression> 'len' <length>"},
		{"content capture length", fe + " tcp-request content capture src len 0\n", 3, ErrBadValue, "length must be > 0"},
		{"content capture in backend", be + " tcp-request content capture src len 4\n", 3, ErrBadValue, "has no frontend capability"},
		{"content track without table", fe + " tcp-request content track-sc0 src\n", 3, ErrReference, "'tcp-request' needs a stick-table in the proxy"},
		{"content track key type", fe + " stick-table type ip size 1\n tcp-request content track-sc1 always_true\n", 4, ErrBadValue, "stick-table 'fe' (type ip) uses a type incompatible with the 'track-sc1' key 'always_true' (bool)"},
		{"content track no key", fe + " tcp-request content track-sc0\n", 3, ErrBadValue, "'track-sc0': expects a key fetch"},
		{"content track bad key", fe + " tcp-request content track-sc0 nosuch\n", 3, ErrBadValue, "'track-sc0': unknown fetch method: 'nosuch'"},
		{"content track extra", fe + " tcp-request content track-sc0 src tables x\n", 3, ErrBadValue, "unexpected 'tables x' after the key"},
		{"content set-var scope", fe + " tcp-request content set-var(foo) src\n", 3, ErrBadValue, "invalid variable name 'foo'"},
		{"content set-var no expr", fe + " tcp-request content set-var(sess.a)\n", 3, ErrBadValue, "'set-var(sess.a)' expects one sample expression"},
		{"content set-var bad expr", fe + " tcp-request content set-var(sess.a) nosuch\n", 3, ErrBadValue, "'set-var(sess.a)': unknown fetch method"},
		{"content unset-var arg", fe + " tcp-request content unset-var(sess.a) src\n", 3, ErrBadValue, "'unset-var' takes no argument, got 'src'"},
		{"tcp-request other", fe + " tcp-request response x\n", 3, ErrUnsupported, "only connection, session, content and inspect-delay"},
		{"session bad action", fe + " tcp-request session deny\n", 3, ErrUnknownKeyword, "'tcp-request session deny'"},
		{"session track without table", fe + " tcp-request session track-sc1 src\n", 3, ErrReference, "needs a stick-table"},
		{"tcp-request in backend", be + " tcp-request connection reject\n", 3, ErrBadValue, "'tcp-request connection' is not allowed because backend 'be' is not a frontend"},
		{"expect-proxy stage", fe + " tcp-request session expect-proxy layer4\n", 3, ErrBadValue, "'expect-proxy layer4' is not allowed in 'tcp-request session' rules"},
		{"expect-proxy layer", fe + " tcp-request connection expect-proxy layer5\n", 3, ErrBadValue, "'tcp-request connection expect-proxy' only supports 'layer4' (got 'layer5')"},
		{"expect-proxy bare", fe + " tcp-request connection expect-proxy\n", 3, ErrBadValue, "only supports 'layer4' (got nothing)"},
		{"session rules in backend", be + " tcp-request session accept\n", 3, ErrBadValue, "'tcp-request session' is not allowed because backend 'be' is not a frontend"},
		{"reject arg", fe + " tcp-request connection reject now\n", 3, ErrBadValue, "takes no argument"},
		{"silent-drop ttl", fe + " tcp-request connection silent-drop rst-ttl 0\n", 3, ErrBadValue, "out of range"},
		{"two tables", fe + " stick-table type ip size 1\n stick-table type ip size 2\n", 4, ErrReference, "only one stick-table"},
		{"table no size", fe + " stick-table type ip\n", 3, ErrBadValue, "size"},
		{"table bad store", fe + " stick-table type ip size 1 store conn_rat(1s)\n", 3, ErrBadValue, "conn_rat"},
		{"stick bad verb", be + " stick to src\n", 3, ErrUnknownKeyword, "'stick to'"},
		{"stick without table", be + " stick on src\n", 3, ErrReference, "needs a stick-table"},
		{"stick store-response without table", be + " stick store-response src\n", 3, ErrReference, "needs a stick-table"},
		{"stick key type", be + " stick-table type ip size 1\n stick on always_true\n", 4, ErrBadValue, "stick-table 'be' (type ip) uses a type incompatible with the 'stick' key 'always_true' (bool)"},
		{"stick bad key", be + " stick-table type string size 1\n stick on nosuch\n", 4, ErrBadValue, "'stick on': unknown fetch method: 'nosuch'"},
		{"stick no key", be + " stick-table type string size 1\n stick match\n", 4, ErrBadValue, "'stick match': expects a key fetch"},
		{"stick extra", be + " stick-table type string size 1\n stick on src tables x\n", 4, ErrBadValue, "unexpected 'tables x' after the key"},
		{"stats bad level", "global\n stats socket /tmp/x level root\n", 2, ErrBadValue, "expects user, operator or admin"},
		{"stats bad mode", "global\n stats socket /tmp/x mode 999\n", 2, ErrBadValue, "octal mode"},
		{"stats relative path", "global\n stats socket lb.sock\n", 2, ErrBadValue, `stats socket: address "lb.sock": missing port`},
		{"stats abns", "global\n stats socket abns@lb\n", 2, ErrUnsupported, "stats socket on 'abns@lb' (an abstract socket"},
		{"stats other", "global\n stats enable\n", 2, ErrUnknownKeyword, "'stats enable'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(t, tc.text)
			require.Error(t, err)
			require.ErrorIs(t, err, tc.sentinel)
			var ce *Error
			require.True(t, errors.As(err, &ce))
			require.Equal(t, tc.line, ce.Line, err.Error())
			require.True(t, strings.HasPrefix(err.Error(), "lb.cfg:"), err.Error())
			require.Contains(t, err.Error(), tc.msg)
		})
	}
}

// "tcp-request session" rules are kept apart from the connection rules,
// in order, with their conditions compiled.
func TestTCPRequestSession(t *testing.T) {
	c, err := Parse(Source{Name: "s.cfg", Data: []byte(`frontend f
    mode tcp
    bind 127.0.0.1:0
    stick-table type ip size 10
    acl tls ssl_fc
    tcp-request connection accept
    tcp-request session reject if !tls
    tcp-request session track-sc2 src
    tcp-request session accept if { ssl_fc_sni -m str a.example }
    default_backend b
backend b
    server s 127.0.0.1:1
`)})
	require.NoError(t, err)
	fe := c.Proxy("f", KindFrontend)
	require.Len(t, fe.Stick.ConnRules, 1)
	rules := fe.Stick.SessRules
	require.Len(t, rules, 3)
	require.Equal(t, "reject", rules[0].Action)
	require.Equal(t, 7, rules[0].Pos.Line)
	require.NotNil(t, rules[0].Cond)
	require.Equal(t, "track-sc", rules[1].Action)
	require.Equal(t, 2, rules[1].Slot)
	require.Equal(t, "accept", rules[2].Action)
	// Without TLS facts in the context, ssl_fc is false.
	require.True(t, rules[0].Cond.Eval(addrs{}))
}
