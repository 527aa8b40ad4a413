package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/stretchr/testify/require"
)

// freePorts returns n distinct ports nothing listens on right now, for
// configurations that haproxy and lb bind later (testnet.FreePorts).
func freePorts(t *testing.T, n int) []int { return testnet.FreePorts(t, n) }

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
// the ports p (srr, src, srccons, uri, uricons, hdrcons, rr, prm,
// hdrmiss).
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
listen prm
    mode http
    bind 127.0.0.1:%[15]d
    balance url_param id
    server s1 %[11]s
    server s2 %[12]s weight 2
    server s3 %[13]s
listen hdrmiss
    mode http
    bind 127.0.0.1:%[16]d
    balance hdr(x-key)
    hash-type consistent
    server s1 %[11]s
    server s2 %[12]s weight 2
    server s3 %[13]s
`, p[0], tcp[0], tcp[1], tcp[2], tcp[3], p[1], p[2], p[3], p[4], p[5], web[0], web[1], web[2], p[6], p[7], p[8])
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
	// Requests without the part hashed go round robin: on the map for a
	// map-based hash, along the ring for a consistent one; mixed with
	// requests that carry it, which do not move that round.
	for i := 0; i < 30; i++ {
		path, key := "/", ""
		if i%3 == 0 {
			path, key = fmt.Sprintf("/?id=%d", i*131), fmt.Sprintf("user-%d", i*17)
		}
		got["prm"] = append(got["prm"], get(p[7], path, ""))
		got["hdrmiss"] = append(got["hdrmiss"], get(p[8], "/", key))
	}
	return got
}

// The same configuration under haproxy and lb sends the same traffic to
// the same servers: roundrobin's and static-rr's order, the map-based source and uri
// hashes over weighted servers (whose weights share a divisor in one
// case), the consistent hashes with and without the avalanche mix, and
// the round robin a hash falls back to when the request lacks the part
// hashed.
func TestInteropBalanceMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	tcp, web := nameServers(t, 4, false), nameServers(t, 3, true)
	ports := freePorts(t, 18)
	hp, lp := ports[:9], ports[9:]
	// The readiness probe opens and closes a connection: on an HTTP
	// section, where no request means no server is picked.
	runHAProxy(t, balanceCfg(hp, tcp, web), fmt.Sprintf("127.0.0.1:%d", hp[3]))
	startInProcess(t, balanceCfg(lp, tcp, web))
	want, got := balanceRun(t, hp), balanceRun(t, lp)
	for _, section := range []string{"rr", "srr", "src", "srccons", "uri", "uricons", "hdrcons", "prm", "hdrmiss"} {
		require.Equal(t, want[section], got[section], "section %s: haproxy's servers, then lb's", section)
		seen := map[string]bool{}
		for _, s := range got[section] {
			seen[s] = true
		}
		require.Greater(t, len(seen), 1, "section %s: the traffic should reach several servers", section)
	}
}

// TestInteropMaxQueueMatchesHAProxy fills a server and its queue
// (maxconn 1, maxqueue 1) under haproxy and lb: the third connection is
// refused at once, and the second leaves the queue at timeout queue; both
// lines must read the same.
func TestInteropMaxQueueMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	srv := checkPeer(t, func(c *net.TCPConn) {
		_, _ = io.WriteString(c, "a\n")
		_, _ = io.Copy(io.Discard, c)
		_ = c.Close() // the slot is free once the proxy sees the close
	})
	cfg := func(port int) string {
		return fmt.Sprintf(`global
    log stdout format raw local0
defaults
    mode tcp
    log global
    option tcplog
    timeout connect 1s
    timeout queue 300ms
    timeout client 5s
    timeout server 5s
listen px
    bind 127.0.0.1:%d
    balance source
    server a %s maxconn 1 maxqueue 1
`, port, srv)
	}
	timesRe := regexp.MustCompile(`^(-?\d+)/(-?\d+)/(-?\d+)$`)
	run := func(addr string, out func() string) []string {
		dial := func() net.Conn {
			c, err := net.Dial("tcp", addr)
			require.NoError(t, err)
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			return c
		}
		c1 := dial()
		line, err := bufio.NewReader(c1).ReadString('\n')
		require.NoError(t, err, "%s", out())
		require.Equal(t, "a\n", line)
		c2 := dial()
		time.Sleep(100 * time.Millisecond) // c2 waits in the server's queue
		c3 := dial()
		n, err := c3.Read(make([]byte, 1))
		require.Error(t, err, "the third connection is refused: the queue is full")
		require.Zero(t, n)
		_, err = c2.Read(make([]byte, 1))
		require.Error(t, err, "the second leaves the queue at timeout queue")
		// The proxy logs the second's line after it closes it: c1 stays
		// up meanwhile, so both lines count it.
		time.Sleep(200 * time.Millisecond)
		_ = c1.Close()
		_ = c2.Close()
		_ = c3.Close()
		var lines []string
		require.Eventually(t, func() bool {
			lines = lines[:0]
			for _, l := range strings.Split(out(), "\n") {
				f := strings.Fields(l)
				if len(f) < 9 || f[2] != "px" || (f[6] != "SQ" && f[6] != "sQ") {
					continue
				}
				// The queue wait is only near timeout queue: keep its sign.
				if m := timesRe.FindStringSubmatch(f[4]); m != nil && f[6] == "sQ" {
					f[4] = "Tw/" + m[2] + "/" + m[3][:1]
				}
				// %ac/%fc of the refused connection: on a busy machine
				// haproxy has counted one more (4/4 for 3/3) in two full
				// runs, closing connections counted beside the next; the
				// backend, server and queue counts stay compared.
				if c := strings.SplitN(f[7], "/", 3); f[6] == "SQ" && len(c) == 3 {
					f[7] = "N/N/" + c[2]
				}
				// The refusal is at once: a few milliseconds on a busy
				// machine read as none.
				if m := timesRe.FindStringSubmatch(f[4]); m != nil && f[6] == "SQ" {
					if tt, _ := strconv.Atoi(m[3]); tt < 50 {
						f[4] = m[1] + "/" + m[2] + "/0"
					}
				}
				lines = append(lines, strings.Join(f[2:], " "))
			}
			return len(lines) == 2
		}, 5*time.Second, 20*time.Millisecond, "%s", out())
		sort.Strings(lines)
		return lines
	}
	b, logs, mu := startInProcess(t, cfg(freePorts(t, 1)[0]))
	lb := run(b.Addrs("px")[0].String(), func() string { mu.Lock(); defer mu.Unlock(); return logs.String() })
	port := freePorts(t, 1)[0]
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	out := startHAProxy(t, cfg(port), func() bool { return true })
	require.Eventually(t, func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			_ = c.Close()
		}
		return err == nil
	}, 5*time.Second, 10*time.Millisecond)
	// The probe's own line and slot are gone by then, even on a busy
	// machine, where haproxy was once seen counting it beside the next.
	time.Sleep(300 * time.Millisecond)
	ha := run(addr, out)
	require.Equal(t, ha, lb)
	require.Contains(t, lb, "px px/a -1/-1/0 0 SQ N/N/2/1/0 0/0")
}
