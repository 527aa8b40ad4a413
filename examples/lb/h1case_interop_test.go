package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// headNames reads an HTTP/1 head from r and returns its field names as
// they were spelt, those whose lower case is in keep, and its
// Content-Length.
func headNames(r *bufio.Reader, keep ...string) (names []string, length int, err error) {
	if _, err := r.ReadString('\n'); err != nil {
		return nil, 0, err
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, 0, err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			return names, length, nil
		}
		n, v, _ := strings.Cut(line, ":")
		if strings.EqualFold(n, "content-length") {
			length, _ = strconv.Atoi(strings.TrimSpace(v))
		}
		for _, k := range keep {
			if strings.EqualFold(n, k) {
				names = append(names, n)
			}
		}
	}
}

// caseServer answers every request with a response whose names are in
// lower case, and sends the names of each request it got on heads.
func caseServer(t *testing.T, heads chan<- []string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				r := bufio.NewReader(c)
				for {
					names, n, err := headNames(r, "host", "x-foo", "x-other", "content-length")
					if err != nil {
						return
					}
					if _, err := r.Discard(n); err != nil {
						return
					}
					heads <- names
					_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nx-bar: 1\r\nx-other: 2\r\ncontent-length: 2\r\n\r\nok")
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// TestInteropH1CaseAdjustMatchesHAProxy: with h1-case-adjust entries, a
// backend under option h1-case-adjust-bogus-server sends the servers the
// names spelt as the entries say, and a frontend under
// h1-case-adjust-bogus-client its clients; the other names, and the
// sides without the option, are left alone, as are those of entries
// whose name is not in lower case. The names are sent in lower
// case, as haproxy writes those it has no entry for.
func TestInteropH1CaseAdjustMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	cfg := func(port int, server, opts string) string {
		return fmt.Sprintf(`global
    h1-case-adjust x-foo X-FOO
    h1-case-adjust x-bar X-bAr
    h1-case-adjust X-OTHER x-oThEr
    h1-case-adjust-file %s
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
listen li
    bind 127.0.0.1:%d
%s    server s %s
`, writeFile(t, "case.txt", "# spellings\ncontent-length CONTENT-Length\nhost HoSt\n"), port, opts, server)
	}
	exchange := func(t *testing.T, addr string, heads <-chan []string) (toServer, toClient []string) {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		require.NoError(t, err)
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		_, err = io.WriteString(c, "POST / HTTP/1.1\r\nhost: h.test\r\nx-foo: 1\r\nx-other: 2\r\ncontent-length: 2\r\n\r\nhi")
		require.NoError(t, err)
		toClient, _, err = headNames(bufio.NewReader(c), "x-bar", "x-other", "content-length")
		require.NoError(t, err)
		select {
		case toServer = <-heads:
		case <-time.After(5 * time.Second):
			t.Fatal("the server got no request")
		}
		return toServer, toClient
	}
	for _, opts := range []string{
		"    option h1-case-adjust-bogus-server\n",
		"    option h1-case-adjust-bogus-client\n",
		"    option h1-case-adjust-bogus-client\n    option h1-case-adjust-bogus-server\n",
		"",
	} {
		t.Run(strings.TrimSpace(opts), func(t *testing.T) {
			heads := make(chan []string, 4)
			server := caseServer(t, heads)
			hp := freePort(t)
			runHAProxy(t, cfg(hp, server, opts), fmt.Sprintf("127.0.0.1:%d", hp))
			hs, hc := exchange(t, fmt.Sprintf("127.0.0.1:%d", hp), heads)
			b, _, _ := startInProcess(t, cfg(0, server, opts))
			ls, lc := exchange(t, b.Addrs("li")[0].String(), heads)
			if strings.Contains(opts, "server") {
				require.Contains(t, hs, "X-FOO", "haproxy's request")
			}
			if strings.Contains(opts, "client") {
				require.Contains(t, hc, "X-bAr", "haproxy's response")
			}
			if !strings.Contains(opts, "server") {
				// Without entries to follow, lb writes its framing
				// fields in their usual case, haproxy in lower case.
				hs = slices.DeleteFunc(hs, func(n string) bool { return n == "content-length" })
				ls = slices.DeleteFunc(ls, func(n string) bool { return n == "Content-Length" })
			}
			if !strings.Contains(opts, "client") {
				hc = slices.DeleteFunc(hc, func(n string) bool { return n == "content-length" })
				lc = slices.DeleteFunc(lc, func(n string) bool { return n == "Content-Length" })
			}
			require.Equal(t, hs, ls, "the names the server got from haproxy, then lb")
			require.Equal(t, hc, lc, "the names the client got from haproxy, then lb")
		})
	}
}
