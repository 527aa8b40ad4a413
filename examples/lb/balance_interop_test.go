package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// freePorts returns n distinct ports nothing listens on right now.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// nameServers starts n TCP servers on loopback, s1..sn, each answering a
// connection with its name and a newline, or, with httpMode, an HTTP
// server answering every request with its name.
func nameServers(t *testing.T, n int, httpMode bool) []string {
	t.Helper()
	var addrs []string
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("s%d", i)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addrs = append(addrs, ln.Addr().String())
		if httpMode {
			srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				_, _ = io.WriteString(w, name+"\n")
			})}
			go func() { _ = srv.Serve(ln) }()
			t.Cleanup(func() { _ = srv.Close() })
			continue
		}
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				_, _ = io.WriteString(c, name+"\n")
				_ = c.Close()
			}
		}()
		t.Cleanup(func() { _ = ln.Close() })
	}
	return addrs
}

// balanceCfg is one configuration with a section per case, listening on
// the ports p (srr, src, srccons, uri, uricons, hdrcons, rr).
func balanceCfg(p []int, tcp, web []string) string {
	return fmt.Sprintf(`defaults
    timeout connect 5s
    timeout client 5s
    timeout server 5s
listen srr
    mode tcp
    bind 127.0.0.1:%[1]d
    balance static-rr
    server s1 %[2]s
    server s2 %[3]s weight 3
    server s3 %[4]s
    server s4 %[5]s weight 2
listen src
    mode tcp
    bind 127.0.0.1:%[6]d
    balance source
    server s1 %[2]s weight 10
    server s2 %[3]s weight 30
    server s3 %[4]s weight 10
    server s4 %[5]s weight 20
listen srccons
    mode tcp
    bind 127.0.0.1:%[7]d
    balance source
    hash-type consistent
    server s1 %[2]s
    server s2 %[3]s weight 3
    server s3 %[4]s
    server s4 %[5]s weight 2
listen uri
    mode http
    bind 127.0.0.1:%[8]d
    balance uri
    server s1 %[11]s
    server s2 %[12]s weight 2
    server s3 %[13]s
listen uricons
    mode http
    bind 127.0.0.1:%[9]d
    balance uri
    hash-type consistent
    server s1 %[11]s
    server s2 %[12]s weight 2
    server s3 %[13]s
listen rr
    mode tcp
    bind 127.0.0.1:%[14]d
    balance roundrobin
    server s1 %[2]s weight 2
    server s2 %[3]s weight 5
    server s3 %[4]s
    server s4 %[5]s weight 3
listen hdrcons
    mode http
    bind 127.0.0.1:%[10]d
    balance hdr(x-key)
    hash-type consistent sdbm avalanche
    server s1 %[11]s
    server s2 %[12]s
    server s3 %[13]s weight 3
`, p[0], tcp[0], tcp[1], tcp[2], tcp[3], p[1], p[2], p[3], p[4], p[5], web[0], web[1], web[2], p[6])
}

// balanceRun drives the same traffic into each section (on the ports as
// balanceCfg has them) and returns, per section, the servers that
// answered.
func balanceRun(t *testing.T, p []int) map[string][]string {
	t.Helper()
	got := map[string][]string{}
	tcpAsk := func(src string, port int) string {
		c := dialFrom(t, src, fmt.Sprintf("127.0.0.1:%d", port))
		defer c.Close()
		line, err := bufio.NewReader(c).ReadString('\n')
		require.NoError(t, err)
		return strings.TrimSpace(line)
	}
	for i := 0; i < 14; i++ {
		got["srr"] = append(got["srr"], tcpAsk("127.0.0.1", p[0]))
	}
	for i := 0; i < 25; i++ {
		got["rr"] = append(got["rr"], tcpAsk("127.0.0.1", p[6]))
	}
	for i := 1; i <= 40; i++ {
		src := fmt.Sprintf("127.0.%d.%d", i%7, i*5%250+1)
		got["src"] = append(got["src"], tcpAsk(src, p[1]))
		got["srccons"] = append(got["srccons"], tcpAsk(src, p[2]))
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	get := func(port int, path, key string) string {
		req, err := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d%s", port, path), nil)
		require.NoError(t, err)
		if key != "" {
			req.Header.Set("X-Key", key)
		}
		resp, err := client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, 200, resp.StatusCode, "%s: %s", path, body)
		return strings.TrimSpace(string(body))
	}
	for i := 0; i < 30; i++ {
		path := fmt.Sprintf("/item/%d?v=%d", i*7919, i)
		got["uri"] = append(got["uri"], get(p[3], path, ""))
		got["uricons"] = append(got["uricons"], get(p[4], path, ""))
		got["hdrcons"] = append(got["hdrcons"], get(p[5], "/", fmt.Sprintf("user-%d", i*31)))
	}
	return got
}

// The same configuration under haproxy and lb sends the same traffic to
// the same servers: roundrobin's and static-rr's order, the map-based source and uri
// hashes over weighted servers (whose weights share a divisor in one
// case), and the consistent hashes with and without the avalanche mix.
func TestInteropBalanceMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	tcp, web := nameServers(t, 4, false), nameServers(t, 3, true)
	ports := freePorts(t, 14)
	hp, lp := ports[:7], ports[7:]
	// The readiness probe opens and closes a connection: on an HTTP
	// section, where no request means no server is picked.
	runHAProxy(t, balanceCfg(hp, tcp, web), fmt.Sprintf("127.0.0.1:%d", hp[3]))
	startInProcess(t, balanceCfg(lp, tcp, web))
	want, got := balanceRun(t, hp), balanceRun(t, lp)
	for _, section := range []string{"rr", "srr", "src", "srccons", "uri", "uricons", "hdrcons"} {
		require.Equal(t, want[section], got[section], "section %s: haproxy's servers, then lb's", section)
		seen := map[string]bool{}
		for _, s := range got[section] {
			seen[s] = true
		}
		require.Greater(t, len(seen), 1, "section %s: the traffic should reach several servers", section)
	}
}
