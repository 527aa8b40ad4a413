package main

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestInteropRestrictHeaderNamesMatchHAProxy: option
// http-restrict-req-hdr-names in a frontend, a backend or both, over a
// request with fields named with '_' and '.', and one a rule adds: the
// same fields reach the server, or the same 403 comes back, as through
// haproxy.
func TestInteropRestrictHeaderNamesMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	srv := strings.TrimPrefix(handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		var names []string
		for k := range r.Header {
			names = append(names, strings.ToLower(k))
		}
		fmt.Fprintf(w, "%d fields:%s", len(names), strings.Join(sortedStrings(names), ","))
	}), "http://")
	fronts := []struct{ name, fe, be string }{
		{"fa", "reject", "plain"}, {"fb", "delete", "plain"}, {"fc", "", "del"},
		{"fd", "delete", "rej"}, {"fe", "reject", "del"}, {"ff", "delete", "plain"}, {"fg", "preserve", "plain"},
	}
	cfg := func(ports []int) string {
		var b strings.Builder
		b.WriteString("defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n")
		for i, f := range fronts {
			fmt.Fprintf(&b, "frontend %s\n    bind 127.0.0.1:%d\n", f.name, ports[i])
			if f.fe != "" {
				fmt.Fprintf(&b, "    option http-restrict-req-hdr-names %s\n", f.fe)
			}
			if f.name == "ff" {
				b.WriteString("    http-request set-header x_rule 1\n")
			}
			fmt.Fprintf(&b, "    default_backend %s\n", f.be)
		}
		fmt.Fprintf(&b, "backend plain\n    server s %s\n", srv)
		fmt.Fprintf(&b, "backend del\n    option http-restrict-req-hdr-names delete\n    server s %s\n", srv)
		fmt.Fprintf(&b, "backend rej\n    option http-restrict-req-hdr-names reject\n    server s %s\n", srv)
		return b.String()
	}
	get := func(addr string) string {
		b := oneShot(t, addr, "GET / HTTP/1.1\r\nHost: h\r\nX_Under: 1\r\nX-Ok: 1\r\nX.dot: 1\r\nConnection: close\r\n\r\n")
		status, _, _ := strings.Cut(string(b), "\r\n")
		_, body, _ := strings.Cut(string(b), "\r\n\r\n")
		if !strings.Contains(status, " 200 ") {
			body = ""
		}
		return status + " " + body
	}
	ports := freePorts(t, len(fronts))
	text := cfg(ports)
	last := fmt.Sprintf("127.0.0.1:%d", ports[len(ports)-1])
	startHAProxy(t, text, func() bool { return !bindable(last) })
	var want, got []string
	for i := range fronts {
		want = append(want, fronts[i].name+" "+get(fmt.Sprintf("127.0.0.1:%d", ports[i])))
	}
	lb, _, _ := startInProcess(t, cfg(make([]int, len(fronts))))
	for _, f := range fronts {
		got = append(got, f.name+" "+get(lb.Addrs(f.name)[0].String()))
	}
	require.Equal(t, want, got, "haproxy's answers, then lb's")
	require.Equal(t, "fa HTTP/1.1 403 Forbidden ", got[0])
	require.Equal(t, "fb HTTP/1.1 200 OK 1 fields:x-ok", got[1])
}

func sortedStrings(s []string) []string {
	slices.Sort(s)
	return s
}
