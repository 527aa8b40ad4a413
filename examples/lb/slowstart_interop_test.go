package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// slowStartCfg has two sections over the same servers, round robin and a
// consistent source hash, where s3 (on late, checked) warms up over 10 s
// once it comes back.
func slowStartCfg(rr, cons int, s1, s2, late string) string {
	return fmt.Sprintf(`global
    log stdout format raw local0
defaults
    mode tcp
    log global
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen rr
    bind 127.0.0.1:%[1]d
    balance roundrobin
    server s1 %[3]s
    server s2 %[4]s
    server s3 %[5]s weight 4 check inter 100ms fall 1 rise 1 slowstart 10s
listen cons
    bind 127.0.0.1:%[2]d
    balance source
    hash-type consistent
    server s1 %[3]s
    server s2 %[4]s
    server s3 %[5]s weight 4 check inter 100ms fall 1 rise 1 slowstart 10s
`, rr, cons, s1, s2, late)
}

// slowStartRun starts a configuration (under haproxy or lb, through
// start), lets s3 fail its first check, brings it back, and returns the
// servers that answered: on each section right after s3 came back (its
// weight at 1/16 of its own), then 1.5 s later (2/16, after the first
// warm-up step).
func slowStartRun(t *testing.T, start func(text string) func() string, s1, s2 string) map[string][]string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	late := ln.Addr().String()
	require.NoError(t, ln.Close())
	ports := freePorts(t, 2)
	out := start(slowStartCfg(ports[0], ports[1], s1, s2, late))
	waitLines := func(what string) {
		t.Helper()
		ok := assert.Eventually(t, func() bool {
			o := out()
			return strings.Contains(o, "Server rr/s3 is "+what) && strings.Contains(o, "Server cons/s3 is "+what)
		}, 10*time.Second, 10*time.Millisecond)
		if !ok {
			t.Fatalf("s3 is not %s in both sections:\n%s", what, out())
		}
	}
	waitLines("DOWN")
	ln, err = net.Listen("tcp", late)
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = io.WriteString(c, "s3\n")
			_ = c.Close()
		}
	}()
	defer func() { _ = ln.Close(); <-done }()
	waitLines("UP")
	up := time.Now()
	ask := func(src string, port int) string {
		c := dialFrom(t, src, fmt.Sprintf("127.0.0.1:%d", port))
		defer c.Close()
		line, err := bufio.NewReader(c).ReadString('\n')
		require.NoError(t, err)
		return strings.TrimSpace(line)
	}
	got := map[string][]string{}
	round := func(phase string) {
		for i := 0; i < 24; i++ {
			got["rr "+phase] = append(got["rr "+phase], ask("127.0.0.1", ports[0]))
		}
		for i := 1; i <= 40; i++ {
			src := fmt.Sprintf("127.0.%d.%d", i%7, i*5%250+1)
			got["cons "+phase] = append(got["cons "+phase], ask(src, ports[1]))
		}
	}
	round("at once")
	first := time.Since(up)
	require.Less(t, first, 800*time.Millisecond, "the first round must end before the first warm-up step")
	time.Sleep(time.Until(up.Add(1500 * time.Millisecond)))
	round("after 1.5 s")
	// Shown when the rounds differ, not compared.
	got["timing"] = []string{fmt.Sprintf("first round ended %v after the UP lines were seen, the second %v", first, time.Since(up))}
	for _, l := range strings.Split(out(), "\n") {
		if strings.HasPrefix(l, "Server ") && strings.Contains(l, "/s3 is UP") {
			got["log"] = append(got["log"], durationRe.ReplaceAllString(strings.TrimSpace(l), "check duration: N"))
		}
	}
	sort.Strings(got["log"])
	return got
}

// TestInteropSlowStartMatchesHAProxy brings a server back under haproxy
// and lb with slowstart and requires the same servers for the same
// traffic while it warms up: round robin (the server placed at its small
// weight, then moved when the weight grows) and a consistent hash (only
// part of its points on the ring).
func TestInteropSlowStartMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	tcp := nameServers(t, 2, false)
	want := slowStartRun(t, haproxyLogs(t), tcp[0], tcp[1])
	got := slowStartRun(t, lbLogs(t), tcp[0], tcp[1])
	for _, k := range []string{"log", "rr at once", "rr after 1.5 s", "cons at once", "cons after 1.5 s"} {
		require.Equal(t, want[k], got[k], "%s: haproxy's servers, then lb's (haproxy: %s; lb: %s)", k, want["timing"], got["timing"])
	}
	count := func(k string) int { return strings.Count(strings.Join(got[k], " "), "s3") }
	// s3 has weight 4 against 1 and 1: at full weight it would take two
	// thirds of the turns.
	require.Positive(t, count("rr at once"))
	require.Less(t, count("rr at once"), 24/3, "s3 warms up: a small share at first")
	require.Greater(t, count("rr after 1.5 s"), count("rr at once"), "its share grows")
}
