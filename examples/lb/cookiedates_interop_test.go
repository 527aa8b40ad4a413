package main

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cookieDateAlphabet is HAProxy's alphabet for a cookie's dates.
const cookieDateAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

// cookieDateAt encodes Unix second t as HAProxy dates a cookie.
func cookieDateAt(t int64) string {
	v := (t + 3) >> 2
	b := make([]byte, 5)
	for i := 4; i >= 0; i-- {
		b[i] = cookieDateAlphabet[v&63]
		v >>= 6
	}
	return string(b)
}

// TestInteropCookieDatesMatchHAProxy runs insert-mode persistence with
// maxidle and maxlife under haproxy and lb and sends the same cookies:
// none, one without dates, fresh ones, one idle too long, one set too
// long ago, one with a single date and one with a date that does not
// read. The servers reached, the cookies set (their dates read as "now"
// when within a few seconds of it) and %tsc must match.
func TestInteropCookieDatesMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	var web []string
	for _, name := range []string{"a", "b"} {
		web = append(web, handlerServer(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, name) }))
	}
	ports := freePorts(t, 2)
	text := func(port int) string {
		return fmt.Sprintf(`global
    log stdout format raw local0
defaults
    mode http
    log global
    log-format "%%b/%%s %%tsc"
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend f
    bind 127.0.0.1:%d
    default_backend b
backend b
    cookie SRV insert indirect nocache maxidle 30m maxlife 8h
    server a %s cookie a
    server b %s cookie b
`, port, web[0], web[1])
	}
	dates := regexp.MustCompile(`\|([A-Za-z0-9+/]{5})`)
	nowish := func(s string) string {
		return dates.ReplaceAllStringFunc(s, func(m string) string {
			now := time.Now().Unix()
			for d := int64(-8); d <= 8; d++ {
				if cookieDateAt(now+d) == m[1:] {
					return "|NOW"
				}
			}
			return m
		})
	}
	run := func(port int, out func() string) []string {
		// A fresh date reads as up to 3 s ahead of its second: start
		// on a second one past a multiple of 4 so that it stays ahead
		// of the clock through the run, and needs no update.
		for time.Now().Unix()%4 != 1 {
			time.Sleep(20 * time.Millisecond)
		}
		now := time.Now().Unix()
		fresh, idle, ancient := cookieDateAt(now), cookieDateAt(now-3600), cookieDateAt(now-40000)
		var got []string
		for _, ck := range []string{"", "SRV=b", "SRV=b|" + fresh + "|" + fresh, "SRV=b|" + idle + "|" + fresh, "SRV=a|" + fresh + "|" + ancient, "SRV=b|" + fresh, "SRV=b|junk|" + fresh} {
			req := "GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n"
			if ck != "" {
				req += "cookie: " + ck + "\r\n"
			}
			resp := string(oneShot(t, fmt.Sprintf("127.0.0.1:%d", port), req+"\r\n"))
			_, body, _ := strings.Cut(resp, "\r\n\r\n")
			set := headerValue(resp, "set-cookie")
			got = append(got, fmt.Sprintf("%s -> %s %s", nowish(strings.NewReplacer(fresh, "FRESH", idle, "IDLE", ancient, "ANCIENT").Replace(ck)), body, nowish(set)))
		}
		var lines []string
		require.Eventually(t, func() bool {
			lines = regexp.MustCompile(`(?m)^b/\S+ \S+$`).FindAllString(out(), -1)
			return len(lines) == 7
		}, 5*time.Second, 10*time.Millisecond)
		return append(got, lines...)
	}
	haOut := startHAProxy(t, text(ports[0]), func() bool { return !bindable(fmt.Sprintf("127.0.0.1:%d", ports[0])) })
	want := run(ports[0], haOut)
	_, logs, mu := startInProcess(t, text(ports[1]))
	got := run(ports[1], func() string { mu.Lock(); defer mu.Unlock(); return logs.String() })
	assert.Equal(t, want, got, "haproxy's answers and %tsc, then lb's")
	assert.Contains(t, want, "b/a --OI", "a cookie set too long ago is ignored")
}
