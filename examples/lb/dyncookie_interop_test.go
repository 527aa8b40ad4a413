package main

import (
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/stretchr/testify/require"
)

// TestInteropDynCookieMatchesHAProxy runs a backend with dynamic cookies
// (the key in defaults) under haproxy and lb: the Set-Cookie values the
// servers get, where a request carrying one goes, the cookie column of
// "show stat", and how "set dynamic-cookie-key", "disable
// dynamic-cookie" and "enable dynamic-cookie" change them, with the
// answers to bad arguments, all read the same.
func TestInteropDynCookieMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	name := func(n string) string {
		return handlerServer(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, n) })
	}
	s1, s2, s3 := name("s1"), name("s2"), name("s3")
	hexCookie := regexp.MustCompile(`^SRV=[0-9a-f]{16}; path=/$`)
	run := func(start func(text, sock string)) []string {
		port := freePorts(t, 1)[0]
		sock := filepath.Join(t.TempDir(), "admin.sock")
		start(fmt.Sprintf(`global
    stats socket %s level admin
%s    dynamic-cookie-key mykey
listen web
    bind 127.0.0.1:%d
    balance roundrobin
    cookie SRV insert indirect nocache dynamic
    server s1 %s
    server s2 %s
    server s3 %s cookie fixed
`, sock, httpDefaults, port, s1, s2, s3), sock)
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		get := func(cookie string) (body, setCookie string) {
			req, err := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/", port), nil)
			require.NoError(t, err)
			if cookie != "" {
				req.Header.Set("Cookie", "SRV="+cookie)
			}
			resp, err := client.Do(req)
			require.NoError(t, err)
			b, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			return string(b), resp.Header.Get("Set-Cookie")
		}
		var got []string
		// round sends three requests without a cookie, noting each
		// server's cookie, then one with each cookie seen.
		round := func(label string) {
			seen := map[string]string{}
			var line []string
			for range 3 {
				body, sc := get("")
				line = append(line, body+" "+sc)
				if v, ok := strings.CutPrefix(sc, "SRV="); ok && !strings.HasPrefix(v, ";") {
					seen[body], _, _ = strings.Cut(v, ";")
				}
			}
			for _, n := range []string{"s1", "s2", "s3"} {
				if v := seen[n]; v != "" {
					body, _ := get(v)
					line = append(line, v+"->"+body)
				}
			}
			got = append(got, label+": "+strings.Join(line, " | "))
			got = append(got, label+" stats: "+statCookies(cliCommand(t, sock, "show stat")))
		}
		round("start")
		for _, cmd := range []string{
			"set dynamic-cookie-key backend web", "set dynamic-cookie-key backend nope k",
			"enable dynamic-cookie backend", "disable dynamic-cookie backend nope",
		} {
			got = append(got, cmd+": "+cliCommand(t, sock, cmd))
		}
		got = append(got, "key: "+cliCommand(t, sock, "set dynamic-cookie-key backend web k2"))
		round("k2")
		got = append(got, "disable: "+cliCommand(t, sock, "disable dynamic-cookie backend web"))
		round("disabled")
		got = append(got, "key while disabled: "+cliCommand(t, sock, "set dynamic-cookie-key backend web k3"))
		round("still disabled")
		got = append(got, "enable: "+cliCommand(t, sock, "enable dynamic-cookie backend web"))
		round("k3")
		return got
	}
	want := run(func(text, sock string) { startHAProxySocket(t, text, sock) })
	got := run(func(text, _ string) { startInProcess(t, text) })
	require.Equal(t, want, got, "haproxy's answers, then lb's")
	// The test can tell: the servers got 16 hex digits, which lead back
	// to them, and none once the cookies were disabled.
	_, sc, _ := strings.Cut(got[0], "s1 ")
	sc, _, _ = strings.Cut(sc, " | ")
	require.Regexp(t, hexCookie, sc)
	require.Contains(t, got[0], "->s1")
	require.Contains(t, got[0], "fixed->s3")
	require.Contains(t, strings.Join(got, "\n"), "disabled: s1 SRV=; Expires=Thu, 01-Jan-1970 00:00:01 GMT; path=/")
}

// statCookies is the cookie column of "show stat" for each server.
func statCookies(stat string) string {
	lines := strings.Split(strings.TrimSpace(stat), "\n")
	if len(lines) == 0 {
		return ""
	}
	hdr := strings.Split(strings.TrimPrefix(lines[0], "# "), ",")
	col := -1
	for i, h := range hdr {
		if h == "cookie" {
			col = i
		}
	}
	var out []string
	for _, l := range lines[1:] {
		f := strings.Split(l, ",")
		if col < 0 || len(f) <= col || f[1] == "FRONTEND" {
			continue
		}
		out = append(out, f[0]+"/"+f[1]+"="+f[col])
	}
	return strings.Join(out, " ")
}

// TestInteropDynCookieConfigMatchesHAProxy: the dynamic cookie lines
// haproxy 2.6 takes, warns of and refuses, lb likewise, with haproxy's
// words and line.
func TestInteropDynCookieConfigMatchesHAProxy(t *testing.T) {
	bin := haproxyBin(t)
	for _, tc := range []struct{ def, fe, be, words string }{
		{"", "", "cookie S insert dynamic\n    dynamic-cookie-key k", ""},
		{"dynamic-cookie-key k\n    cookie S insert dynamic", "", "", ""},
		{"", "", "cookie S dynamic", ""},
		{"", "", "dynamic-cookie-key a b", ""},
		{"", "", "dynamic-cookie-key", "lb.cfg:12] : 'dynamic-cookie-key' expects <secret_key> as argument"},
		{"", "dynamic-cookie-key k", "", "'dynamic-cookie-key' ignored because frontend 'f' has no backend capability."},
	} {
		t.Run(tc.def+" "+tc.fe+" "+tc.be, func(t *testing.T) {
			text := fmt.Sprintf("defaults\n    mode http\n    timeout connect 2s\n    timeout client 5s\n    timeout server 5s\n    %s\nfrontend f\n    bind 127.0.0.1:19999\n    %s\n    default_backend b\nbackend b\n    %s\n    server s 127.0.0.1:1\n", tc.def, tc.fe, tc.be)
			hout, herr := exec.Command(bin, "-c", "-f", writeFile(t, "lb.cfg", text)).CombinedOutput()
			cfg, err := config.Parse(config.Source{Name: "lb.cfg", Data: []byte(text)})
			if herr != nil {
				require.Error(t, err, "haproxy refuses it: %s", hout)
				require.Contains(t, string(hout), tc.words)
				require.Contains(t, err.Error(), tc.words[strings.Index(tc.words, "'"):])
				require.Contains(t, err.Error(), "lb.cfg:12")
				return
			}
			require.NoError(t, err, "haproxy takes it: %s", hout)
			warned := strings.Contains(string(hout), "[WARNING]")
			require.Equal(t, warned, len(cfg.Warnings) > 0, "haproxy: %s\nlb: %q", hout, cfg.Warnings)
			if warned {
				require.Contains(t, string(hout), tc.words)
				require.Contains(t, strings.Join(cfg.Warnings, "\n"), tc.words)
			}
		})
	}
}
