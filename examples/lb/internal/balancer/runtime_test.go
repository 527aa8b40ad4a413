package balancer

import (
	"math"
	"net"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The runtime commands of runtime.go refuse the levels below admin ("show
// servers state" excepted) and answer bad arguments as haproxy 2.6.12
// does: each answer below is the one haproxy gave to the same command
// (TestInteropRuntimeCommandsMatchHAProxy compares most of them live).
// None may panic, whatever the arguments.
func TestRuntimeCommandsLevelsAndBadArguments(t *testing.T) {
	b, _ := startLB(t, parseCfg(t, `
global
    maxconn 200
defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend ft
    bind 127.0.0.1:0
    default_backend bt
backend bt
    server a 127.0.0.1:1 check inter 1h weight 2
    server b 127.0.0.1:2
`))
	admin := []string{
		"set maxconn server bt/a 3", "set maxconn frontend ft 3", "set maxconn global 3",
		"disable frontend ft", "enable frontend ft", "shutdown frontend ft",
		"shutdown sessions server bt/a", "disable health bt/a", "enable health bt/a",
		"disable agent bt/a", "enable agent bt/a", "set server bt/a addr 127.0.0.1",
		"set server bt/a check-port 1", "shutdown sessions server", "shutdown frontend",
	}
	for _, level := range []string{"user", "operator"} {
		for _, cmd := range admin {
			require.Equal(t, "Permission denied\n", b.RunCommand(level, cmd), "%s at level %s", cmd, level)
		}
		require.True(t, strings.HasPrefix(b.RunCommand(level, "show servers state"), "1\n# be_id be_name "), "show servers state at %s", level)
	}
	for cmd, want := range map[string]string{
		"set maxconn server":             "Require 'backend/server'.\n",
		"set maxconn server bt":          "Require 'backend/server'.\n",
		"set maxconn server zz/a 5":      "No such backend.\n",
		"set maxconn server bt/zz 5":     "No such server.\n",
		"set maxconn server bt/a":        "Require <maxconn>.\n",
		"set maxconn server bt/a x":      "maxconn string empty or preceded by garbage",
		"set maxconn server bt/a -":      "maxconn string empty or preceded by garbage",
		"set maxconn server bt/a 5x":     "Trailing garbage in maxconn string",
		"set maxconn server bt/a 0x5":    "Trailing garbage in maxconn string",
		"set maxconn frontend":           "A frontend name is expected.\n",
		"set maxconn frontend zz 3":      "No such frontend.\n",
		"set maxconn frontend bt 3":      "No such frontend.\n",
		"set maxconn frontend ft":        "Integer value expected.\n",
		"set maxconn frontend ft -2":     "Value out of range.\n",
		"set maxconn global":             "Expects an integer value.\n",
		"set maxconn global 500":         "Value out of range.\n",
		"disable frontend":               "A frontend name is expected.\n",
		"enable frontend zz":             "No such frontend.\n",
		"enable frontend ft":             "All sockets are already enabled.\n",
		"shutdown sessions server bt":    "Require 'backend/server'.\n",
		"shutdown sessions server zz/a":  "No such backend.\n",
		"shutdown sessions server bt/zz": "No such server.\n",
		"enable health":                  "Require 'backend/server'.\n",
		"disable agent zz/a":             "No such backend.\n",
		"enable health bt/b":             "Health check was not configured on this server, cannot enable.\n",
		"enable agent bt/a":              "Agent was not configured on this server, cannot enable.\n",
		"show servers state zz":          "Can't find backend.\n",
		"show servers state ft":          "Can't find backend.\n",
		"set server bt/a addr":           "set server <b>/<s> addr requires an address and optionally a port.\n",
		"set server bt/a addr foo":       "Invalid addr 'foo' by 'stats socket command'\n",
		"set server bt/a check-port":     "set server <b>/<s> check-port requires a port.\n",
		"set server bt/a check-port x":   "provided port is not an integer",
		"set server bt/a check-port -1":  "provided port is invalid",
		"set server bt/b check-port 80":  "health checks are not enabled on this server",
	} {
		require.Equal(t, want, b.RunCommand("admin", cmd), cmd)
	}
	for _, cmd := range []string{"set maxconn", "set maxconn bogus 3", "shutdown sessions", "shutdown bogus"} {
		require.True(t, strings.HasPrefix(b.RunCommand("admin", cmd), "Unknown command."), cmd)
	}

	// What the accepted ones leave, as haproxy leaves it.
	require.Equal(t, "", b.RunCommand("admin", "set maxconn server bt/a -1"))
	require.Equal(t, uint32(math.MaxUint32), uint32(b.Backend("bt").Server("a").maxconn), "a negative maxconn is read unsigned")
	require.Equal(t, "", b.RunCommand("admin", "set maxconn server bt/a +7"))
	require.Equal(t, 7, b.Backend("bt").Server("a").maxconn)
	require.Equal(t, "", b.RunCommand("admin", "set maxconn frontend ft 7x"))
	require.Equal(t, 7, b.fronts[0].slots.Cap(), "atoi reads the leading number")
	require.Equal(t, "", b.RunCommand("admin", "set maxconn global -5"))
	require.Contains(t, b.RunCommand("user", "show info"), "\nMaxconn: 200\n", "0 or less is the configured one")
	require.Equal(t, "", b.RunCommand("admin", "set maxconn global 150"))
	require.Contains(t, b.RunCommand("user", "show info"), "\nMaxconn: 150\n")
	require.Equal(t, 150, b.global.Cap())
	require.Equal(t, "", b.RunCommand("admin", "disable frontend ft"))
	require.Equal(t, "All sockets are already disabled.\n", b.RunCommand("admin", "disable frontend ft"))
	require.Equal(t, "", b.RunCommand("admin", "shutdown frontend ft"))
	require.Equal(t, "Frontend was already shut down.\n", b.RunCommand("admin", "shutdown frontend ft"))
	require.Equal(t, "Frontend was previously shut down, cannot disable.\n", b.RunCommand("admin", "disable frontend ft"))
	require.Equal(t, "Frontend was previously shut down, cannot enable.\n", b.RunCommand("admin", "enable frontend ft"))
	require.Equal(t, "IP changed from '127.0.0.1' to '::1', port changed from '1' to '4464' by 'stats socket command'\n",
		b.RunCommand("admin", "set server bt/a addr ::1 port 70000"))
	require.Equal(t, "[::1]:4464", b.Backend("bt").Server("a").address())
	require.Equal(t, "no need to change the addr, problem converting port 'x' to an int by 'stats socket command'\n",
		b.RunCommand("admin", "set server bt/a addr ::1 port x"))
	require.Equal(t, "no need to change the addr by 'stats socket command'\n", b.RunCommand("admin", "set server bt/a addr ::1 bogus 5"))
	require.Equal(t, "", b.RunCommand("admin", "disable health bt/a"))
	require.Equal(t, "health checks are not enabled on this server", b.RunCommand("admin", "set server bt/a check-port 80"))
	require.Equal(t, "", b.RunCommand("admin", "disable health bt/b"), "disabling a check never configured is accepted")
}

// Arguments of every shape never panic.
func TestRuntimeCommandsNoPanic(t *testing.T) {
	b, _ := startLB(t, parseCfg(t, `
defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen l
    bind 127.0.0.1:0
    server a 127.0.0.1:1 check inter 1h agent-check agent-port 2 agent-inter 1h
`))
	words := []string{"", "set", "maxconn", "server", "frontend", "global", "l", "l/a", "l/", "/a", "-", "+", "99999999999999999999",
		"-99999999999999999999", "addr", "port", "check-port", "shutdown", "sessions", "disable", "enable", "health", "agent", "show", "servers", "state"}
	for _, a := range words {
		for _, c := range words {
			for _, d := range words[:8] {
				_ = b.RunCommand("admin", strings.Join([]string{"set maxconn", a, c, d}, " "))
				_ = b.RunCommand("admin", strings.Join([]string{"set server l/a", a, c, d, "port", c}, " "))
				_ = b.RunCommand("admin", strings.Join([]string{a, c, d}, " "))
			}
		}
	}
}

// "set maxconn frontend" and "set maxconn global" move the listeners'
// limit: a client waiting unaccepted at the limit is served once it
// grows. (haproxy 2.6.12 cannot be compared here: raising a full
// frontend's maxconn deadlocks it, and its watchdog kills it.)
func TestRuntimeFrontendMaxConn(t *testing.T) {
	for _, which := range []string{"frontend", "global"} {
		t.Run(which, func(t *testing.T) {
			srv := newServer(t, "a", false)
			defer srv.close()
			feLimit, globalLimit := "maxconn 1", ""
			if which == "global" {
				feLimit, globalLimit = "", "global\n    maxconn 2\n"
			}
			b, _ := startLB(t, parseCfg(t, globalLimit+`
defaults
    mode tcp
    timeout connect 1s
    timeout client 10s
    timeout server 10s
listen px
    bind 127.0.0.1:0
    `+feLimit+`
    server a %s
`, srv.addr()))
			addr := b.Addrs("px")[0]
			if which == "global" {
				require.Equal(t, "Value out of range.\n", b.RunCommand("admin", "set maxconn global 3"), "never above the configured one")
				require.Equal(t, "", b.RunCommand("admin", "set maxconn global 1"))
			}
			c1, name := holdConn(t, addr.String())
			require.Equal(t, "a", name)
			c2, err := net.Dial("tcp", addr.String())
			require.NoError(t, err, "the second client waits in the backlog")
			defer c2.Close()
			waitFull(t, b, "px", addr)
			cmd := "set maxconn frontend px 2"
			if which == "global" {
				cmd = "set maxconn global 2"
			}
			require.Equal(t, "", b.RunCommand("admin", cmd))
			require.Equal(t, "a", readName(t, c2), "served once the limit grew")
			_, rows := statRowsByName(t, b)
			require.Equal(t, "2", rows["px/FRONTEND"]["slim"])
			if which == "global" {
				require.Contains(t, b.RunCommand("user", "show info"), "\nMaxconn: 2\n")
				require.Equal(t, "", b.RunCommand("admin", "set maxconn global 0"))
				require.Equal(t, 2, b.global.Cap(), "0 is the configured one")
			}
			_ = c1.Close()
		})
	}
}

// statRowsByName parses lb's "show stat" into rows keyed proxy/name.
func statRowsByName(t *testing.T, b *Balancer) ([]string, map[string]map[string]string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(b.RunCommand("admin", "show stat"), "\n"), "\n")
	header := strings.Split(strings.TrimSuffix(strings.TrimPrefix(lines[0], "# "), ","), ",")
	rows := map[string]map[string]string{}
	for _, l := range lines[1:] {
		f := strings.Split(strings.TrimSuffix(l, ","), ",")
		m := map[string]string{}
		for i, h := range header {
			if i < len(f) {
				m[h] = f[i]
			}
		}
		rows[f[0]+"/"+f[1]] = m
	}
	return header, rows
}
