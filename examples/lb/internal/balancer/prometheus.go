package balancer

import (
	"bufio"
	"bytes"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/proxyblocks/proxyblocks/mux/htx"
)

// The Prometheus exporter ("http-request use-service
// prometheus-exporter"): the request is answered by the balancer with its
// statistics in Prometheus' text format, as HAProxy 2.6's built-in
// exporter words them. The figures are those of "show info" and "show
// stat" (the same rows, so the same counters); the families, their
// names, types, labels and order are HAProxy's: the process first, then
// each frontend, backend and server family in the order of HAProxy's CSV
// columns, the proxies in the order they are declared within each
// family. HAProxy's listener families, which it only shows for "option
// socket-stats", and its stick table families are not exported. The
// "# HELP" texts are lb's own.
//
// The query string selects as HAProxy's does: "scope=global", "frontend",
// "backend", "server" (any number of them; "scope=*" all, an empty
// "scope=" none; "listener" and "sticktable" are accepted and select
// nothing here), and "no-maint" leaves out the servers in maintenance. A
// malformed query or an unknown scope is answered 400.

// Sections of the exposition, as HAProxy's exporter scopes them.
const (
	promGlobal uint8 = 1 << iota
	promFrontend
	promBackend
	promServer
	promAll = promGlobal | promFrontend | promBackend | promServer
)

// promOptions are what a scrape's query string asks.
type promOptions struct {
	scope   uint8
	noMaint bool
}

// parsePromQuery reads the query string of uri; it reports false for
// one HAProxy's exporter refuses.
func parsePromQuery(uri []byte) (promOptions, bool) {
	o := promOptions{scope: promAll}
	i := bytes.IndexByte(uri, '?')
	if i < 0 {
		return o, true
	}
	q := string(uri[i+1:])
	q, _, _ = strings.Cut(q, "#")
	scoped := false
	for q != "" {
		var param string
		param, q, _ = strings.Cut(q, "&")
		key, value, hasValue := strings.Cut(param, "=")
		if strings.Contains(value, "=") {
			return o, false
		}
		k, err := url.QueryUnescape(key)
		if err != nil {
			return o, false
		}
		v, err := url.QueryUnescape(value)
		if err != nil {
			return o, false
		}
		switch k {
		case "scope":
			if !hasValue {
				return o, false
			}
			if !scoped {
				o.scope, scoped = 0, true
			}
			switch {
			case v == "":
				o.scope = 0
			case v[0] == '*':
				o.scope = promAll
			case v == "global":
				o.scope |= promGlobal
			case v == "frontend":
				o.scope |= promFrontend
			case v == "backend":
				o.scope |= promBackend
			case v == "server":
				o.scope |= promServer
			case v == "listener", v == "sticktable":
				// Sections lb does not export.
			default:
				return o, false
			}
		case "no-maint":
			o.noMaint = true
		}
	}
	return o, true
}

// servePrometheus answers the request with the exporter's page, as the
// rule of hp asks; it is logged as HAProxy logs its service: the rule's
// proxy, server "<PROMEX>", termination state LR.
func (ex *exchange) servePrometheus(hp *httpProxy) {
	l := &ex.log
	ex.hf.s.fe.st.intercept.Add(1)
	l.backend, l.server = hp.px.Name, "<PROMEX>"
	l.term = [2]byte{'L', 'R'}
	l.twSet, l.tcSet, l.trSet = true, true, true
	o, ok := parsePromQuery(ex.req.Path())
	if !ok {
		ex.answer(builtinAnswer(400))
		return
	}
	var buf bytes.Buffer
	ex.hf.s.b.writePrometheus(&buf, o)
	a := &localAnswer{body: buf.Bytes()}
	a.head.SetResponse(200, "OK")
	a.head.Flags |= htx.FlagContentLength
	a.head.ContentLength = int64(buf.Len())
	a.head.Add("cache-control", "no-cache")
	a.head.Add("content-type", "text/plain; version=0.0.4")
	ex.answer(a)
}

// promWriter writes families: a family's "# HELP" and "# TYPE" lines
// come with its first sample, so that a family no object has is left
// out, as HAProxy leaves it.
type promWriter struct {
	b       *bytes.Buffer
	name    string
	help    string
	counter bool
	pending bool
}

func (w *promWriter) family(name, help string, counter bool) {
	w.name, w.help, w.counter, w.pending = name, help, counter, true
}

// sample writes one line; labels are name, value pairs.
func (w *promWriter) sample(value string, labels ...string) {
	b := w.b
	if w.pending {
		b.WriteString("# HELP ")
		b.WriteString(w.name)
		b.WriteByte(' ')
		b.WriteString(w.help)
		b.WriteString("\n# TYPE ")
		b.WriteString(w.name)
		if w.counter {
			b.WriteString(" counter\n")
		} else {
			b.WriteString(" gauge\n")
		}
		w.pending = false
	}
	b.WriteString(w.name)
	if len(labels) > 0 {
		b.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(labels[i])
			b.WriteString(`="`)
			b.WriteString(labels[i+1])
			b.WriteByte('"')
		}
		b.WriteByte('}')
	}
	b.WriteByte(' ')
	b.WriteString(value)
	b.WriteByte('\n')
}

// promNumber is a CSV value as a sample: the number, or NaN for an empty
// column or a word, as HAProxy's exporter prints them.
func promNumber(v string) string {
	if v == "" {
		return "NaN"
	}
	if _, err := strconv.ParseInt(v, 10, 64); err != nil {
		if _, err := strconv.ParseUint(v, 10, 64); err != nil {
			return "NaN"
		}
	}
	return v
}

// promSeconds is a column in milliseconds as seconds with six decimals,
// as HAProxy prints its times; empty reads as 0, since HAProxy's exporter
// takes the times from its counters, not from the CSV.
func promSeconds(v string) string {
	ms, _ := strconv.ParseInt(v, 10, 64)
	return strconv.FormatFloat(float64(ms)/1000, 'f', 6, 64)
}

// promInfo maps the "show info" lines lb writes to HAProxy's process
// families, in the exporter's order. The families of figures lb does not
// keep (memory pools, file descriptors, SSL, compression rates, tasks,
// idle time, peak rates, bytes sent by the process, DNS) are left out.
// Those with a fixed value are given as HAProxy gives them for an
// equivalent configuration: no master CLI (unstoppable_jobs 0), no peers,
// no busy polling, no log forwarding, no -m memory limit.
var promInfo = []struct {
	name, info string // info "" for a fixed value
	fixed      string
	counter    bool
	help       string
}{
	{name: "nbthread", info: "Nbthread", help: "Threads the process runs (nbthread)"},
	{name: "nbproc", info: "Nbproc", help: "Worker processes (always 1)"},
	{name: "relative_process_id", info: "Process_num", help: "Number of this worker process (1)"},
	{name: "uptime_seconds", info: "Uptime_sec", help: "Seconds since the process started"},
	{name: "max_connections", info: "Maxconn", help: "Connections the process accepts at most (maxconn)"},
	{name: "hard_max_connections", info: "Hard_maxconn", help: "Configured global maxconn"},
	{name: "current_connections", info: "CurrConns", help: "Client connections open now"},
	{name: "connections_total", info: "CumConns", counter: true, help: "Client connections accepted since start"},
	{name: "requests_total", info: "CumReq", counter: true, help: "HTTP requests received since start"},
	{name: "max_pipes", info: "Maxpipes", help: "Pipes for splicing at most (maxpipes)"},
	{name: "pipes_used_total", info: "PipesUsed", counter: true, help: "Pipes in use now"},
	{name: "pipes_free_total", info: "PipesFree", counter: true, help: "Pipes allocated and idle now"},
	{name: "current_connection_rate", info: "ConnRate", help: "Client connections accepted over the last second"},
	{name: "limit_connection_rate", info: "ConnRateLimit", help: "Limit on the connection rate (maxconnrate)"},
	{name: "current_session_rate", info: "SessRate", help: "Sessions created over the last second"},
	{name: "limit_session_rate", info: "SessRateLimit", help: "Limit on the session rate (maxsessrate)"},
	{name: "stopping", info: "Stopping", help: "1 while the process is stopping, else 0"},
	{name: "jobs", info: "Jobs", help: "Active jobs: client connections and listeners"},
	{name: "unstoppable_jobs", fixed: "0", help: "Jobs that a soft stop does not end (master connections)"},
	{name: "listeners", info: "Listeners", help: "Listening sockets"},
	{name: "active_peers", fixed: "0", help: "Peer connections verified and active"},
	{name: "connected_peers", fixed: "0", help: "Peers past the connection step"},
	{name: "busy_polling_enabled", fixed: "0", help: "1 when busy polling is on, else 0"},
	{name: "recv_logs_total", fixed: "0", counter: true, help: "Log messages received by log-forward sections"},
	{name: "build_info", help: "Build information, in the version label"},
	{name: "max_memory_bytes", fixed: "0", help: "Memory limit of the process in bytes (0: none)"},
	{name: "start_time_seconds", info: "Start_time_sec", help: "Unix time the process started at"},
}

// Families of the proxies' rows.
const (
	promFE = 1 << iota
	promBE
	promSV
)

// promKind says how a family's samples come from a row.
type promKind uint8

const (
	promPlain    promKind = iota // the column's number
	promSecs                     // the column in milliseconds, as seconds
	promState                    // status, one sample per state
	promCheck                    // check_status, one sample per state
	promCode                     // check_code
	promDuration                 // check_duration
	promHTTP                     // the column's number, HTTP proxies only
	promHrsp                     // http_responses_total, by code
	promAggState                 // a backend's servers counted by state
	promAggCheck                 // a backend's servers counted by check status
)

// promFields are the proxies' families, in HAProxy's order (its CSV
// columns'): the CSV column, the family's name without its prefix, where
// it shows, whether a counter, how its value comes, and its help.
var promFields = []struct {
	col, name string
	in        int
	counter   bool
	kind      promKind
	help      string
}{
	{"qcur", "current_queue", promBE | promSV, false, promPlain, "Requests waiting in the queue now"},
	{"qmax", "max_queue", promBE | promSV, false, promPlain, "Longest the queue has been"},
	{"scur", "current_sessions", promFE | promBE | promSV, false, promPlain, "Sessions open now"},
	{"smax", "max_sessions", promFE | promBE | promSV, false, promPlain, "Most sessions open at once"},
	{"slim", "limit_sessions", promFE | promBE | promSV, false, promPlain, "Session limit: maxconn, or a backend's fullconn"},
	{"stot", "sessions_total", promFE | promBE | promSV, true, promPlain, "Sessions since start"},
	{"bin", "bytes_in_total", promFE | promBE | promSV, true, promPlain, "Bytes received from clients"},
	{"bout", "bytes_out_total", promFE | promBE | promSV, true, promPlain, "Bytes sent to clients"},
	{"dreq", "requests_denied_total", promFE | promBE, true, promPlain, "Requests denied by rules"},
	{"dresp", "responses_denied_total", promFE | promBE | promSV, true, promPlain, "Responses denied by rules"},
	{"ereq", "request_errors_total", promFE, true, promPlain, "Requests refused as invalid"},
	{"econ", "connection_errors_total", promBE | promSV, true, promPlain, "Failed connections to servers"},
	{"eresp", "response_errors_total", promBE | promSV, true, promPlain, "Responses that failed"},
	{"wretr", "retry_warnings_total", promBE | promSV, true, promPlain, "Connection retries"},
	{"wredis", "redispatch_warnings_total", promBE | promSV, true, promPlain, "Redispatches to another server"},
	{"status", "status", promFE | promBE | promSV, false, promState, "State, 1 for the current one of the state label"},
	{"weight", "weight", promBE | promSV, false, promPlain, "Effective weight (a backend's: its usable servers')"},
	{"act", "active_servers", promBE, false, promPlain, "Usable active servers"},
	{"bck", "backup_servers", promBE, false, promPlain, "Usable backup servers"},
	{"chkfail", "check_failures_total", promSV, true, promPlain, "Failed health checks"},
	{"chkdown", "check_up_down_total", promBE | promSV, true, promPlain, "Transitions from up to down"},
	{"lastchg", "check_last_change_seconds", promBE | promSV, false, promPlain, "Seconds since the last change of state"},
	{"downtime", "downtime_seconds_total", promBE | promSV, true, promPlain, "Seconds spent down"},
	{"qlimit", "queue_limit", promSV, false, promPlain, "Queue limit (maxqueue)"},
	{"throttle", "current_throttle", promSV, false, promPlain, "Slow-start throttle in percent"},
	{"lbtot", "loadbalanced_total", promBE | promSV, true, promPlain, "Times the server (or one of the backend's) was chosen"},
	{"rate_lim", "limit_session_rate", promFE, false, promPlain, "Limit on new sessions per second"},
	{"rate_max", "max_session_rate", promFE | promBE | promSV, false, promPlain, "Most new sessions in one second"},
	{"check_status", "check_status", promSV, false, promCheck, "Outcome of the last health check, 1 for the one of the state label"},
	{"check_code", "check_code", promSV, false, promCode, "Layer 5-7 code of the last health check, 0 for none"},
	{"check_duration", "check_duration_seconds", promSV, false, promDuration, "Duration of the last health check in seconds"},
	{"hrsp_1xx", "http_responses_total", promFE | promBE | promSV, true, promHrsp, "HTTP responses by status class"},
	{"hrsp_2xx", "http_responses_total", promFE | promBE | promSV, true, promHrsp, ""},
	{"hrsp_3xx", "http_responses_total", promFE | promBE | promSV, true, promHrsp, ""},
	{"hrsp_4xx", "http_responses_total", promFE | promBE | promSV, true, promHrsp, ""},
	{"hrsp_5xx", "http_responses_total", promFE | promBE | promSV, true, promHrsp, ""},
	{"hrsp_other", "http_responses_total", promFE | promBE | promSV, true, promHrsp, ""},
	{"req_rate_max", "http_requests_rate_max", promFE, false, promHTTP, "Most HTTP requests in one second"},
	{"req_tot", "http_requests_total", promFE | promBE, true, promHTTP, "HTTP requests"},
	{"cli_abrt", "client_aborts_total", promBE | promSV, true, promPlain, "Transfers the client aborted"},
	{"srv_abrt", "server_aborts_total", promBE | promSV, true, promPlain, "Transfers the server aborted"},
	{"comp_in", "http_comp_bytes_in_total", promFE | promBE, true, promHTTP, "Bytes given to the compressor"},
	{"comp_out", "http_comp_bytes_out_total", promFE | promBE, true, promHTTP, "Bytes the compressor produced"},
	{"comp_byp", "http_comp_bytes_bypassed_total", promFE | promBE, true, promHTTP, "Bytes of responses sent uncompressed"},
	{"comp_rsp", "http_comp_responses_total", promFE | promBE, true, promHTTP, "Responses compressed"},
	{"lastsess", "last_session_seconds", promBE | promSV, false, promPlain, "Seconds since the last session, -1 for none"},
	{"qtime", "queue_time_average_seconds", promBE | promSV, false, promSecs, "Average time in the queue over the last 1024 requests"},
	{"ctime", "connect_time_average_seconds", promBE | promSV, false, promSecs, "Average connect time over the last 1024 requests"},
	{"rtime", "response_time_average_seconds", promBE | promSV, false, promSecs, "Average response time over the last 1024 requests"},
	{"ttime", "total_time_average_seconds", promBE | promSV, false, promSecs, "Average total time over the last 1024 requests"},
	{"conn_rate_max", "connections_rate_max", promFE, false, promPlain, "Most connections accepted in one second"},
	{"conn_tot", "connections_total", promFE, true, promPlain, "Connections accepted"},
	{"intercepted", "intercepted_requests_total", promFE, true, promHTTP, "Requests answered by the balancer itself"},
	{"dcon", "denied_connections_total", promFE, true, promPlain, "Connections denied by tcp-request connection rules"},
	{"dses", "denied_sessions_total", promFE, true, promPlain, "Sessions denied by tcp-request session rules"},
	{"wrew", "failed_header_rewriting_total", promFE | promBE | promSV, true, promPlain, "Header rewrites that failed"},
	{"connect", "connection_attempts_total", promBE | promSV, true, promPlain, "Connections opened to servers"},
	{"reuse", "connection_reuses_total", promBE | promSV, true, promPlain, "Requests sent on a connection kept open"},
	{"cache_lookups", "http_cache_lookups_total", promFE | promBE, true, promHTTP, "Cache lookups"},
	{"cache_hits", "http_cache_hits_total", promFE | promBE, true, promHTTP, "Cache hits"},
	{"srv_icur", "idle_connections_current", promSV, false, promPlain, "Idle connections to the server now"},
	{"src_ilim", "idle_connections_limit", promSV, false, promPlain, "Limit on idle connections to the server"},
	{"qtime_max", "max_queue_time_seconds", promBE | promSV, false, promSecs, "Longest time in the queue"},
	{"ctime_max", "max_connect_time_seconds", promBE | promSV, false, promSecs, "Longest connect time"},
	{"rtime_max", "max_response_time_seconds", promBE | promSV, false, promSecs, "Longest response time"},
	{"ttime_max", "max_total_time_seconds", promBE | promSV, false, promSecs, "Longest total time"},
	{"eint", "internal_errors_total", promFE | promBE | promSV, true, promPlain, "Internal errors"},
	{"idle_conn_cur", "unsafe_idle_connections_current", promSV, false, promPlain, "Idle connections not safe to reuse"},
	{"safe_conn_cur", "safe_idle_connections_current", promSV, false, promPlain, "Idle connections safe to reuse"},
	{"used_conn_cur", "used_connections_current", promSV, false, promPlain, "Connections in use"},
	{"need_conn_est", "need_connections_current", promSV, false, promPlain, "Connections estimated to be needed"},
	{"uweight", "uweight", promBE | promSV, false, promPlain, "Weight set by the user (a backend's: its active servers')"},
	{"agg_server_status", "agg_server_status", promBE, false, promAggState, "Servers of the backend in each state"},
	{"agg_server_check_status", "agg_server_check_status", promBE, false, promAggState, "Servers of the backend in each state (kept for older dashboards)"},
	{"agg_check_status", "agg_check_status", promBE, false, promAggCheck, "Servers of the backend by the outcome of their last health check"},
}

// promSrvStates and promCheckStates are the values of the state label,
// in HAProxy's order; a frontend or backend is DOWN or UP.
var (
	promUpDown      = []string{"DOWN", "UP"}
	promSrvStates   = []string{"DOWN", "UP", "MAINT", "DRAIN", "NOLB"}
	promCheckStates = []string{"HANA", "SOCKERR", "L4OK", "L4TOUT", "L4CON", "L6OK", "L6TOUT", "L6RSP", "L7TOUT", "L7RSP", "L7OK", "L7OKC", "L7STS", "PROCERR", "PROCTOUT", "PROCOK"}
)

// promCodes are the code labels of http_responses_total.
var promCodes = map[string]string{"hrsp_1xx": "1xx", "hrsp_2xx": "2xx", "hrsp_3xx": "3xx", "hrsp_4xx": "4xx", "hrsp_5xx": "5xx", "hrsp_other": "other"}

// promProxy is one proxy's rows for a scrape.
type promProxy struct {
	name    string
	http    bool
	fe, be  statRow // nil when the proxy is not one
	servers []promServerRow
}

type promServerRow struct {
	row   statRow
	maint bool
}

// serverState is a server's state label: its status column read as
// HAProxy's exporter reads its state.
func serverState(status string) string {
	switch {
	case strings.HasPrefix(status, "MAINT"):
		return "MAINT"
	case strings.HasPrefix(status, "DRAIN"):
		return "DRAIN"
	case strings.HasPrefix(status, "NOLB"):
		return "NOLB"
	case strings.HasPrefix(status, "UP"), status == "no check":
		return "UP"
	}
	return "DOWN"
}

// checkState is the status of a server's last health check, "" while it
// has none (not checked, or in maintenance, when checks pause).
func checkState(r statRow) string {
	return strings.TrimPrefix(r[statIndex["check_status"]], "* ")
}

// checkLayer7 reports whether a check status carries a layer 5-7 code,
// as HAProxy's exporter tells it.
func checkLayer7(st string) bool {
	switch st {
	case "L7OK", "L7OKC", "L7STS", "PROCERR", "PROCTOUT", "PROCOK":
		return true
	}
	return false
}

// promRows gathers the rows of every proxy, in declaration order.
func (b *Balancer) promRows() []promProxy {
	ids := proxyIDs(b.cfg)
	now := time.Now()
	var out []promProxy
	for _, px := range b.cfg.Proxies {
		if px.Disabled {
			continue
		}
		p := promProxy{name: px.Name, http: px.Mode == "http"}
		if fe := b.frontendOf(px); fe != nil {
			p.fe = b.frontendRow(fe, ids[px])
		}
		if be := b.backends[px.Name]; be != nil && be.cfg == px {
			for _, s := range be.servers {
				r, _, maint := be.serverRow(s, ids[px], now, false)
				p.servers = append(p.servers, promServerRow{r, maint})
			}
			p.be = b.backendRow(be, ids[px], now, false)
		}
		out = append(out, p)
	}
	return out
}

// writePrometheus writes the exposition o selects.
func (b *Balancer) writePrometheus(buf *bytes.Buffer, o promOptions) {
	w := &promWriter{b: buf}
	if o.scope&promGlobal != 0 {
		b.writePromInfo(w)
	}
	if o.scope&(promFrontend|promBackend|promServer) == 0 {
		return
	}
	pxs := b.promRows()
	for _, sec := range []struct {
		scope  uint8
		in     int
		prefix string
	}{{promFrontend, promFE, "haproxy_frontend_"}, {promBackend, promBE, "haproxy_backend_"}, {promServer, promSV, "haproxy_server_"}} {
		if o.scope&sec.scope == 0 {
			continue
		}
		for _, f := range promFields {
			if f.in&sec.in == 0 {
				continue
			}
			// http_responses_total is one family over six columns.
			if f.kind != promHrsp || f.col == "hrsp_1xx" {
				w.family(sec.prefix+f.name, f.help, f.counter)
			}
			for i := range pxs {
				p := &pxs[i]
				switch sec.in {
				case promFE:
					if p.fe != nil {
						promSample(w, f.col, f.kind, p, p.fe, "UP", "proxy", p.name)
					}
				case promBE:
					if p.be != nil {
						promBackendSample(w, f.col, f.kind, p)
					}
				case promSV:
					if p.be == nil {
						continue
					}
					for _, s := range p.servers {
						if o.noMaint && s.maint {
							continue
						}
						promSample(w, f.col, f.kind, p, s.row, "", "proxy", p.name, "server", s.row[statIndex["svname"]])
					}
				}
			}
		}
	}
}

// promSample writes the samples of column col of row r (a frontend's or
// a server's); up is a frontend's state label for a running frontend.
func promSample(w *promWriter, col string, kind promKind, p *promProxy, r statRow, up string, labels ...string) {
	v := r[statIndex[col]]
	switch kind {
	case promPlain:
		w.sample(promNumber(v), labels...)
	case promSecs:
		w.sample(promSeconds(v), labels...)
	case promHTTP, promHrsp:
		if !p.http {
			return
		}
		if kind == promHrsp {
			labels = append(labels, "code", promCodes[col])
		}
		w.sample(promNumber(v), labels...)
	case promState:
		states, cur := promSrvStates, serverState(v)
		if up != "" { // a frontend: down only once stopped
			states, cur = promUpDown, up
			if v == "STOP" {
				cur = "DOWN"
			}
		}
		for _, st := range states {
			w.sample(promBool(st == cur), append(labels, "state", st)...)
		}
	case promCheck:
		cur := checkState(r)
		if cur == "" {
			return
		}
		for _, st := range promCheckStates {
			w.sample(promBool(st == cur), append(labels, "state", st)...)
		}
	case promCode:
		cur := checkState(r)
		if cur == "" {
			return
		}
		code := "0"
		if checkLayer7(cur) && v != "" {
			code = v
		}
		w.sample(code, labels...)
	case promDuration:
		// Only once a check has ended: not while it starts.
		if cur := checkState(r); cur == "" || cur == "INI" || cur == "UNK" {
			return
		}
		w.sample(promSeconds(v), labels...)
	}
}

// promBackendSample writes the samples of column col of p's backend.
func promBackendSample(w *promWriter, col string, kind promKind, p *promProxy) {
	labels := []string{"proxy", p.name}
	switch kind {
	case promState:
		// Up while it has weight to balance on, or no server at all.
		weight, _ := strconv.Atoi(p.be[statIndex["weight"]])
		cur := "DOWN"
		if weight > 0 || len(p.servers) == 0 {
			cur = "UP"
		}
		for _, st := range promUpDown {
			w.sample(promBool(st == cur), append(labels, "state", st)...)
		}
	case promAggState, promAggCheck:
		if len(p.servers) == 0 {
			return
		}
		states := promSrvStates
		if kind == promAggCheck {
			states = promCheckStates
		}
		counts := make(map[string]int, len(states))
		for _, s := range p.servers {
			if kind == promAggCheck {
				counts[checkState(s.row)]++
			} else {
				counts[serverState(s.row[statIndex["status"]])]++
			}
		}
		for _, st := range states {
			w.sample(strconv.Itoa(counts[st]), append(labels, "state", st)...)
		}
	default:
		promSample(w, col, kind, p, p.be, "", labels...)
	}
}

func promBool(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// writePromInfo writes the process families from "show info".
func (b *Balancer) writePromInfo(w *promWriter) {
	var info bytes.Buffer
	b.writeInfo(&info)
	values := map[string]string{}
	sc := bufio.NewScanner(&info)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ": "); ok {
			values[k] = v
		}
	}
	for _, m := range promInfo {
		w.family("haproxy_process_"+m.name, m.help, m.counter)
		switch {
		case m.name == "build_info":
			w.sample("1", "version", Version)
		case m.info == "":
			w.sample(m.fixed)
		default:
			w.sample(promNumber(values[m.info]))
		}
	}
}
