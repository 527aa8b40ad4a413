package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInteropECDHEMatchesHAProxy: a bind line's ecdhe names the one
// curve of the key exchange, curves (when given too) wins, and
// allow-0rtt is taken; a client offering every group agrees on the
// same one with haproxy and lb.
func TestInteropECDHEMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	pki := newPKI(t, "ecdhe")
	cert := pki.issue("leaf.pem", "localhost", []string{"localhost"}, false, false)
	ports := freePorts(t, 6)
	cases := []string{"ecdhe secp384r1", "ecdhe prime256v1 allow-0rtt", "ecdhe secp384r1 curves X25519"}
	text := func(base int) string {
		s := "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\nfrontend f\n"
		for i, c := range cases {
			s += fmt.Sprintf("    bind 127.0.0.1:%d ssl crt %s %s\n", ports[base+i], cert, c)
		}
		return s + "    http-request return status 200 content-type text/plain string ok\n"
	}
	curves := func(base int) []tls.CurveID {
		var out []tls.CurveID
		for i := range cases {
			addr := fmt.Sprintf("127.0.0.1:%d", ports[base+i])
			var c *tls.Conn
			require.Eventually(t, func() bool {
				var err error
				c, err = tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true,
					CurvePreferences: []tls.CurveID{tls.X25519, tls.CurveP256, tls.CurveP384}})
				return err == nil
			}, 10*time.Second, 20*time.Millisecond)
			out = append(out, c.ConnectionState().CurveID)
			_ = c.Close()
		}
		return out
	}
	checkParity(t, text(0))
	startHAProxy(t, text(0), func() bool { return true })
	want := curves(0)
	startInProcess(t, text(3))
	got := curves(3)
	assert.Equal(t, want, got, "the groups agreed on: haproxy's, then lb's")
	require.Equal(t, []tls.CurveID{tls.CurveP384, tls.CurveP256, tls.X25519}, got)
}
