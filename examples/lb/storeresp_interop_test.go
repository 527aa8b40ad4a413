package main

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInteropStickStoreResponseTCPMatchesHAProxy runs "stick
// store-response" in mode tcp under haproxy and lb and compares the
// tables. As haproxy, lb applies the rules once the server connection
// is up when the backend has no tcp-response rule, before any byte of
// the response (res.len is 0, res.payload finds nothing), and once the
// tcp-response rules accepted, on what they inspected, when it has.
// Stored entries take the server of the connection, replacing the one
// an earlier connection stored.
func TestInteropStickStoreResponseTCPMatchesHAProxy(t *testing.T) {
	const cfg = `global
    stats socket %s level admin
defaults
    mode tcp
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind %s
    use_backend be2 if { src 127.0.0.20 127.0.0.21 }
    default_backend be1
backend be1
    balance roundrobin
    stick-table type ip size 100 expire 1m
    stick match src
    stick store-response src
    stick store-response src,ipmask(16) table t3 if { res.len eq 0 }
    stick store-response res.payload(0,2) table t2
    server s1 %s
    server s2 %s
backend be2
    balance roundrobin
    tcp-response inspect-delay 2s
    tcp-response content accept if { res.len gt 0 }
    stick store-response res.payload(0,2) table t2
    stick store-response src table t4 if { res.len gt 0 }
    stick store-response src table t5 if { res.len eq 0 }
    server s1 %s
    server s2 %s
backend t2
    stick-table type string len 8 size 100 expire 1m
backend t3
    stick-table type ip size 100 expire 1m
backend t4
    stick-table type ip size 100 expire 1m
backend t5
    stick-table type ip size 100 expire 1m
`
	s1, s2 := nameServer(t, "s1"), nameServer(t, "s2")
	hp, lb, hpSock, lbSock := sideBySide(t, cfg, s1, s2, s1, s2)
	norm := regexp.MustCompile(` server_key=\S+`)
	run := func(addr, sock string) (answers []string, tables map[string]string) {
		for _, src := range []string{"127.0.0.2", "127.0.0.3", "127.0.0.2", "127.0.0.3", "127.0.0.20", "127.0.0.21", "127.0.0.20"} {
			answers = append(answers, answerFrom(t, src, addr))
		}
		tables = map[string]string{}
		for _, tb := range []string{"be1", "t2", "t3", "t4", "t5"} {
			tables[tb] = norm.ReplaceAllString(normalizeDump(cliCommand(t, sock, "show table "+tb)), "")
		}
		return answers, tables
	}
	wantA, want := run(hp, hpSock)
	gotA, got := run(lb, lbSock)
	assert.Equal(t, wantA, gotA, "haproxy's answers, then lb's")
	for tb, w := range want {
		assert.Equal(t, w, got[tb], "show table %s: haproxy's, then lb's", tb)
	}
	// What the comparison covers: the clients stuck to the server their
	// first connection stored, be2's entries replaced in turn.
	require.Equal(t, []string{"s1", "s2", "s1", "s2", "s1", "s2", "s1"}, wantA)
	require.Contains(t, want["be1"], "used:2\n")
	require.Contains(t, want["t3"], "key=127.0.0.0 use=0 exp=X server_id=2\n")
	require.Contains(t, want["t2"], "key=s1 use=0 exp=X server_id=1\n", "be2's payload keys")
	require.Contains(t, want["t2"], "used:2\n", "only be2 stores payload keys")
	require.Contains(t, want["t4"], "key=127.0.0.20 use=0 exp=X server_id=1\n")
	require.Contains(t, want["t5"], "used:0\n")
}
