package config

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPeersSection(t *testing.T) {
	cfg, err := parse(t, `peers mypeers
    peer lb1 127.0.0.1:10001
    peer lb2 [::1]:10002
    peer hap peers.example:10003
backend b
    stick-table type ip size 1k peers mypeers
peers other
    bind 127.0.0.1:10004
    server lb1
    server hap 127.0.0.1:10005
    disabled
peers third
    peer x 127.0.0.1:10006
    disabled
    enable
`)
	require.NoError(t, err)
	require.Len(t, cfg.Peers, 3)
	p := cfg.PeersSection("mypeers")
	require.NotNil(t, p)
	require.Equal(t, []string{"lb1", "lb2", "hap"}, []string{p.Peers[0].Name, p.Peers[1].Name, p.Peers[2].Name})
	require.Equal(t, "[::1]:10002", p.Peers[1].Addr)
	require.Equal(t, 3, p.Peers[1].Line)
	require.False(t, p.Disabled)
	require.Equal(t, "127.0.0.1:10001", p.ListenAddr("lb1"))

	o := cfg.PeersSection("other")
	require.True(t, o.Disabled)
	require.Equal(t, "", o.Peers[0].Addr)
	require.Equal(t, "127.0.0.1:10004", o.ListenAddr("lb1"), "a server without address listens on the bind")
	require.False(t, cfg.PeersSection("third").Disabled, "enable undoes disabled")
	require.Nil(t, cfg.PeersSection("none"))

	cfg.SetLocalPeer("lb1")
	require.Equal(t, "lb1", cfg.Global.LocalPeer)
	require.False(t, p.Removed)
	require.True(t, cfg.PeersSection("third").Removed)
	require.Equal(t, []string{"config : Removing incomplete section 'peers third' (no peer named 'lb1')."}, cfg.Warnings)
	cfg.SetLocalPeer("lb2")
	require.Equal(t, "lb1", cfg.Global.LocalPeer, "settled once")
}

func TestPeersTables(t *testing.T) {
	cfg, err := parse(t, `peers p
    peer a 127.0.0.1:10001
    table t type string len 20 size 10k expire 5m store gpc0,http_req_rate(10s)
frontend f
    tcp-request connection track-sc0 src table p/t
backend b
    stick-table type ip size 1k
    stick on src table p/t
    server s 127.0.0.1:80
`)
	require.NoError(t, err)
	tabs := cfg.StickTables()
	require.Len(t, tabs, 2)
	require.Equal(t, "b", tabs[0].Config.Name)
	require.Equal(t, "p/t", tabs[1].Config.Name)
	require.Equal(t, "p", tabs[1].Config.Peers)
	require.Equal(t, 10*1024, tabs[1].Config.Size)
	require.Equal(t, 3, tabs[1].Line)
	require.Same(t, tabs[1], cfg.StickTable("p/t"))
	require.Same(t, tabs[0], cfg.StickTable("b"))
	require.Nil(t, cfg.StickTable("t"))
}

func TestLocalPeerName(t *testing.T) {
	const sect = "peers p\n    peer a 127.0.0.1:10001\n    peer b 127.0.0.1:10002\n"
	cfg, err := parse(t, "global\n    localpeer b\n"+sect)
	require.NoError(t, err)
	cfg.SetLocalPeer("")
	require.Equal(t, "b", cfg.Global.LocalPeer)
	require.Empty(t, cfg.Warnings)

	// -L wins over localpeer, with HAProxy's warning.
	cfg, err = parse(t, "global\n    localpeer b\n"+sect)
	require.NoError(t, err)
	cfg.SetLocalPeer("a")
	require.Equal(t, "a", cfg.Global.LocalPeer)
	require.Equal(t, []string{"lb.cfg:2: 'localpeer' ignored since it is already set by using the '-L' command line argument."}, cfg.Warnings)

	// Neither: the host name, as HAProxy.
	host, err := os.Hostname()
	require.NoError(t, err)
	cfg, err = parse(t, sect)
	require.NoError(t, err)
	cfg.SetLocalPeer("")
	require.Equal(t, host, cfg.Global.LocalPeer)
	require.True(t, cfg.Peers[0].Removed || host == "a" || host == "b")
}

func TestPeersErrors(t *testing.T) {
	for text, msg := range map[string]string{
		"peers\n":                                                        "lb.cfg:1: bad value: 'peers' expects <name>",
		"peers a b\n":                                                    "'peers' expects <name>",
		"peers a/b\n":                                                    "character '/' not allowed in a name",
		"peers p\npeers p\n":                                             "lb.cfg:2: bad reference: peers 'p' has the same name as the one declared at lb.cfg:1",
		"peers p\n  peer a\n":                                            "lb.cfg:2: bad value: 'peer' in 'peers' section: expects <name> and <addr:port>",
		"peers p\n  peer a 127.0.0.1\n":                                  "invalid address '127.0.0.1'",
		"peers p\n  peer a 127.0.0.1:0\n":                                "invalid port in '127.0.0.1:0'",
		"peers p\n  peer a *:1000\n":                                     "must name a host",
		"peers p\n  peer a 127.0.0.1:1000 ssl\n":                         "lb.cfg:2: 'peer' in 'peers' section: not supported: 'ssl' on a peer",
		"peers p\n  peer a 127.0.0.1:1\n  peer a ::1:2\n":                "lb.cfg:3: 'peer' in 'peers' section: bad reference: peer 'a' already declared at lb.cfg:2",
		"peers p\n  bind 127.0.0.1:1\n  bind 127.0.0.1:2\n":              "One listener per \"peers\" section is authorized but another is already configured at [lb.cfg:2]",
		"peers p\n  bind 127.0.0.1:1 ssl\n":                              "'ssl' (lb's peers speak plain TCP)",
		"peers p\n  bind 127.0.0.1:1 bogus\n":                            "'bind 127.0.0.1:1' in section 'peers': unknown keyword: bind option 'bogus'",
		"peers p\n  peer a 127.0.0.1:1\n  bind :2\n":                     "mixing \"peer\" and \"bind\" line is forbidden",
		"peers p\n  bind :2\n  peer a 127.0.0.1:1\n":                     "mixing \"peer\" and \"bind\" line is forbidden",
		"peers p\n  default-bind bogus\n":                                "'default-bind bogus' in section 'peers'",
		"peers p\n  default-server bogus\n":                              "server option 'bogus'",
		"peers p\n  bind :2\n  server a\n  server b 127.0.0.1:1 bogus\n": "'server p/b' : unknown keyword: server option 'bogus'",
		"peers p\n  table t\n":                                           "lb.cfg:2: bad value: 'table' in 'peers' section: expects <name> type <type> size <size>",
		"peers p\n  table t/u type ip size 1\n":                          "table 't/u': character '/' not allowed in a name",
		"peers p\n  table t type ip size 1 peers p\n":                    "'peers' is implied in a peers section",
		"peers p\n  table t type ip\n":                                   "lb.cfg:2: bad value: 'table' in 'peers' section: ",
		"peers p\n  table t type ip size 1\n  table t type ip size 2\n":  "lb.cfg:3: 'table' in 'peers' section: bad reference: table 't' already declared at lb.cfg:2",
		"peers p\n  log stdout format raw bogus\n":                       "lb.cfg:2: bad value: 'log' in 'peers' section: unknown log facility 'bogus'",
		"frontend f\n  tcp-request connection track-sc0 src table p/t\n": "refers to table 'p/t', which no proxy nor peers section declares",
		"peers p\n  disabled now\n":                                      "'disabled' in 'peers' section",
		"peers p\n  frobnicate\n":                                        "lb.cfg:2: 'frobnicate' in 'peers' section: unknown keyword: unknown keyword 'frobnicate' in 'peers' section",
		"global\n  localpeer\n":                                          "expects a name",
	} {
		_, err := parse(t, text)
		require.ErrorContains(t, err, msg, text)
	}
}

// Addresses take $NAME and ${NAME} references unquoted, as HAProxy
// expands them in every address; other words only within double quotes.
func TestEnvInAddresses(t *testing.T) {
	t.Setenv("LBT_IP", "127.0.0.9")
	t.Setenv("LBT_PORT", "4242")
	t.Setenv("LBT_SOCK", "/tmp/lbt.sock")
	cfg, err := parse(t, `global
    stats socket ${LBT_SOCK} level admin
    log ${LBT_IP}:514 local0
peers p
    peer a ${LBT_IP}:${LBT_PORT}
frontend f
    bind ${LBT_IP}:${LBT_PORT}
    default_backend b
backend b
    source ${LBT_IP}
    server s ${LBT_IP}:80 addr ${LBT_IP}
`)
	require.NoError(t, err)
	require.Equal(t, "/tmp/lbt.sock", cfg.Global.StatsSockets[0].Path)
	require.Equal(t, "127.0.0.9:4242", cfg.Peers[0].Peers[0].Addr)
	f := cfg.Proxy("f", KindFrontend)
	require.Equal(t, []string{"127.0.0.9:4242"}, f.Binds[0].Addrs)
	b := cfg.Proxy("b", KindBackend)
	require.Equal(t, "127.0.0.9", b.Source)
	require.Equal(t, "127.0.0.9:80", b.Servers[0].Addr)
	require.Equal(t, "127.0.0.9:514", cfg.Global.Logs[0].Target)

	_, err = parse(t, "frontend f\n    bind ${LBT_IP}:${LBT_NOPE}\n")
	require.ErrorContains(t, err, "lb.cfg:2: bad value: 'bind' in 'frontend' section: address \"127.0.0.9:\"")
	// $NAME works too, and a brace left open is read as haproxy's
	// env_expand reads it: the name ends at the first other character.
	for _, addr := range []string{"$LBT_IP:$LBT_PORT", "${LBT_IP:4242", "$LBT_IP:${LBT_PORT}"} {
		cfg, err = parse(t, "frontend f\n    bind "+addr+"\n")
		require.NoError(t, err, addr)
		require.Equal(t, []string{"127.0.0.9:4242"}, cfg.Proxy("f", KindFrontend).Binds[0].Addrs, addr)
	}
}

// TestPeersSocketsAndLocalServer: a peers bind line may be a UNIX socket
// or a port range, and a peer a UNIX socket; once the local name is
// known, the local peer's server line takes options but no address, and
// another's needs one.
func TestPeersSocketsAndLocalServer(t *testing.T) {
	cfg, err := parse(t, "peers p\n  bind 127.0.0.1:7001-7003\n  server me weight 3\n  server b unix@/tmp/b.sock\n  server c /tmp/c.sock\n  server d abns@d\n")
	require.NoError(t, err)
	require.NoError(t, cfg.SetLocalPeer("me"))
	s := cfg.PeersSection("p")
	require.Equal(t, []string{"127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7003"}, s.BindAddrs)
	require.Equal(t, "127.0.0.1:7001", s.ListenAddr("me"))
	require.Equal(t, []string{"", "unix@/tmp/b.sock", "unix@/tmp/c.sock", "abns@d"}, []string{s.Peers[0].Addr, s.Peers[1].Addr, s.Peers[2].Addr, s.Peers[3].Addr})

	cfg, err = parse(t, "peers p\n  bind unix@/tmp/p.sock\n  server me\n")
	require.NoError(t, err)
	require.NoError(t, cfg.SetLocalPeer("me"))
	require.Equal(t, "unix@/tmp/p.sock", cfg.PeersSection("p").ListenAddr("me"))

	for text, msg := range map[string]string{
		"peers p\n  bind :1\n  server me 127.0.0.1:2\n":              "lb.cfg:3: bad value: 'server p/me' : unknown keyword '127.0.0.1:2'. Hint: no address was expected for this server",
		"peers p\n  bind :1\n  server me bogus\n":                    "lb.cfg:3: bad value: 'server p/me' : unknown keyword: server option 'bogus'",
		"peers p\n  bind :1\n  server me\n  server b nowhere\n":      "lb.cfg:4: invalid address 'nowhere'",
		"peers p\n  server me 127.0.0.1:2\n  server b 127.0.0.1:3\n": "Hint: no address was expected for this server",
	} {
		cfg, err := parse(t, text)
		require.NoError(t, err, text)
		require.ErrorContains(t, cfg.SetLocalPeer("me"), msg, text)
	}
	// Another name leaves those lines alone, but for addresses.
	cfg, err = parse(t, "peers p\n  bind :1\n  server me 127.0.0.1:2\n  server other\n")
	require.NoError(t, err)
	require.NoError(t, cfg.SetLocalPeer("other"))
}
