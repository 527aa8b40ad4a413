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
	"golang.org/x/net/http2"
)

// h2Settings opens an HTTP/2 connection with prior knowledge and returns
// the server's first SETTINGS: max concurrent streams and initial window.
func h2Settings(t *testing.T, addr string) (streams, window uint32) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, err = io.WriteString(c, http2.ClientPreface)
	require.NoError(t, err)
	fr := http2.NewFramer(c, bufio.NewReader(c))
	require.NoError(t, fr.WriteSettings())
	for {
		f, err := fr.ReadFrame()
		require.NoError(t, err)
		if sf, ok := f.(*http2.SettingsFrame); ok && !sf.IsAck() {
			streams, window = 0, 65535 // the protocol's defaults when absent
			_ = sf.ForeachSetting(func(s http2.Setting) error {
				switch s.ID {
				case http2.SettingMaxConcurrentStreams:
					streams = s.Val
				case http2.SettingInitialWindowSize:
					window = s.Val
				}
				return nil
			})
			return streams, window
		}
	}
}

// TestInteropTuneMatchesHAProxy: tune.h2.max-concurrent-streams and
// tune.h2.initial-window-size are what an HTTP/2 client is told, under
// haproxy and lb. tune.comp.maxlevel is the level lb's gzip answers say
// they were made at (the XFL byte: 4 for the fastest, 2 for the best), as
// a zlib build of haproxy makes them; Debian's haproxy compresses with
// libslz, which has one level, and says 4 whatever the setting.
func TestInteropTuneMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	body := strings.Repeat("compress me, compress me well. ", 200)
	web := strings.TrimPrefix(handlerServer(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, body)
	}), "http://")
	run := func(global string, start func(text string)) []string {
		p := freePorts(t, 2)
		start(fmt.Sprintf(`global
%s
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen h2
    bind 127.0.0.1:%d proto h2
    http-request return status 200
listen gz
    bind 127.0.0.1:%d
    compression algo gzip
    compression type text/plain
    server w %s
`, global, p[0], p[1], web))
		streams, window := h2Settings(t, fmt.Sprintf("127.0.0.1:%d", p[0]))
		req, err := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/", p[1]), nil)
		require.NoError(t, err)
		req.Header.Set("Accept-Encoding", "gzip")
		resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
		require.NoError(t, err)
		gz, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		require.NoError(t, err)
		require.Equal(t, "gzip", resp.Header.Get("Content-Encoding"))
		require.Greater(t, len(gz), 9)
		return []string{fmt.Sprintf("streams=%d window=%d", streams, window), fmt.Sprintf("xfl=%d", gz[8])}
	}
	for _, global := range []string{"    nbthread 1", "    tune.h2.max-concurrent-streams 7\n    tune.h2.initial-window-size 100000\n    tune.comp.maxlevel 9"} {
		want := run(global, func(text string) { startHAProxyReady(t, text) })
		got := run(global, func(text string) { startInProcess(t, text) })
		if global == "    nbthread 1" {
			// lb's own defaults differ: a 256 KiB window (haproxy
			// 65535); the level and stream count are the same.
			require.Equal(t, []string{"streams=100 window=65535", "xfl=4"}, want)
			require.Equal(t, []string{"streams=100 window=262144", "xfl=4"}, got)
			continue
		}
		require.Equal(t, want[0], got[0], "haproxy's settings, then lb's")
		require.Equal(t, []string{"streams=7 window=100000", "xfl=2"}, got)
	}
}
