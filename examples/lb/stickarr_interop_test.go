package main

import (
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/balancer"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
)

// TestInteropGPArraysMatchHAProxy runs the general purpose arrays under
// haproxy and lb: sc-inc-gpc and sc-set-gpt in http-request and
// tcp-request rules, the scalar actions and fetches landing on the
// arrays' first elements, the sc_/src_ fetches and table_ converters of
// the arrays, then the runtime socket's show and set table. What clients
// read and what show table prints must be the same.
func TestInteropGPArraysMatchHAProxy(t *testing.T) {
	const cfg = `global
    stats socket %s level admin
` + httpDefaults + `frontend fe
    bind %s
    tcp-request connection track-sc2 src table conn
    tcp-request connection sc-inc-gpc(1,2)
    tcp-request session sc-set-gpt(0,2) 7
    http-request track-sc0 src table arr
    http-request track-sc1 req.hdr(x-k) table karr if { req.hdr(x-k) -m found }
    http-request sc-inc-gpc(1,0) if { path_beg /a }
    http-request sc-inc-gpc(2,0) if { path_beg /b }
    http-request sc-inc-gpc0(0) if { path_beg /c }
    http-request sc-inc-gpc1(1) if { path_beg /c }
    http-request sc-set-gpt(1,0) req.hdr(x-tag) if { req.hdr(x-tag) -m found }
    http-request sc-set-gpt0(1) 9 if { path_beg /t }
    http-request sc-inc-gpc(5,0)
    http-request sc-set-gpt(-1,0) 3
    http-request return status 200 content-type text/plain lf-string "g=%%[sc_get_gpc(0,0)]/%%[sc_get_gpc(1,0)]/%%[sc_get_gpc(2,0)] r=%%[sc_gpc_rate(1,0)]/%%[sc_gpc_rate(2,0)] t=%%[sc_get_gpt(1,0)] s=%%[src_get_gpc(2,arr)]/%%[src_gpc_rate(1,arr)]/%%[src_get_gpt(1,arr)] c=%%[sc_get_gpc0(0)]/%%[sc0_get_gpc1]/%%[sc_gpc0_rate(0)]/%%[sc_get_gpt0(0)] k=%%[sc_get_gpc(0,1)]/%%[sc_get_gpc(1,1)]/%%[sc_get_gpt0(1)]/%%[sc_get_gpc1(1)] tv=%%[src,table_gpc(1,arr)]/%%[src,table_gpc_rate(2,arr)]/%%[src,table_gpt(1,arr)]/%%[src,table_gpc(9,arr)]/%%[src,table_gpc0(arr)] n=%%[sc_get_gpc(1,2)]/%%[sc_get_gpt(0,2)]/%%[sc_get_gpc(0,3)]/%%[sc_get_gpc(7,0)] w=%%[src_inc_gpc(0,arr)]/%%[sc_clr_gpc(2,0)]/%%[sc1_clr_gpc(0)]/%%[sc_inc_gpc(1,1)]\n" if { path_beg /show }
    http-request return status 200 content-type text/plain lf-string "ok\n"
    default_backend app
backend arr
    stick-table type ip size 1k expire 30s store gpc(3),gpc_rate(3,10s),gpt(2),http_req_cnt
backend karr
    stick-table type string len 16 size 1k expire 30s store gpc(2),gpt(1)
backend conn
    stick-table type ip size 1k expire 30s store gpc(2),gpt(1)
backend app
    server s1 %s
`
	app := handlerServer(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "app\n") })
	hp, lb, hpSock, lbSock := sideBySide(t, cfg, strings.TrimPrefix(app, "http://"))

	type req struct{ path, key, tag string }
	seq := []req{
		{"/a", "", ""}, {"/show", "", ""}, {"/a", "k1", "12"}, {"/b", "k1", ""}, {"/c", "k1", ""},
		{"/show", "k1", ""}, {"/t", "k1", "4000000000"}, {"/c", "", "abc"}, {"/show", "k1", ""}, {"/show", "k2", ""},
	}
	run := func(addr string) []string {
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
		var out []string
		for i, r := range seq {
			hr, err := http.NewRequest("GET", "http://"+addr+r.path, nil)
			require.NoError(t, err)
			if r.key != "" {
				hr.Header.Set("X-K", r.key)
			}
			if r.tag != "" {
				hr.Header.Set("X-Tag", r.tag)
			}
			resp, err := client.Do(hr)
			require.NoError(t, err, "request %d", i+1)
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			out = append(out, fmt.Sprintf("%d %s %s", i+1, resp.Status[:3], strings.TrimSpace(string(body))))
		}
		return out
	}
	hpSeq := run(hp)
	lbSeq := run(lb)
	require.Equal(t, hpSeq, lbSeq, "haproxy:\n%s\nlb:\n%s", strings.Join(hpSeq, "\n"), strings.Join(lbSeq, "\n"))
	// The second request, spelled out: one /a so far, on gpc[1] and its
	// rate (sc0_get_gpc1 reads it too); sc1 untracked, sc3 no counter,
	// elements 7 and 9 not stored.
	require.Equal(t, "2 200 g=0/1/0 r=1/0 t=0 s=0/1/0 c=0/1/0/0 k=/// tv=1/0/0//0 n=2/7// w=1/0//", hpSeq[1])

	for _, table := range []string{"arr", "karr", "conn"} {
		want := normalizeDump(cliCommand(t, hpSock, "show table "+table))
		require.Contains(t, want, "gpc0=", "haproxy's %s", table)
		// The last request lets its entries go a moment after its
		// answer: wait for the dumps to agree before requiring it.
		var got string
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if got = normalizeDump(cliCommand(t, lbSock, "show table "+table)); got == want || time.Now().After(deadline) {
				break
			}
		}
		require.Equal(t, want, got, "show table %s", table)
	}
	// The socket reaches an array's element 0 by its bare name.
	for _, cmd := range []string{
		"set table arr key 10.9.9.9 data.gpc 4 data.gpt 2 data.gpc_rate 3",
		"show table arr data.gpc gt 3",
		"show table arr data.gpc_rate eq 3",
		"show table arr data.gpc(1) gt 0",
		"show table arr data.gpc1 gt 0",
		"set table arr key 10.9.9.8 data.gpt(1) 5",
		"set table karr key zz data.gpc 1 data.gpc1 2",
		"clear table arr data.gpc eq 4",
		"show table arr",
		"show table karr",
	} {
		want := normalizeDump(cliCommand(t, hpSock, cmd))
		require.Equal(t, want, normalizeDump(cliCommand(t, lbSock, cmd)), cmd)
	}
}

// TestInteropGPArrayConfigMatchesHAProxy: the array store items, actions
// and fetches haproxy -c refuses, lb refuses too, with haproxy's words
// and the line; those it takes, lb takes.
func TestInteropGPArrayConfigMatchesHAProxy(t *testing.T) {
	bin := haproxyBin(t)
	const table = "stick-table type ip size 10 store gpc(2),gpt(1)\n    "
	use := func(expr string) string {
		return `http-request return status 200 content-type text/plain lf-string "%[` + expr + `]" if { path /` + expr + ` }`
	}
	ret := func(expr string) string { return table + use(expr) }
	for _, tc := range []struct{ lines, want string }{
		{"stick-table type ip size 10 store gpc", "missing argument to store option 'gpc'"},
		{"stick-table type ip size 10 store gpc_rate(2)", "missing argument to store option 'gpc_rate'"},
		{"stick-table type ip size 10 store gpc(0)", "array size is out of allowed range (1-100) for store option 'gpc'"},
		{"stick-table type ip size 10 store gpt(101)", "array size is out of allowed range (1-100) for store option 'gpt'"},
		{"stick-table type ip size 10 store gpc_rate(x,1s)", "array size is out of allowed range (1-100) for store option 'gpc_rate'"},
		{"stick-table type ip size 10 store gpc(2,10s)", "unexpected argument to store option 'gpc'"},
		{"stick-table type ip size 10 store gpc_rate(2,abc)", "error when processing store option 'gpc_rate'"},
		{"stick-table type ip size 10 store gpc(2", "missing closing parenthesis after store option 'gpc'"},
		{"stick-table type ip size 10 store gpt(2),gpt0", "simultaneous usage of 'gpt' and 'gpt0' in a same table is not permitted as 'gpt' overrides 'gpt0'"},
		{"stick-table type ip size 10 store gpc1,gpc(2)", "simultaneous usage of 'gpc' and 'gpc[0/1]' in a same table is not permitted as 'gpc' overrides 'gpc[0/1]'"},
		{"stick-table type ip size 10 store gpc_rate(2,1s),gpc0_rate(1s)", "simultaneous usage of 'gpc_rate' and 'gpc[0/1]_rate' in a same table is not permitted as 'gpc_rate' overrides 'gpc[0/1]_rate'"},
		{"stick-table type ip size 10 store gpc(100),gpc_rate(100,1m),gpt(100),conn_rate(1s)", ""},
		{"http-request sc-inc-gpc", "invalid gpc ID 'sc-inc-gpc'. Expects sc-inc-gpc(<GPC ID>,<Track ID>)"},
		{"http-request sc-inc-gpc2", "invalid gpc ID 'sc-inc-gpc2'. Expects sc-inc-gpc(<GPC ID>,<Track ID>)"},
		{"http-request sc-inc-gpc(1)", "Missing gpc ID 'sc-inc-gpc(1)'. Expects sc-inc-gpc(<GPC ID>,<Track ID>)"},
		{"http-request sc-inc-gpc(1x,0)", "Missing gpc ID 'sc-inc-gpc(1x,0)'"},
		{"http-request sc-inc-gpc(1,3)", "invalid stick table track ID 'sc-inc-gpc(1,3)'. The max allowed ID is 2"},
		{"http-request sc-inc-gpc(1,x)", "invalid stick table track ID 'sc-inc-gpc(1,x)'. Expects sc-inc-gpc(<GPC ID>,<Track ID>)"},
		{"http-request sc-inc-gpc(1,0", "invalid stick table track ID 'sc-inc-gpc(1,0'"},
		{"http-request sc-inc-gpc(1,0) foo", "expects either 'if' or 'unless' followed by a condition but found 'foo'"},
		{"http-request sc-set-gpt 3", "invalid gpt ID 'sc-set-gpt'. Expects sc-set-gpt(<GPT ID>,<Track ID>)"},
		{"http-request sc-set-gpt(1) 5", "Missing gpt ID 'sc-set-gpt(1)'. Expects sc-set-gpt(<GPT ID>,<Track ID>)"},
		{"http-request sc-set-gpt(1,0) if TRUE", "unknown fetch method 'if'"},
		{"http-request sc-set-gpt(1,0) 5 6", "but found '6'"},
		{"http-response sc-inc-gpc(1)", "Missing gpc ID 'sc-inc-gpc(1)'"},
		{"http-after-response sc-inc-gpc(1,0)", "sc-inc-gpc(1,0)"},
		{"tcp-request connection sc-inc-gpc(1,3)", "invalid stick table track ID 'sc-inc-gpc(1,3)'. The max allowed ID is 2"},
		{"tcp-request content sc-set-gpt(1)", "Missing gpt ID 'sc-set-gpt(1)'. Expects sc-set-gpt(<GPT ID>,<Track ID>)"},
		{"tcp-request connection sc-set-gpt(1,0) if TRUE", "unknown fetch method 'if'"},
		{"tcp-request content sc-inc-gpc(1,0) foo", "only accepts 'if' or 'unless'"},
		{"http-request sc-inc-gpc(1,0)\n    http-request sc-inc-gpc(99,0)\n    http-request sc-inc-gpc(,0)\n    http-request sc-inc-gpc(-1,1)\n    http-request sc-set-gpt(1,0)\n    http-response sc-set-gpt(0,2) res.hdr(x)", ""},
		{"tcp-request connection sc-inc-gpc(0,0)\n    tcp-request session sc-set-gpt(1,1) 4\n    tcp-request content sc-set-gpt(0,2) src_port\n    tcp-request connection sc-set-gpt(0,0)", ""},
		{ret("sc_get_gpc(1)"), "missing arguments (got 1/2), type 'integer' expected"},
		{ret("sc_get_gpc(x,0)"), "failed to parse 'x' as type 'integer' at position 1"},
		{ret("src_get_gpc(1)"), "missing arguments (got 1/2), type 'table' expected"},
		{ret("sc_get_gpc(1,0,nosuch)"), "unable to find table 'nosuch' referenced in arg 3 of sample fetch keyword 'sc_get_gpc'"},
		{ret("src_gpc_rate(1,nosuch)"), "unable to find table 'nosuch' referenced in arg 2 of sample fetch keyword 'src_gpc_rate'"},
		{ret("src,table_gpt(x,f)"), "failed to parse 'x' as type 'integer' at position 1"},
		{ret("src,table_gpc(1,nosuch)"), "unable to find table 'nosuch' referenced in arg 2 of conversion keyword 'table_gpc'"},
		{ret("sc_get_gpc(1,5)") + "\n    " + use("sc1_clr_gpc(1)") + "\n    " + use("src_get_gpc(-1,f)") + "\n    " + use("src,table_gpc_rate(2,f)") + "\n    " + use("sc_inc_gpc(0,0,f)"), ""},
	} {
		t.Run(strings.Fields(tc.lines)[0]+" "+tc.want, func(t *testing.T) {
			text := "defaults\n    mode http\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\nfrontend f\n    bind 127.0.0.1:1\n    " + tc.lines + "\n    default_backend b\nbackend b\n    server s 127.0.0.1:1\n"
			hout, herr := exec.Command(bin, "-c", "-f", writeFile(t, "h.cfg", text)).CombinedOutput()
			cfg, err := config.Parse(config.Source{Name: "lb.cfg", Data: []byte(text)})
			if err == nil {
				err = balancer.Check(cfg)
			}
			if tc.want == "" {
				require.NoError(t, herr, "haproxy takes it: %s", hout)
				require.NoError(t, err)
				return
			}
			require.Error(t, herr, "haproxy refuses it")
			require.Contains(t, string(hout), tc.want)
			require.Error(t, err, "lb refuses it")
			require.Contains(t, err.Error(), tc.want)
			line := 8 + strings.Count(tc.lines, "\n")
			require.Regexp(t, regexp.MustCompile(fmt.Sprintf(`lb\.cfg:%d\b`, line)), err.Error(), "the line is named")
		})
	}
}
