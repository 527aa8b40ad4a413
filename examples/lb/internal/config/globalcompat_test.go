package config

import (
	"os"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStatsSocketOwnerAndExposeFD checks the stats socket's owner
// options and expose-fd listeners (accepted with a warning, as lb takes
// no listeners from an older process), and tune.ssl.default-dh-param
// (accepted with no effect: no DHE suites), with their errors.
func TestStatsSocketOwnerAndExposeFD(t *testing.T) {
	uid, gid := os.Getuid(), os.Getgid()
	c := mustParse(t, "global\n    stats socket /tmp/a.sock mode 600 level admin expose-fd listeners uid "+strconv.Itoa(uid)+" gid "+strconv.Itoa(gid)+
		"\n    stats socket /tmp/b.sock user root group root\n    tune.ssl.default-dh-param 2048\n")
	socks := c.Global.StatsSockets
	require.Len(t, socks, 2)
	assert.Equal(t, [2]int{uid, gid}, [2]int{socks[0].UID, socks[0].GID})
	assert.Equal(t, [2]int{0, 0}, [2]int{socks[1].UID, socks[1].GID})
	require.Empty(t, c.Warnings, "taken without a word, as haproxy takes them")
	plain := mustParse(t, "global\n    stats socket /tmp/c.sock\n")
	assert.Equal(t, [2]int{-1, -1}, [2]int{plain.Global.StatsSockets[0].UID, plain.Global.StatsSockets[0].GID}, "the process's by default")

	for text, want := range map[string]string{
		"global\n    stats socket /tmp/a.sock expose-fd all\n":      "lb.cfg:2: ",
		"global\n    stats socket /tmp/a.sock uid x\n":              "expects a number",
		"global\n    stats socket /tmp/a.sock user nosuchuser-zz\n": "cannot find user id for 'nosuchuser-zz'",
		"global\n    stats socket /tmp/a.sock process 1\n":          "stats socket option 'process'",
		"global\n    tune.ssl.default-dh-param 512\n":               "expects a value >= 1024",
		"global\n    tune.ssl.default-dh-param x\n":                 "lb.cfg:2: ",
	} {
		_, err := parse(t, text)
		require.Error(t, err, text)
		assert.Contains(t, err.Error(), want, text)
	}
}

// TestTuneHTTPKeywords checks tune.maxrewrite and tune.http.maxhdr and
// their bounds.
func TestTuneHTTPKeywords(t *testing.T) {
	c := mustParse(t, "global\n    tune.maxrewrite 2048\n    tune.http.maxhdr 200\n")
	assert.Equal(t, 2048, c.Global.MaxRewrite)
	assert.Equal(t, 200, c.Global.MaxHTTPHeaders)
	for _, text := range []string{"global\n    tune.http.maxhdr 0\n", "global\n    tune.http.maxhdr 40000\n", "global\n    tune.maxrewrite -1\n"} {
		_, err := parse(t, text)
		require.Error(t, err, text)
		assert.Contains(t, err.Error(), "lb.cfg:2: ", text)
	}
}

// TestCPUMapKeyword checks cpu-map: lines for process 1 (or all, odd)
// add their CPUs to the process's set, a thread set adds them too
// (threads are not mapped one by one), and bad sets are refused.
func TestCPUMapKeyword(t *testing.T) {
	c := mustParse(t, "global\n    cpu-map 1 0-1\n    cpu-map auto:1/1-4 3 5,6\n    cpu-map 2 9\n    cpu-map all 1\n")
	assert.Equal(t, []int{0, 1, 3, 5, 6}, c.Global.CPUs)
	require.Empty(t, c.Warnings, "a thread set binds the whole process, without a word, haproxy having none")
	for text, want := range map[string]string{
		"global\n    cpu-map 1\n":       "expects a process/thread set and a CPU set",
		"global\n    cpu-map 1 x\n":     "invalid CPU set",
		"global\n    cpu-map 1 3-1\n":   "invalid CPU set",
		"global\n    cpu-map 1 99999\n": "out of range",
		"global\n    cpu-map x 1\n":     "invalid process set 'x'",
		"global\n    cpu-map 1/x-y 1\n": "invalid thread set 'x-y'",
	} {
		_, err := parse(t, text)
		require.Error(t, err, text)
		assert.Contains(t, err.Error(), want, text)
		assert.Contains(t, err.Error(), "lb.cfg:2: ", text)
	}
}

// TestStatsSocketTCP: "stats socket" on a TCP address, in each of the
// forms HAProxy takes, next to the unix forms.
func TestStatsSocketTCP(t *testing.T) {
	c := mustParse(t, `global
    stats socket ipv4@127.0.0.1:9999 level admin
    stats socket 127.0.0.1:9998 mode 600
    stats socket :9997
    stats socket ipv6@[::1]:9996
    stats socket unix@rel.sock
    stats socket /tmp/abs.sock
`)
	var got [][2]string
	for _, s := range c.Global.StatsSockets {
		got = append(got, [2]string{s.Network, s.Path})
	}
	assert.Equal(t, [][2]string{
		{"tcp", "127.0.0.1:9999"}, {"tcp", "127.0.0.1:9998"}, {"tcp", ":9997"},
		{"tcp", "[::1]:9996"}, {"unix", "rel.sock"}, {"unix", "/tmp/abs.sock"},
	}, got)
	assert.Equal(t, "admin", c.Global.StatsSockets[0].Level)
	for text, want := range map[string]string{
		"global\n    stats socket 127.0.0.1\n":       `address "127.0.0.1": missing port`,
		"global\n    stats socket 127.0.0.1:99999\n": "port",
		"global\n    stats socket udp@127.0.0.1:1\n": "only ipv4@ and ipv6@ prefixes",
		"global\n    stats socket unix@\n":           "missing socket path",
	} {
		_, err := parse(t, text)
		require.Error(t, err, text)
		assert.Contains(t, err.Error(), want, text)
		assert.Contains(t, err.Error(), "lb.cfg:2: ", text)
	}
}
