package main

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// statsPageCfg has a page behind basic authentication in a listen
// section, one in a frontend after a deny rule, and one that lets any
// client set the servers' states.
func statsPageCfg(ports []int, web string) string {
	return fmt.Sprintf(`global
    maxconn 100
    log stdout format raw local0
%slisten st
    bind 127.0.0.1:%d
    stats enable
    stats uri /st
    stats refresh 7s
    stats realm Private\ Area
    stats auth u1:p1
    stats auth u2:p2
    server s1 %s
frontend f2
    bind 127.0.0.1:%d
    http-request deny if { path /blocked }
    stats uri /
    stats show-legends
    default_backend b2
backend b2
    server s1 %s
listen adm
    bind 127.0.0.1:%d
    stats uri /adm
    stats admin if TRUE
    server a %s
    server b %s
`, httpLogDefaults, ports[0], web, ports[1], web, ports[2], web, web)
}

// TestInteropStatsPageMatchesHAProxy asks haproxy's and lb's statistics
// pages the same requests and compares the answers: authentication
// (401 with the realm), the refresh header and ";norefresh", ";csv"
// (rows and which columns are filled, addresses only with show-legends),
// prefix matching, methods the page leaves to the server, a deny rule
// that runs first, a POST without "stats admin" (redirected with DENY)
// and the admin form putting a server in maintenance; and the log lines
// of the page's answers (<STATS>, LR).
func TestInteropStatsPageMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	web := strings.TrimPrefix(handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "server\n")
	}), "http://")
	type answer struct {
		status                                      int
		ctype, cache, refresh, auth, location, body string
	}
	type result struct {
		answers []answer
		csv     map[string][]string // "req" -> header + rows
		logs    []string
	}
	run := func(start func(text string) func() string) result {
		ports := freePorts(t, 3)
		out := start(statsPageCfg(ports, web))
		client := &http.Client{
			Transport:     &http.Transport{DisableKeepAlives: true},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
		res := result{csv: map[string][]string{}}
		do := func(method string, port int, path, user, pass, form string) answer {
			var body io.Reader
			if form != "" {
				body = strings.NewReader(form)
			}
			req, err := http.NewRequest(method, fmt.Sprintf("http://127.0.0.1:%d%s", port, path), body)
			require.NoError(t, err)
			if form != "" {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			if user != "" {
				req.SetBasicAuth(user, pass)
			}
			resp, err := client.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			a := answer{status: resp.StatusCode, ctype: resp.Header.Get("Content-Type"), cache: resp.Header.Get("Cache-Control"),
				refresh: resp.Header.Get("Refresh"), auth: resp.Header.Get("WWW-Authenticate"), location: resp.Header.Get("Location")}
			switch {
			case strings.HasPrefix(string(b), "# pxname"):
				res.csv[method+" "+path] = strings.Split(strings.TrimSpace(string(b)), "\n")
				a.body = "CSV"
			case a.ctype == "text/html" && a.status == 200:
				a.body = "HTML"
			default:
				a.body = string(b)
			}
			return a
		}
		steps := []func() answer{
			func() answer { return do("GET", ports[0], "/st", "", "", "") },
			func() answer { return do("GET", ports[0], "/st", "u1", "bad", "") },
			func() answer { return do("GET", ports[0], "/st", "u2", "p2", "") },
			func() answer { return do("GET", ports[0], "/st;norefresh", "u1", "p1", "") },
			func() answer { return do("GET", ports[0], "/st;csv;norefresh", "u2", "p2", "") },
			func() answer { return do("POST", ports[0], "/st", "u2", "p2", "s=s1&action=maint&b=%23999") },
			func() answer { return do("GET", ports[0], "/stats", "u2", "p2", "") },
			func() answer { return do("PUT", ports[0], "/st", "u2", "p2", "") },
			func() answer { return do("HEAD", ports[0], "/st", "u2", "p2", "") },
			func() answer { return do("GET", ports[0], "/xst", "u2", "p2", "") },
			func() answer { return do("GET", ports[1], "/blocked", "", "", "") },
			func() answer { return do("GET", ports[1], "/anything;csv", "", "", "") },
		}
		for _, step := range steps {
			res.answers = append(res.answers, step())
		}
		// The admin form: the backend by its id, as the page's form names it.
		var admID string
		for _, l := range res.csv["GET /anything;csv"] {
			if f := strings.Split(l, ","); f[0] == "adm" && f[1] == "BACKEND" {
				admID = f[27]
			}
		}
		require.NotEmpty(t, admID, "adm's id in the CSV")
		for _, form := range []string{
			"s=a&action=maint&b=%23" + admID,
			"s=b&action=drain&b=adm",
			"action=maint&b=%23" + admID,
			"s=zz&action=maint&b=%23" + admID,
			"s=b&action=bogus&b=%23" + admID,
		} {
			res.answers = append(res.answers, do("POST", ports[2], "/adm", "", "", form))
		}
		res.answers = append(res.answers, do("GET", ports[2], "/adm;csv", "", "", ""))
		res.answers = append(res.answers, do("GET", ports[2], "/adm;csv;up", "", "", ""))
		res.answers = append(res.answers, do("GET", ports[2], "/adm;csv;no-maint", "", "", ""))
		// The log lines of the page's answers: the proxy, <STATS>, the
		// status and the termination state.
		stats := regexp.MustCompile(`\] (\S+) (\S+) \S+ (\d+) \d+ - - (\S+) .*"(\S+ \S+) HTTP`)
		var lines []string
		ok := assert.Eventually(t, func() bool {
			lines = lines[:0]
			for _, l := range strings.Split(out(), "\n") {
				if m := stats.FindStringSubmatch(l); m != nil {
					lines = append(lines, strings.Join(m[1:], " "))
				}
			}
			return len(lines) == len(res.answers)
		}, 10*time.Second, 10*time.Millisecond)
		require.True(t, ok, "one log line per request, %d for %d, in:\n%s", len(lines), len(res.answers), out())
		// Sorted: a line is written once its answer is sent, so the next
		// request's may come first.
		res.logs = append([]string(nil), lines...)
		sort.Strings(res.logs)
		return res
	}
	haStart := func(text string) func() string { return startHAProxyReady(t, text) }
	lbStart := func(text string) func() string {
		_, logs, mu := startInProcess(t, text)
		return func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
	}
	want := run(haStart)
	got := run(lbStart)
	require.Equal(t, want.answers, got.answers, "haproxy's answers, then lb's")

	// The CSV pages: the same rows, the same columns filled.
	require.Equal(t, len(want.csv), len(got.csv))
	for req, w := range want.csv {
		g := got.csv[req]
		require.Len(t, g, len(w), req)
		for i := range w {
			wf, gf := strings.Split(w[i], ","), strings.Split(g[i], ",")
			require.Len(t, gf, len(wf), "%s line %d", req, i)
			assert.Equal(t, wf[0]+","+wf[1], gf[0]+","+gf[1], "%s line %d", req, i)
			for k := range wf {
				assert.Equal(t, wf[k] == "", gf[k] == "", "%s %s column %d: haproxy %q, lb %q", req, wf[1], k, wf[k], gf[k])
			}
		}
	}
	// haproxy 2.6 logs its 401 answers with status 400; lb logs 401.
	for i, l := range want.logs {
		want.logs[i] = strings.Replace(l, " 400 LR--", " 401 LR--", 1)
	}
	assert.Equal(t, want.logs, got.logs, "the log lines")
	assert.Contains(t, got.logs, "st st/<STATS> 200 LR-- GET /st;csv;norefresh")
}
