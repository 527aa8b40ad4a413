package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInteropBalanceURIOptionsMatchHAProxy sends the same paths through
// "balance uri" with depth, len, whole and path-only under haproxy and
// lb and requires each to reach the same server under both: the hash
// reads at most len bytes, stops before the slash that starts directory
// depth+1, and at the query unless whole.
func TestInteropBalanceURIOptionsMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	var web []string
	for _, name := range []string{"s1", "s2", "s3", "s4"} {
		web = append(web, handlerServer(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, name) }))
	}
	sections := []string{"depth 2", "len 6", "whole depth 1", "len 9 whole", "path-only", "depth 1 len 4"}
	text := func(ports []int) string {
		var b strings.Builder
		b.WriteString("defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n")
		for i, opts := range sections {
			fmt.Fprintf(&b, "listen l%d\n    bind 127.0.0.1:%d\n    balance uri %s\n", i, ports[i], opts)
			for j, w := range web {
				fmt.Fprintf(&b, "    server s%d %s weight %d\n", j+1, w, j+1)
			}
		}
		return b.String()
	}
	var paths []string
	for _, dir := range []string{"/a", "/img", "/static/css", "/api/v1", "/api/v2"} {
		for _, file := range []string{"/x", "/y/z", "/index.html?q=1", "?k=v", "/deep/er/path?u=2"} {
			paths = append(paths, dir+file)
		}
	}
	run := func(ports []int) []string {
		var out []string
		for i := range sections {
			var got []string
			for _, p := range paths {
				resp := string(oneShot(t, fmt.Sprintf("127.0.0.1:%d", ports[i]), "GET "+p+" HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"))
				_, body, _ := strings.Cut(resp, "\r\n\r\n")
				got = append(got, body)
			}
			out = append(out, sections[i]+": "+strings.Join(got, " "))
		}
		return out
	}
	ports := freePorts(t, 2*len(sections))
	runHAProxy(t, text(ports[:len(sections)]), fmt.Sprintf("127.0.0.1:%d", ports[len(sections)-1]))
	want := run(ports[:len(sections)])
	startInProcess(t, text(ports[len(sections):]))
	got := run(ports[len(sections):])
	assert.Equal(t, want, got, "haproxy's servers, then lb's")
	require.Len(t, want, len(sections))
	assert.NotEqual(t, strings.Count(want[0], "s1"), len(paths), "the paths spread over the servers")
}
