package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// promCfg has the exporter on frontend stats, which also sends traffic
// to an HTTP backend with a checked server, a checked dead one and one in
// maintenance; a TCP listen section; and a second exporter, probe, that
// the test polls while the checks settle, so that the scrapes of stats
// are counted the same under both. probe is first, so that the bare
// connection that tells haproxy is ready goes there: haproxy counts it
// as a session, a request, a request error and a 4xx answer.
func promCfg(ports []int, web, dead, echo string) string {
	return fmt.Sprintf(`global
    maxconn 200
    nbthread 2
    log stdout format raw local0
`+httpLogDefaults+`frontend probe
    bind 127.0.0.1:%d
    maxconn 10
    http-request use-service prometheus-exporter
frontend stats
    bind 127.0.0.1:%d
    maxconn 50
    http-request use-service prometheus-exporter if { path /metrics }
    default_backend web
backend web
    server up %s check inter 100 weight 3 maxconn 7 maxqueue 9
    server down %s check inter 100
    server off %s disabled
listen tcpl
    mode tcp
    bind 127.0.0.1:%d
    maxconn 30
    server t1 %s
`, ports[1], ports[0], web, dead, web, ports[2], echo)
}

// promSample is one line of an exposition: the family and labels, and
// the value.
type promSample struct{ key, value string }

// promScrape is an exposition read back.
type promScrape struct {
	status  int
	ctype   string
	types   map[string]string // family: gauge or counter
	helps   map[string]bool   // families with a HELP line
	samples []promSample
}

func scrapeProm(t *testing.T, method, url string) promScrape {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	req, err := http.NewRequest(method, url, nil)
	require.NoError(t, err)
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	s := promScrape{status: resp.StatusCode, ctype: resp.Header.Get("Content-Type"), types: map[string]string{}, helps: map[string]bool{}}
	if resp.StatusCode != http.StatusOK {
		return s
	}
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "# TYPE "):
			f := strings.Fields(l)
			require.Len(t, f, 4, "TYPE line %q", l)
			s.types[f[2]] = f[3]
		case strings.HasPrefix(l, "# HELP "):
			s.helps[strings.Fields(l)[2]] = true
		default:
			i := strings.LastIndexByte(l, ' ')
			require.Positive(t, i, "sample %q", l)
			s.samples = append(s.samples, promSample{l[:i], l[i+1:]})
		}
	}
	return s
}

// family is the family name of a sample's key.
func family(key string) string {
	name, _, _ := strings.Cut(key, "{")
	return name
}

// promOmitted are haproxy's process families lb leaves out, for figures
// it does not keep: memory pools, descriptors, SSL, the compression
// rates, tasks and idle time, peak rates, bytes sent by the process, DNS.
var promOmitted = strings.Fields(`haproxy_process_pool_failures_total haproxy_process_max_fds
	haproxy_process_max_sockets haproxy_process_max_ssl_connections haproxy_process_current_ssl_connections
	haproxy_process_ssl_connections_total haproxy_process_max_connection_rate haproxy_process_max_session_rate
	haproxy_process_current_ssl_rate haproxy_process_limit_ssl_rate haproxy_process_max_ssl_rate
	haproxy_process_current_frontend_ssl_key_rate haproxy_process_max_frontend_ssl_key_rate
	haproxy_process_frontend_ssl_reuse haproxy_process_current_backend_ssl_key_rate
	haproxy_process_max_backend_ssl_key_rate haproxy_process_ssl_cache_lookups_total
	haproxy_process_ssl_cache_misses_total haproxy_process_http_comp_bytes_in_total
	haproxy_process_http_comp_bytes_out_total haproxy_process_limit_http_comp haproxy_process_current_zlib_memory
	haproxy_process_max_zlib_memory haproxy_process_current_tasks haproxy_process_current_run_queue
	haproxy_process_idle_time_percent haproxy_process_dropped_logs_total haproxy_process_failed_resolutions
	haproxy_process_bytes_out_total haproxy_process_spliced_bytes_out_total haproxy_process_bytes_out_rate
	haproxy_process_pool_allocated_bytes haproxy_process_pool_used_bytes`)

// promCompared are the process families whose values are compared: the
// configured limits and fixed figures. The others depend on time
// (uptime, start time, rates) or on connections that are not the test's
// (haproxy counts its health checks' among its connections), or on the
// pipes lb pools for splicing on its own terms.
var promCompared = strings.Fields(`haproxy_process_nbthread haproxy_process_nbproc
	haproxy_process_relative_process_id haproxy_process_max_connections haproxy_process_hard_max_connections
	haproxy_process_limit_connection_rate haproxy_process_limit_session_rate haproxy_process_stopping
	haproxy_process_unstoppable_jobs haproxy_process_listeners haproxy_process_active_peers
	haproxy_process_connected_peers haproxy_process_busy_polling_enabled haproxy_process_recv_logs_total
	haproxy_process_max_memory_bytes`)

// promTimed are the proxies' families whose values depend on timing:
// rates and their peaks, seconds since a change or a session, time spent
// down, time averages and peaks, check durations, the failed checks of a
// dead server (one per interval), the estimate of connections needed,
// the idle server connections (lb does not count its idle pool), and a
// frontend's peak of sessions, which haproxy sometimes counts with a
// closing connection beside the next (TestInteropStatsMatchHAProxy
// leaves its smax alike).
var promTimed = regexp.MustCompile(`_rate(_max)?$|_rate$|^haproxy_(backend|server)_(check_last_change_seconds|downtime_seconds_total|last_session_seconds|check_duration_seconds|check_failures_total|need_connections_current|idle_connections_current|unsafe_idle_connections_current)$|_time_average_seconds$|^haproxy_(backend|server)_max_\w+_time_seconds$|^haproxy_frontend_max_sessions$`)

// promHTTPBytes are the byte counts of HTTP traffic, which differ by the
// fields each proxy writes.
var promHTTPBytes = regexp.MustCompile(`^haproxy_(frontend|backend|server)_bytes_(in|out)_total\{proxy="(stats|web)"`)

// TestInteropPrometheusMatchesHAProxy runs the same configuration and
// traffic under haproxy and lb and scrapes both exporters: the same
// families with the same TYPE lines (but for the process figures lb does
// not keep, listed), the same samples in the same order with the same
// labels, and the same values where they do not depend on timing:
// sessions and requests, bytes of TCP sessions, status classes, states
// of frontends, backends and servers, check outcomes, weights, limits.
// The query string's scopes and no-maint select the same samples, a bad
// scope is refused the same way, and the scrape is logged alike.
func TestInteropPrometheusMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	web := handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		_, _ = io.WriteString(w, "ok\n")
	})
	echo := checkPeer(t, func(c *net.TCPConn) {
		line, err := bufio.NewReader(c).ReadString('\n')
		if err == nil {
			_, _ = io.WriteString(c, line)
		}
	})
	dead := testnet.RefusedAddr(t)

	type result struct {
		full, noMaint, scoped, none, head promScrape
		bad                               int
		logLine                           string
	}
	logRe := regexp.MustCompile(`(?m)^127\.0\.0\.1:\d+ \[[^]]+\] stats stats/<PROMEX> (\d+)/(\d+)/(\d+)/(\d+)/\d+ (\d+) \d+ - - (\S+) .*"GET /metrics HTTP/1\.1"$`)
	run := func(start func(text string) func() string) result {
		ports := freePorts(t, 3)
		out := start(promCfg(ports, web, dead, echo))
		probe := fmt.Sprintf("http://127.0.0.1:%d/metrics", ports[1])
		stats := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
		has := func(s promScrape, key, value string) bool {
			return slices.Contains(s.samples, promSample{key, value})
		}
		ok := assert.Eventually(t, func() bool {
			s := scrapeProm(t, "GET", probe)
			return has(s, `haproxy_server_status{proxy="web",server="up",state="UP"}`, "1") &&
				has(s, `haproxy_server_status{proxy="web",server="down",state="DOWN"}`, "1") &&
				has(s, `haproxy_server_check_status{proxy="web",server="down",state="L4CON"}`, "1")
		}, 10*time.Second, 20*time.Millisecond)
		require.True(t, ok, "checks settled")
		idle := func() {
			require.Eventually(t, func() bool {
				s := scrapeProm(t, "GET", probe)
				return has(s, `haproxy_frontend_current_sessions{proxy="stats"}`, "0") &&
					has(s, `haproxy_frontend_current_sessions{proxy="tcpl"}`, "0") &&
					has(s, `haproxy_backend_current_sessions{proxy="web"}`, "0")
			}, 10*time.Second, 5*time.Millisecond)
		}
		client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		for _, path := range []string{"/", "/missing", "/", "/"} {
			resp, err := client.Get(stats + path)
			require.NoError(t, err)
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			idle()
		}
		for range 2 {
			c := dialFrom(t, "127.0.0.1", fmt.Sprintf("127.0.0.1:%d", ports[2]))
			_, err := io.WriteString(c, "ping\n")
			require.NoError(t, err)
			line, err := bufio.NewReader(c).ReadString('\n')
			require.NoError(t, err)
			require.Equal(t, "ping\n", line)
			_ = c.Close()
			idle()
		}
		var res result
		res.full = scrapeProm(t, "GET", stats+"/metrics")
		res.noMaint = scrapeProm(t, "GET", stats+"/metrics?no-maint")
		res.scoped = scrapeProm(t, "GET", stats+"/metrics?scope=backend&scope=server")
		res.none = scrapeProm(t, "GET", stats+"/metrics?scope=")
		res.head = scrapeProm(t, "HEAD", stats+"/metrics")
		res.bad = scrapeProm(t, "GET", stats+"/metrics?scope=bogus").status
		require.Eventually(t, func() bool {
			m := logRe.FindStringSubmatch(out())
			if m == nil {
				return false
			}
			// The timers are numbers (the service answers at once);
			// the status and the termination state are compared.
			res.logLine = "timers set, status " + m[5] + ", " + m[6]
			return true
		}, 5*time.Second, 10*time.Millisecond, "the scrape's log line: %s", out())
		return res
	}
	want := run(func(text string) func() string { return startHAProxyReady(t, text) })
	got := run(func(text string) func() string {
		_, logs, mu := startInProcess(t, text)
		return func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
	})

	// Families and types: lb's are haproxy's, less the omitted ones.
	require.Equal(t, http.StatusOK, got.full.status)
	assert.Equal(t, want.full.ctype, got.full.ctype)
	wantTypes := map[string]string{}
	for f, typ := range want.full.types {
		if !slices.Contains(promOmitted, f) {
			wantTypes[f] = typ
		}
	}
	assert.Equal(t, wantTypes, got.full.types, "families and their TYPE")
	for f := range got.full.types {
		assert.True(t, got.full.helps[f], "HELP line of %s", f)
	}

	// Samples: the same keys in the same order, then the values.
	keys := func(s promScrape, drop []string) []string {
		var k []string
		for _, smp := range s.samples {
			name := family(smp.key)
			if slices.Contains(drop, name) {
				continue
			}
			if name == "haproxy_process_build_info" {
				smp.key = name // the version label is each one's own
			}
			k = append(k, smp.key)
		}
		return k
	}
	assert.Equal(t, keys(want.full, promOmitted), keys(got.full, nil), "samples, in order")
	values := func(s promScrape) map[string]string {
		m := map[string]string{}
		for _, smp := range s.samples {
			name := family(smp.key)
			switch {
			case strings.HasPrefix(name, "haproxy_process_"):
				if !slices.Contains(promCompared, name) {
					continue
				}
			case strings.Contains(smp.key, `proxy="probe"`), promTimed.MatchString(name), promHTTPBytes.MatchString(smp.key):
				continue
			}
			m[smp.key] = smp.value
		}
		return m
	}
	wantValues, gotValues := values(want.full), values(got.full)
	assert.Equal(t, wantValues, gotValues, "values")
	// The values that matter, as both give them.
	for k, v := range map[string]string{
		`haproxy_frontend_sessions_total{proxy="stats"}`:                          "5",
		`haproxy_frontend_http_requests_total{proxy="stats"}`:                     "5",
		`haproxy_frontend_intercepted_requests_total{proxy="stats"}`:              "1",
		`haproxy_frontend_http_responses_total{proxy="stats",code="4xx"}`:         "1",
		`haproxy_frontend_limit_sessions{proxy="stats"}`:                          "50",
		`haproxy_frontend_status{proxy="stats",state="UP"}`:                       "1",
		`haproxy_frontend_bytes_in_total{proxy="tcpl"}`:                           "10",
		`haproxy_backend_bytes_out_total{proxy="tcpl"}`:                           "10",
		`haproxy_server_sessions_total{proxy="tcpl",server="t1"}`:                 "2",
		`haproxy_backend_limit_sessions{proxy="web"}`:                             "5",
		`haproxy_backend_http_responses_total{proxy="web",code="2xx"}`:            "3",
		`haproxy_backend_weight{proxy="web"}`:                                     "3",
		`haproxy_backend_agg_server_status{proxy="web",state="MAINT"}`:            "1",
		`haproxy_backend_agg_check_status{proxy="web",state="L4CON"}`:             "1",
		`haproxy_server_http_responses_total{proxy="web",server="up",code="2xx"}`: "3",
		`haproxy_server_status{proxy="web",server="off",state="MAINT"}`:           "1",
		`haproxy_server_check_status{proxy="web",server="up",state="L4OK"}`:       "1",
		`haproxy_server_limit_sessions{proxy="web",server="up"}`:                  "7",
		`haproxy_server_limit_sessions{proxy="web",server="down"}`:                "NaN",
		`haproxy_server_queue_limit{proxy="web",server="up"}`:                     "9",
		`haproxy_server_check_code{proxy="web",server="up"}`:                      "0",
		`haproxy_process_hard_max_connections`:                                    "200",
	} {
		assert.Equal(t, v, gotValues[k], k)
	}

	// The query string: the same selections; a bad scope refused alike.
	assert.Equal(t, keys(want.noMaint, promOmitted), keys(got.noMaint, nil), "no-maint")
	assert.NotContains(t, strings.Join(keys(got.noMaint, nil), "\n"), `server="off"`)
	assert.Equal(t, keys(want.scoped, nil), keys(got.scoped, nil), "scope=backend&scope=server")
	assert.True(t, strings.HasPrefix(got.scoped.samples[0].key, "haproxy_backend_"), "backends first")
	assert.Empty(t, want.none.samples, "scope= selects nothing")
	assert.Empty(t, got.none.samples, "scope= selects nothing")
	assert.Empty(t, got.head.samples, "HEAD has no body")
	assert.Equal(t, want.head.status, got.head.status)
	assert.Equal(t, http.StatusBadRequest, want.bad)
	assert.Equal(t, want.bad, got.bad, "an unknown scope")
	assert.Equal(t, want.logLine, got.logLine, "the scrape's log line")
	assert.Equal(t, "timers set, status 200, LR--", got.logLine)
}
