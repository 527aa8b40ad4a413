package balancer

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/stretchr/testify/require"
)

func TestServerStatusWords(t *testing.T) {
	cfg := &config.Server{Rise: 2, Fall: 3}
	for _, tc := range []struct {
		up                    bool
		health                int
		maint, drain, checked bool
		want                  string
	}{
		{true, 4, false, false, true, "UP"},
		{true, 3, false, false, true, "UP 2/3"},
		{true, 2, false, false, true, "UP 1/3"},
		{false, 1, false, false, true, "DOWN 1/2"},
		{false, 0, false, false, true, "DOWN"},
		{true, 2, false, false, false, "no check"},
		{true, 4, false, true, true, "DRAIN"},
		{true, 3, false, true, true, "DRAIN 2/3"},
		{true, 2, false, true, false, "DRAIN"},
		{false, 0, true, false, true, "MAINT"},
		{true, 2, true, true, false, "MAINT"},
	} {
		require.Equal(t, tc.want, serverStatus(cfg.Rise, cfg.Fall, tc.up, tc.health, tc.maint, tc.drain, tc.checked), "%+v", tc)
	}
}

func TestParseWeight(t *testing.T) {
	for _, tc := range []struct {
		arg     string
		initial int
		want    int
		err     string
	}{
		{"0", 3, 0, ""},
		{"256", 3, 256, ""},
		{"257", 3, 0, "between 0 and 256"},
		{"-1", 3, 0, "between 0 and 256"},
		{"x", 3, 0, "between 0 and 256"},
		{"50%", 3, 1, ""},
		{"200%", 3, 6, ""},
		{"1000%", 100, 256, ""},
		{"-5%", 3, 0, "Relative weight must be positive"},
	} {
		w, err := parseWeight(tc.arg, tc.initial)
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err, tc.arg)
			continue
		}
		require.NoError(t, err, tc.arg)
		require.Equal(t, tc.want, w, tc.arg)
	}
}

func TestFormatUptime(t *testing.T) {
	require.Equal(t, "0d 0h00m04s", formatUptime(4))
	require.Equal(t, "1d 2h03m04s", formatUptime(86400+2*3600+3*60+4))
}

// TestRuntimeAdminLevels checks that the state and weight commands need
// the admin level, clear counters the operator level (all: admin), and
// that a static algorithm takes no weight but 0 and the configured one.
func TestRuntimeAdminLevels(t *testing.T) {
	b, logs := startLB(t, parseCfg(t, globalLog+`
listen l
    bind 127.0.0.1:0
    server a 127.0.0.1:1 weight 4
    server b 127.0.0.1:1
listen s
    bind 127.0.0.1:0
    balance static-rr
    server a 127.0.0.1:1 weight 4
`))
	for _, cmd := range []string{"set server l/a state maint", "disable server l/a", "set weight l/a 2", "clear counters all"} {
		require.Equal(t, "Permission denied\n", b.RunCommand("operator", cmd), cmd)
	}
	require.Equal(t, "Permission denied\n", b.RunCommand("user", "clear counters"))
	require.Equal(t, "", b.RunCommand("operator", "clear counters"))
	require.Equal(t, "4 (initial 4)\n", b.RunCommand("user", "get weight l/a"))
	require.Equal(t, "", b.RunCommand("admin", "set weight l/a 25%"))
	require.Equal(t, "1 (initial 4)\n", b.RunCommand("user", "get weight l/a"))
	require.Equal(t, "Backend is using a static LB algorithm and only accepts weights '0%' and '100%'.\n", b.RunCommand("admin", "set weight s/a 2"))
	require.Equal(t, "", b.RunCommand("admin", "set weight s/a 0"))
	require.Equal(t, "", b.RunCommand("admin", "set server l/b state maint"))
	require.Contains(t, logs.lines(), "Server l/b is going DOWN for maintenance. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.")
	require.Equal(t, "", b.RunCommand("admin", "set server l/b state ready"))
	require.Contains(t, logs.lines(), "Server l/b is UP/READY (leaving forced maintenance).")
	require.Contains(t, b.RunCommand("admin", "set server l/b"), "usage: set server")
	require.Equal(t, "# name\nl\ns\n", b.RunCommand("user", "show backend"))
	require.Equal(t, "'show stat typed' is not supported: lb prints the CSV only.\n", b.RunCommand("user", "show stat typed"))
	info := b.RunCommand("user", "show info")
	require.Contains(t, info, "Name: lb\n")
	require.Contains(t, info, "Listeners: 2\n")
	require.Regexp(t, `Uptime: 0d 0h00m0\ds\n`, info)
}

// TestStatsPageHTML reads the HTML page with and without admin rights
// and drives its form.
func TestStatsPageHTML(t *testing.T) {
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "app\n") }))
	t.Cleanup(hs.Close)
	srv := strings.TrimPrefix(hs.URL, "http://")
	b, _ := startLB(t, parseCfg(t, `
global
    node n1
    description the test farm
defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
listen web
    bind 127.0.0.1:0
    stats uri /admin
    stats show-node
    stats show-desc
    stats hide-version
    stats admin if { src 127.0.0.1 }
    server a %[1]s
    server b %[1]s
listen ro
    bind 127.0.0.1:0
    stats enable
    stats scope ro
    server c %[1]s
`, srv))
	get := func(proxy, path string) string {
		resp, err := http.Get("http://" + b.Addrs(proxy)[0].String() + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		require.Equal(t, 200, resp.StatusCode, path)
		return string(body)
	}
	page := get("web", "/admin")
	require.Contains(t, page, "<title>Statistics Report for lb on n1</title>")
	require.Contains(t, page, "<p>the test farm</p>")
	require.NotContains(t, page, "lb version")
	require.Contains(t, page, `<caption><a name="web"></a>web</caption>`)
	require.Contains(t, page, `<caption><a name="ro"></a>ro</caption>`)
	require.Contains(t, page, `<input type="checkbox" name="s" value="a">`)
	require.Contains(t, page, `<td class="name">FRONTEND</td>`)
	require.Contains(t, page, `<td class="name">BACKEND</td>`)

	ro := get("ro", "/haproxy?stats")
	require.Contains(t, ro, "lb version")
	require.NotContains(t, ro, `<caption><a name="web"></a>`, "stats scope ro")
	require.NotContains(t, ro, "checkbox", "no admin on ro")

	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.PostForm("http://"+b.Addrs("web")[0].String()+"/admin", url.Values{"s": {"a"}, "action": {"drain"}, "b": {"web"}})
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, 303, resp.StatusCode)
	require.Equal(t, "/admin;st=DONE", resp.Header.Get("Location"))
	require.Contains(t, get("web", "/admin;st=DONE"), "Action: processed successfully")
	require.Contains(t, get("web", "/admin"), `<tr class="drain"><td><input type="checkbox" name="s" value="a"></td><td class="name">a</td>`)
	csv := get("web", "/admin;csv")
	require.Contains(t, csv, "\nweb,a,")
	require.Contains(t, strings.Split(csv, "\nweb,a,")[1], ",DRAIN,")
}

// TestStatsCountersFollowTraffic checks counters lb keeps without a peer
// to compare with: the peak of a server queue, the peak of current
// sessions, and clear counters.
func TestStatsCountersFollowTraffic(t *testing.T) {
	peer, _ := testnet.Peer(t, func(c *net.TCPConn) { _, _ = io.Copy(io.Discard, c) })
	b, _ := startLB(t, parseCfg(t, globalLog+`
listen l
    bind 127.0.0.1:0
    timeout queue 5s
    server a %s maxconn 1
`, peer))
	addr := b.Addrs("l")[0].String()
	for range 3 {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
	}
	rows := func() map[string]map[string]string {
		out := b.RunCommand("operator", "show stat l 6 -1")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		require.Len(t, lines, 3)
		m := map[string]map[string]string{}
		for _, l := range lines[1:] {
			r := map[string]string{}
			for i, v := range strings.Split(l, ",") {
				if i < len(statFields) {
					r[statFields[i]] = v
				}
			}
			m[r["svname"]] = r
		}
		return m
	}
	require.Eventually(t, func() bool {
		r := rows()
		return r["a"]["scur"] == "1" && r["BACKEND"]["qcur"] == "2"
	}, 5*time.Second, 10*time.Millisecond)
	r := rows()
	require.Equal(t, "1", r["a"]["smax"])
	require.Equal(t, "1", r["a"]["slim"])
	require.Equal(t, "0", r["a"]["qcur"], "roundrobin queues in the backend")
	require.Equal(t, "2", r["BACKEND"]["qmax"])
	require.Equal(t, "3", r["BACKEND"]["scur"], "beconn counts the queued connections too")
	require.Equal(t, "1", r["a"]["lbtot"], "the algorithm chose once; the two queued wait")
	require.Equal(t, "1", r["a"]["stot"])
	require.Equal(t, "3", r["BACKEND"]["stot"])
	require.Equal(t, "", b.RunCommand("operator", "clear counters"))
	r = rows()
	require.Equal(t, "1", r["a"]["smax"], "the peaks restart from the current figures")
	require.Equal(t, "2", r["BACKEND"]["qmax"])
	require.Equal(t, "", b.RunCommand("admin", "clear counters all"))
	r = rows()
	require.Equal(t, "0", r["a"]["stot"])
	require.Equal(t, "0", r["BACKEND"]["stot"])
}

// BenchmarkCountTraffic is what the statistics cost an HTTP request: the
// frontend's request count, the bytes, status and termination of the
// frontend, backend and server, their times and the connection count.
func BenchmarkCountTraffic(b *testing.B) {
	px := &config.Proxy{Name: "p", Mode: "http"}
	fe := &frontend{cfg: px}
	be := &Backend{cfg: px}
	srv := &Server{cfg: &config.Server{Name: "s"}, be: be}
	b.ReportAllocs()
	for b.Loop() {
		fe.st.request()
		srv.st.session(time.Time{})
		countTraffic(fe, be, srv, 512, 2048, [2]byte{'-', '-'}, 200)
		countTimes(be, srv, [4]time.Duration{0, time.Millisecond, 12 * time.Millisecond, 15 * time.Millisecond})
		srv.st.connects.Add(1)
		be.st.connects.Add(1)
	}
}

func TestOutage(t *testing.T) {
	var o outage
	require.False(t, o.set(false, 100), "up, and still up")
	require.True(t, o.set(true, 100))
	require.False(t, o.set(true, 105), "down, and still down")
	require.Equal(t, int64(10), o.total(time.Unix(110, 0)))
	require.True(t, o.set(false, 112))
	require.Equal(t, int64(12), o.total(time.Unix(500, 0)), "no time counts while up")
	require.True(t, o.set(true, 600))
	require.Equal(t, int64(15), o.total(time.Unix(603, 0)))
}
