package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInteropReturnFormatsMatchHAProxy runs "http-request return" with
// lf-string, lf-file and a field whose value has samples under haproxy
// and lb, and compares the answers' status, fields and bodies.
func TestInteropReturnFormatsMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	body := filepath.Join(t.TempDir(), "body.txt")
	require.NoError(t, os.WriteFile(body, []byte("path=%[path] q=%[url_param(q)]\nliteral %% sign\n"), 0o600))
	ports := freePorts(t, 2)
	text := func(port int) string {
		return fmt.Sprintf(`defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend f
    bind 127.0.0.1:%d
    http-request return status 201 content-type text/plain lf-file %s hdr x-path "<%%[path]>" if { path_beg /file }
    http-request return status 202 content-type "text/plain; charset=utf-8" lf-string "m=%%[method] h=%%[req.hdr(host)]" hdr x-fixed yes if { path /str }
    http-request return status 200 content-type text/plain string "fixed %%[path]"
`, port, body)
	}
	requests := []string{"/file?q=1", "/file/x", "/str", "/other"}
	run := func(port int) []string {
		var out []string
		for _, path := range requests {
			resp := string(oneShot(t, fmt.Sprintf("127.0.0.1:%d", port), "GET "+path+" HTTP/1.1\r\nhost: h1\r\nconnection: close\r\n\r\n"))
			head, b, _ := strings.Cut(resp, "\r\n\r\n")
			lines := strings.Split(head, "\r\n")
			keep := []string{lines[0]}
			for _, l := range lines[1:] {
				name, _, _ := strings.Cut(strings.ToLower(l), ":")
				if name == "content-type" || strings.HasPrefix(name, "x-") || name == "content-length" {
					keep = append(keep, strings.ToLower(name)+":"+strings.SplitN(l, ":", 2)[1])
				}
			}
			// Fields in order of name: haproxy puts its own after the
			// rule's, lb before.
			slices.Sort(keep[1:])
			out = append(out, strings.Join(keep, "|")+" || "+b)
		}
		return out
	}
	runHAProxy(t, text(ports[0]), fmt.Sprintf("127.0.0.1:%d", ports[0]))
	want := run(ports[0])
	startInProcess(t, text(ports[1]))
	got := run(ports[1])
	assert.Equal(t, want, got, "haproxy's answers, then lb's")
	assert.Contains(t, want[0], "path=/file q=1\nliteral % sign\n", "the file's samples filled in")
}
