package balancer

import (
	"cmp"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/proxyblocks/proxyblocks/freq"
)

// Statistics: the counters each frontend, backend and server keeps, and
// the CSV HAProxy 2.6 prints for "show stat" and the statistics page
// (";csv"), column for column, so that the tools written for HAProxy's
// CSV read lb's. A column lb does not keep is left empty where HAProxy
// leaves it empty, and 0 where HAProxy prints a number it has (the
// compression, cache, H2 and H1 columns).

// statFields are HAProxy 2.6's CSV columns, in order.
var statFields = strings.Split("pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,conn_rate,conn_rate_max,conn_tot,intercepted,dcon,dses,wrew,connect,reuse,cache_lookups,cache_hits,srv_icur,src_ilim,qtime_max,ctime_max,rtime_max,ttime_max,eint,idle_conn_cur,safe_conn_cur,used_conn_cur,need_conn_est,uweight,agg_server_status,agg_server_check_status,agg_check_status,-,ssl_sess,ssl_reused_sess,ssl_failed_handshake,h2_headers_rcvd,h2_data_rcvd,h2_settings_rcvd,h2_rst_stream_rcvd,h2_goaway_rcvd,h2_detected_conn_protocol_errors,h2_detected_strm_protocol_errors,h2_rst_stream_resp,h2_goaway_resp,h2_open_connections,h2_backend_open_streams,h2_total_connections,h2_backend_total_streams,h1_open_connections,h1_open_streams,h1_total_connections,h1_total_streams,h1_bytes_in,h1_bytes_out,h1_spliced_bytes_in,h1_spliced_bytes_out", ",")

// statIndex maps a column's name to its position.
var statIndex = func() map[string]int {
	m := make(map[string]int, len(statFields))
	for i, f := range statFields {
		m[f] = i
	}
	return m
}()

// Row types, as HAProxy's "type" column and the type filter of "show
// stat" number them (the filter takes a mask: 1, 2 and 4).
const (
	statFrontend = 0
	statBackend  = 1
	statServer   = 2
)

// counters are the statistics of one frontend, backend or server that
// grow as traffic passes: each is an atomic counter, added to where the
// event happens.
type counters struct {
	cum          atomic.Uint64 // stot: sessions (for a backend in HTTP mode, requests)
	maxCur       atomic.Int64  // smax, for a frontend
	bytesIn      atomic.Uint64 // bin: client to server
	bytesOut     atomic.Uint64 // bout: server to client
	hrsp         [6]atomic.Uint64
	reqTot       atomic.Uint64 // req_tot: requests a frontend received, responses a server gave
	denied       atomic.Uint64 // dreq: requests denied by a rule
	dresp        atomic.Uint64 // dresp: responses denied by a rule
	reqErr       atomic.Uint64 // ereq: requests refused as malformed or late
	connErr      atomic.Uint64 // econ: connections that failed to reach a server
	respErr      atomic.Uint64 // eresp: server connections that failed mid-way
	retries      atomic.Uint64 // wretr
	redisp       atomic.Uint64 // wredis
	lbtot        atomic.Uint64 // times the algorithm chose this server (or one of this backend's)
	cliAbrt      atomic.Uint64 // transfers the client aborted
	srvAbrt      atomic.Uint64 // transfers the server aborted
	intercept    atomic.Uint64 // requests answered by lb itself (monitor-uri, the statistics page)
	lastSess     atomic.Int64  // Unix second of the last session, 0 for none
	rate         freq.Counter  // sessions per second
	rateMax      atomic.Uint32
	reqRate      freq.Counter // requests per second (frontends)
	reqMax       atomic.Uint32
	connects     atomic.Uint64 // connect: connections opened to a server
	reuses       atomic.Uint64 // reuse: requests sent on a connection kept open
	compIn       atomic.Uint64 // comp_in: body bytes given to a compressor
	compOut      atomic.Uint64 // comp_out: bytes the compressors produced
	compByp      atomic.Uint64 // comp_byp: body bytes of chosen responses sent as they came (identity)
	compRsp      atomic.Uint64 // comp_rsp: responses sent through a compressor
	cacheLookups atomic.Uint64 // cache_lookups: requests a cache-use rule looked up
	cacheHits    atomic.Uint64 // cache_hits: requests a cache answered
	times        timeStats     // qtime, ctime, rtime, ttime and their maximums
}

// session counts a new session (a connection attempt to a server).
func (c *counters) session(now time.Time) {
	c.cum.Add(1)
	c.lastSess.Store(now.Unix())
	maxU32(&c.rateMax, c.rate.Add(1))
}

// request counts a request a frontend received.
func (c *counters) request() {
	c.reqTot.Add(1)
	maxU32(&c.reqMax, c.reqRate.Add(1))
}

// status counts an answer's status in its class.
func (c *counters) status(code int) {
	i := code/100 - 1
	if i < 0 || i > 4 {
		i = 5
	}
	c.hrsp[i].Add(1)
}

// clearMax zeroes the maximums; all zeroes every counter as well
// ("clear counters [all]").
func (c *counters) clearMax(all bool) {
	c.maxCur.Store(0)
	c.rateMax.Store(0)
	c.reqMax.Store(0)
	for i := range c.times.max {
		c.times.max[i].Store(0)
	}
	if !all {
		return
	}
	for _, a := range []*atomic.Uint64{&c.cum, &c.bytesIn, &c.bytesOut, &c.reqTot, &c.denied, &c.reqErr, &c.connErr,
		&c.respErr, &c.retries, &c.redisp, &c.lbtot, &c.cliAbrt, &c.srvAbrt, &c.intercept,
		&c.hrsp[0], &c.hrsp[1], &c.hrsp[2], &c.hrsp[3], &c.hrsp[4], &c.hrsp[5],
		&c.connects, &c.reuses, &c.compIn, &c.compOut, &c.compByp, &c.compRsp,
		&c.times.sum[0], &c.times.sum[1], &c.times.sum[2], &c.times.sum[3]} {
		a.Store(0)
	}
	c.lastSess.Store(0)
}

func maxU32(a *atomic.Uint32, v uint32) {
	for {
		cur := a.Load()
		if v <= cur || a.CompareAndSwap(cur, v) {
			return
		}
	}
}

func maxI64(a *atomic.Int64, v int64) {
	for {
		cur := a.Load()
		if v <= cur || a.CompareAndSwap(cur, v) {
			return
		}
	}
}

// countTraffic adds what one traffic line reports (a TCP session, or an
// HTTP request, at its end) to the counters of its frontend, backend and
// server: the bytes each way, the answer's status (-1 for none, or TCP)
// and the errors its termination state tells.
func countTraffic(fe *frontend, be *Backend, srv *Server, bytesIn, bytesOut int64, term [2]byte, status int) {
	in, out := uint64(max(bytesIn, 0)), uint64(max(bytesOut, 0))
	fe.st.bytesIn.Add(in)
	fe.st.bytesOut.Add(out)
	httpMode := fe.cfg.Mode == "http"
	if httpMode && status > 0 {
		fe.st.status(status)
	}
	if term[0] == 'P' && (term[1] == 'R' || term[1] == 'T') {
		fe.st.denied.Add(1)
		// A TCP backend's content rules deny on the frontend's count
		// only, as haproxy 2.6 counts them.
		if httpMode && be != nil && be.http != fe.http {
			be.st.denied.Add(1)
		}
	}
	if be == nil {
		// A listen section's stream has the section as its backend from
		// the start: what its frontend rules answered moved bytes on
		// the backend's counts too, as haproxy counts them.
		if own := fe.backend; own != nil && own.cfg == fe.cfg {
			own.st.bytesIn.Add(in)
			own.st.bytesOut.Add(out)
		}
		return
	}
	sides := [2]*counters{&be.st, nil}
	if srv != nil {
		sides[1] = &srv.st
	}
	connFailed := term[1] == 'C' && (term[0] == 'S' || term[0] == 's')
	if httpMode && status > 0 {
		be.st.status(status) // a server's, as it answers (serverAnswered)
	}
	for _, c := range sides {
		if c == nil {
			continue
		}
		c.bytesIn.Add(in)
		c.bytesOut.Add(out)
		switch {
		case connFailed:
			c.connErr.Add(1)
		case (term[0] == 'S' || term[0] == 's') && (term[1] == 'H' || term[1] == 'D'):
			c.respErr.Add(1)
			if term[1] == 'D' {
				c.srvAbrt.Add(1)
			}
		case (term[0] == 'C' || term[0] == 'c') && term[1] == 'D':
			c.cliAbrt.Add(1)
		}
	}
}

// serverAnswered counts a response head a server sent (an interim one
// too) that goes on to the client: its request and status counts, as
// HAProxy's, leave out what the server did not answer itself and what a
// retry-on threw away.
func serverAnswered(srv *Server, status int) {
	srv.st.reqTot.Add(1)
	srv.st.status(status)
}

// countRetry counts a retry of a connection to srv, and a redispatch
// when the retry moved it elsewhere.
func countRetry(be *Backend, srv *Server, redispatched bool) {
	be.st.retries.Add(1)
	srv.st.retries.Add(1)
	if redispatched {
		be.st.redisp.Add(1)
		srv.st.redisp.Add(1)
	}
}

// countRequest adds a finished HTTP request to the statistics (the
// frontend counted it as it came in: serve).
func (ex *exchange) countRequest() {
	l := &ex.log
	fe := ex.hf.s.fe
	countTraffic(fe, l.be, l.srv, l.bytesIn+ex.bodyIn.Load(), l.bytesOut, l.term, l.status)
	if l.be != nil && l.tcSet && l.trSet {
		countTimes(l.be, l.srv, [4]time.Duration{l.tw, l.tc, l.trTime, l.ta})
	}
}

// statRow is one CSV line under construction.
type statRow []string

func newStatRow() statRow { return make(statRow, len(statFields)) }

func (r statRow) set(name, v string) { r[statIndex[name]] = v }

func (r statRow) setU(name string, v uint64) { r.set(name, strconv.FormatUint(v, 10)) }

func (r statRow) setI(name string, v int64) { r.set(name, strconv.FormatInt(v, 10)) }

// setTraffic sets the columns a backend and a server share: bytes,
// denied responses, errors and warnings.
func (r statRow) setTraffic(c *counters) {
	r.setU("bin", c.bytesIn.Load())
	r.setU("bout", c.bytesOut.Load())
	r.setU("dresp", c.dresp.Load())
	r.setU("econ", c.connErr.Load())
	r.setU("eresp", c.respErr.Load())
	r.setU("wretr", c.retries.Load())
	r.setU("wredis", c.redisp.Load())
}

// setPlace sets where a backend's or a server's row stands (process,
// proxy and server ids, type), with its balancing count and its rates.
func (r statRow) setPlace(iid, sid, typ int, c *counters) {
	r.set("pid", "1")
	r.setI("iid", int64(iid))
	r.setI("sid", int64(sid))
	r.setU("lbtot", c.lbtot.Load())
	r.setI("type", int64(typ))
	r.setU("rate", uint64(c.rate.Rate()))
	r.setU("rate_max", uint64(c.rateMax.Load()))
}

// setComp sets the compression columns of a frontend or a backend.
func (r statRow) setComp(c *counters) {
	r.setU("comp_in", c.compIn.Load())
	r.setU("comp_out", c.compOut.Load())
	r.setU("comp_byp", c.compByp.Load())
	r.setU("comp_rsp", c.compRsp.Load())
}

// setConnects sets the connection columns of a backend or a server: new
// connections and reused ones.
func (r statRow) setConnects(c *counters) {
	r.setU("connect", c.connects.Load())
	r.setU("reuse", c.reuses.Load())
}

// zero sets each named column to 0.
func (r statRow) zero(names string) {
	for _, n := range strings.Fields(names) {
		r.set(n, "0")
	}
}

// statOptions select what a dump shows.
type statOptions struct {
	// legends shows the servers' addresses and cookies and the backends'
	// algorithms, as HAProxy's CLI does and its page does with "stats
	// show-legends".
	legends bool
	// iid, typeMask and sid filter as "show stat <iid> <type> <sid>":
	// iid -1 any proxy, sid -1 any server.
	iid, sid int
	typeMask int
	// proxy, when set, keeps only the proxy of that name; scope, when
	// set, only the proxies it names ("stats scope").
	proxy string
	scope []string
	// up keeps only the servers that are up; noMaint leaves out those in
	// maintenance.
	up, noMaint bool
}

func allStats() statOptions { return statOptions{iid: -1, sid: -1, typeMask: 7} }

// proxyIDs gives each proxy its numeric id: the configured one, else the
// lowest one free in declaration order, as HAProxy numbers them. With a
// stats socket, HAProxy's own CLI proxy is declared first and takes the
// lowest free id before them.
func proxyIDs(cfg *config.Config) map[*config.Proxy]int {
	used := map[int]bool{}
	for _, px := range cfg.Proxies {
		if px.ID != 0 {
			used[px.ID] = true
		}
	}
	next := func() int {
		for i := 1; ; i++ {
			if !used[i] {
				used[i] = true
				return i
			}
		}
	}
	if len(cfg.Global.StatsSockets) > 0 {
		next()
	}
	ids := make(map[*config.Proxy]int, len(cfg.Proxies))
	for _, px := range cfg.Proxies {
		if px.ID != 0 {
			ids[px] = px.ID
		} else {
			ids[px] = next()
		}
	}
	return ids
}

// writeStats writes the CSV header and the rows o selects.
func (b *Balancer) writeStats(w io.Writer, o statOptions) {
	var sb strings.Builder
	sb.WriteString("# ")
	for _, f := range statFields {
		sb.WriteString(f)
		sb.WriteByte(',')
	}
	sb.WriteByte('\n')
	for _, r := range b.statRows(o) {
		for _, v := range r {
			sb.WriteString(csvField(v))
			sb.WriteByte(',')
		}
		sb.WriteByte('\n')
	}
	_, _ = io.WriteString(w, sb.String())
}

// csvField quotes a value holding a comma or a quote, as CSV needs.
func csvField(v string) string {
	if !strings.ContainsAny(v, ",\"\n") {
		return v
	}
	return `"` + strings.ReplaceAll(v, `"`, `""`) + `"`
}

// statRows builds the rows o selects: for each proxy in declaration
// order, its frontend, then its servers, then its backend.
func (b *Balancer) statRows(o statOptions) []statRow {
	ids := proxyIDs(b.cfg)
	now := time.Now()
	live := b.liveTraffic()
	var rows []statRow
	for _, px := range b.cfg.Proxies {
		iid := ids[px]
		if px.Disabled {
			continue // as haproxy, which shows only running proxies
		}
		if o.proxy != "" && px.Name != o.proxy || o.iid != -1 && o.iid != iid || len(o.scope) > 0 && !slices.Contains(o.scope, px.Name) {
			continue
		}
		if fe := b.frontendOf(px); fe != nil && o.typeMask&1 != 0 && o.sid == -1 {
			r := b.frontendRow(fe, iid)
			r.addBytes(live.fe[fe])
			rows = append(rows, r)
		}
		be := b.backends[px.Name]
		if be == nil || be.cfg != px {
			continue
		}
		if o.typeMask&4 != 0 {
			for _, s := range be.servers {
				if o.sid != -1 && s.cfg.ID != o.sid {
					continue
				}
				r, up, maint := be.serverRow(s, iid, now, o.legends)
				if o.up && !up || o.noMaint && maint {
					continue
				}
				r.addBytes(live.srv[s])
				rows = append(rows, r)
			}
		}
		if o.typeMask&2 != 0 && o.sid == -1 {
			r := b.backendRow(be, iid, now, o.legends)
			r.addBytes(live.be[be])
			rows = append(rows, r)
		}
	}
	return rows
}

// liveCounts are bytes of sessions still running, client to server and
// server to client, per frontend, backend and server.
type liveCounts struct {
	fe  map[*frontend]*[2]uint64
	be  map[*Backend]*[2]uint64
	srv map[*Server]*[2]uint64
}

// liveTraffic sums the bytes the running TCP sessions of frontends with
// option contstats have moved, which the counters get only when they
// end; nil maps when no frontend asks.
func (b *Balancer) liveTraffic() liveCounts {
	var lc liveCounts
	if !slices.ContainsFunc(b.fronts, func(fe *frontend) bool { return fe.cfg.Options.ContStats }) {
		return lc
	}
	lc = liveCounts{fe: map[*frontend]*[2]uint64{}, be: map[*Backend]*[2]uint64{}, srv: map[*Server]*[2]uint64{}}
	for _, be := range b.backends {
		for _, srv := range be.servers {
			be.mu.Lock()
			sessions := liveSessions(nil, srv)
			be.mu.Unlock()
			for _, x := range sessions {
				if !x.fe.cfg.Options.ContStats {
					continue
				}
				in, out := x.liveBytes()
				for _, v := range []*[2]uint64{ref(lc.srv, srv), ref(lc.be, be), ref(lc.fe, x.fe)} {
					v[0], v[1] = v[0]+in, v[1]+out
				}
			}
		}
	}
	return lc
}

// ref is a pointer to m[k]'s counts, made on first use.
func ref[K comparable](m map[K]*[2]uint64, k K) *[2]uint64 {
	v := m[k]
	if v == nil {
		v = new([2]uint64)
		m[k] = v
	}
	return v
}

// addBytes adds live bytes (client to server, server to client) to the
// row's bin and bout; nil adds nothing.
func (r statRow) addBytes(v *[2]uint64) {
	if v == nil {
		return
	}
	for i, col := range [2]string{"bin", "bout"} {
		n, _ := strconv.ParseUint(r[statIndex[col]], 10, 64)
		r.setU(col, n+v[i])
	}
}

func (b *Balancer) frontendOf(px *config.Proxy) *frontend {
	for _, fe := range b.fronts {
		if fe.cfg == px {
			return fe
		}
	}
	return nil
}

// frontendLimit is a frontend's maxconn as its slim column shows it: its
// own, else the global one; 0 when unlimited.
func (b *Balancer) frontendLimit(px *config.Proxy) int {
	if px.MaxConn > 0 {
		return px.MaxConn
	}
	return b.cfg.Global.MaxConn
}

func (b *Balancer) frontendRow(fe *frontend, iid int) statRow {
	r := newStatRow()
	c := &fe.st
	r.set("pxname", fe.cfg.Name)
	r.set("svname", "FRONTEND")
	r.setI("scur", fe.conns.Load())
	r.setI("smax", c.maxCur.Load())
	if n := fe.maxconn.Load(); n >= 0 {
		r.setI("slim", n)
	}
	r.setU("stot", fe.st.cum.Load())
	r.setU("bin", c.bytesIn.Load())
	r.setU("bout", c.bytesOut.Load())
	r.setU("dreq", c.denied.Load())
	r.setU("ereq", c.reqErr.Load())
	r.setU("dresp", c.dresp.Load())
	r.zero("dcon dses wrew eint")
	r.setComp(c)
	r.set("status", b.frontendStatus(fe))
	r.set("pid", "1")
	r.setI("iid", int64(iid))
	r.set("sid", "0")
	r.setI("type", statFrontend)
	r.setU("rate", uint64(c.rate.Rate()))
	r.setI("rate_lim", int64(fe.cfg.RateLimitSessions))
	r.setU("rate_max", uint64(c.rateMax.Load()))
	r.setU("req_rate", uint64(c.reqRate.Rate()))
	r.setU("req_rate_max", uint64(c.reqMax.Load()))
	r.setU("req_tot", c.reqTot.Load())
	r.set("mode", fe.cfg.Mode)
	r.setU("conn_rate", uint64(c.rate.Rate()))
	r.setU("conn_rate_max", uint64(c.rateMax.Load()))
	r.setU("conn_tot", fe.st.cum.Load())
	if fe.cfg.Mode == "http" {
		r.setU("intercepted", c.intercept.Load())
		r.setU("cache_lookups", c.cacheLookups.Load())
		r.setU("cache_hits", c.cacheHits.Load())
		setHrsp(r, c)
	}
	r.set("-", "-")
	r.setU("ssl_failed_handshake", fe.sslFailures.Load())
	r.zero("ssl_sess ssl_reused_sess h2_headers_rcvd h2_data_rcvd h2_settings_rcvd h2_rst_stream_rcvd h2_goaway_rcvd h2_detected_conn_protocol_errors h2_detected_strm_protocol_errors h2_rst_stream_resp h2_goaway_resp h2_open_connections h2_backend_open_streams h2_total_connections h2_backend_total_streams h1_open_connections h1_open_streams h1_total_connections h1_total_streams h1_bytes_in h1_bytes_out h1_spliced_bytes_in h1_spliced_bytes_out")
	return r
}

func setHrsp(r statRow, c *counters) {
	for i, n := range [...]string{"hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx", "hrsp_5xx", "hrsp_other"} {
		r.setU(n, c.hrsp[i].Load())
	}
}

// lastSess is the lastsess column: seconds since the last session, -1
// for none.
func lastSess(c *counters, now time.Time) int64 {
	t := c.lastSess.Load()
	if t == 0 {
		return -1
	}
	return max(now.Unix()-t, 0)
}

// displayWeight is an effective weight (on the ×16 scale) as the
// statistics show it, rounded up.
func displayWeight(eweight int) int {
	return (eweight + weightScale - 1) / weightScale
}

// serverRow builds a server's row and reports whether the server is up
// and whether it is in maintenance.
func (b *Backend) serverRow(s *Server, iid int, now time.Time, legends bool) (r statRow, up, maint bool) {
	r = newStatRow()
	c := &s.st
	b.mu.Lock()
	qcur, qmax, scur, smax := len(s.queue), s.qmax, s.cur, s.smax
	up, health, eweight, uweight := s.up, s.health, s.eweight, s.weight
	maint, drain, maxconn := s.inMaint() || s.rmaint, s.draining(), s.maxconn
	stopping := s.stopping
	via := ""
	if s.imaint && !s.maint {
		via = s.via()
	}
	rmaint := s.rmaint
	checkOff, agentOff := s.checkOff, s.agentOff
	chkfail, chkdown := s.chkFail, s.chkDown
	lastChange, downtime := s.lastChange, s.down.total(now)
	b.mu.Unlock()
	cfg := s.cfg
	r.set("pxname", b.cfg.Name)
	r.set("svname", cfg.Name)
	r.setI("qcur", int64(qcur))
	r.setI("qmax", int64(qmax))
	r.setI("scur", int64(scur))
	r.setI("smax", int64(smax))
	if maxconn != 0 {
		r.setI("slim", int64(uint32(maxconn))) // HAProxy's unsigned view of an agent's negative one
	}
	r.setU("stot", c.cum.Load())
	r.setTraffic(c)
	// A check disabled at run time ("disable health", "disable agent")
	// leaves the statistics as if there were none, as in HAProxy.
	checked := s.checker != nil && !checkOff
	rise, fall, sHealth, sChecked := cfg.Rise, cfg.Fall, health, checked
	if s.tracked != nil {
		// A tracking server shows the health of the server at the end
		// of its chain, whose checks decide for it, as in HAProxy.
		root := s.tracked
		for root.tracked != nil && root.tracked != s {
			root = root.tracked
		}
		root.be.mu.Lock()
		sHealth, sChecked, rise, fall = root.health, root.checker != nil && !root.checkOff, root.cfg.Rise, root.cfg.Fall
		root.be.mu.Unlock()
	}
	status := serverStatus(rise, fall, up, sHealth, maint, drain, sChecked)
	if stopping && !maint && !drain {
		// HAProxy's NOLB: the UP of a stopping server.
		status = "NOLB" + strings.TrimPrefix(status, "UP")
	}
	switch {
	case rmaint:
		status = "MAINT (resolution)"
	case via != "":
		status = "MAINT (" + via[1:] + ")"
	}
	if s.agent != nil && !agentOff {
		ag := s.agent.report()
		status = s.agent.statusWord(status, up, maint, drain, ag.health)
		ag.fill(r)
	}
	r.set("status", status)
	r.setI("weight", int64(displayWeight(eweight)))
	r.setI("uweight", int64(uweight))
	act, bck := "1", "0"
	if cfg.Backup {
		act, bck = "0", "1"
	}
	r.set("act", act)
	r.set("bck", bck)
	r.setI("lastchg", max(now.Unix()-lastChange, 0))
	if checked {
		r.setI("chkfail", int64(chkfail))
		r.setI("chkdown", int64(chkdown))
		r.setI("downtime", downtime)
	}
	if checked && !maint { // HAProxy's checks pause in maintenance
		st := s.checker.report()
		r.set("check_status", st.status)
		if st.code > 0 || strings.HasPrefix(strings.TrimPrefix(st.status, "* "), "PROC") {
			// An external check's status always carries its code, 0
			// included, as HAProxy's does.
			r.setI("check_code", int64(st.code))
		}
		r.setI("check_duration", st.dur.Milliseconds())
		r.set("last_chk", st.info)
		r.set("check_desc", st.desc)
		r.setI("check_rise", int64(cfg.Rise))
		r.setI("check_fall", int64(cfg.Fall))
		r.setI("check_health", int64(health))
	}
	if cfg.MaxQueue > 0 {
		r.setI("qlimit", int64(cfg.MaxQueue))
	}
	r.setPlace(iid, cfg.ID, statServer, c)
	if b.cfg.Mode == "http" {
		setHrsp(r, c)
		r.setU("req_tot", c.reqTot.Load()) // the responses it gave
	}
	r.setU("cli_abrt", c.cliAbrt.Load())
	r.setU("srv_abrt", c.srvAbrt.Load())
	r.setI("lastsess", lastSess(c, now))
	r.zero("wrew srv_icur eint idle_conn_cur safe_conn_cur used_conn_cur ssl_sess ssl_reused_sess ssl_failed_handshake")
	r.setTimes(c, b.cfg.Mode == "http", true)
	r.setConnects(c)
	if legends {
		if s.unix() {
			r.set("addr", "unix") // as HAProxy shows a UNIX socket
		} else {
			r.set("addr", s.address())
		}
		r.set("cookie", s.cookie())
	}
	r.set("mode", b.cfg.Mode)
	if checked && !up && !maint {
		r.set("need_conn_est", "1")
	} else {
		r.set("need_conn_est", "0")
	}
	r.set("-", "-")
	return r, up && !maint, maint
}

// serverStatus words a server's state as HAProxy's status column.
func serverStatus(rise, fall int, up bool, health int, maint, drain, checked bool) string {
	switch {
	case maint:
		return "MAINT"
	case !up:
		if checked && health > 0 {
			return "DOWN " + strconv.Itoa(health) + "/" + strconv.Itoa(rise)
		}
		return "DOWN"
	}
	going := checked && health < rise+fall-1
	frac := ""
	if going {
		frac = " " + strconv.Itoa(health-rise+1) + "/" + strconv.Itoa(fall)
	}
	switch {
	case drain:
		return "DRAIN" + frac
	case going:
		return "UP" + frac
	case !checked:
		return "no check"
	}
	return "UP"
}

// backendLimit is a backend's slim: its fullconn, which HAProxy sets by
// default to a tenth (rounded up) of the maxconn of the frontends that
// may send it traffic.
func (b *Balancer) backendLimit(be *Backend) int {
	total := 0
	for _, fe := range b.fronts {
		if b.mayUse(fe, be) {
			total += b.frontendLimit(fe.cfg)
		}
	}
	return (total + 9) / 10
}

// mayUse reports whether fe may send traffic to be: its default backend,
// itself (a listen section), or a use_backend rule's.
func (b *Balancer) mayUse(fe *frontend, be *Backend) bool {
	if fe.backend == be {
		return true
	}
	for _, u := range fe.cfg.HTTP.UseBackends {
		if u.Backend == be.cfg.Name {
			return true
		}
	}
	return false
}

func (b *Balancer) backendRow(be *Backend, iid int, now time.Time, legends bool) statRow {
	r := newStatRow()
	c := &be.st
	be.mu.Lock()
	// As HAProxy's beconn, the sessions count from the backend's choice,
	// queued ones too.
	qcur, scur := len(be.queue), be.conns+be.waiting
	qmax, smax := be.qmax, be.smax
	var weight, uweight int
	for _, s := range be.candidates() {
		weight += s.eweight
		uweight += s.weight
	}
	act, bck := be.usableCounts()
	up := len(be.cands) > 0
	chkdown, lastChange, downtime := be.chkDown, be.lastChange, be.down.total(now)
	be.mu.Unlock()
	r.set("pxname", be.cfg.Name)
	r.set("svname", "BACKEND")
	r.setI("qcur", int64(qcur))
	r.setI("qmax", int64(qmax))
	r.setI("scur", int64(scur))
	r.setI("smax", int64(smax))
	r.setI("slim", int64(cmp.Or(be.cfg.FullConn, b.backendLimit(be))))
	r.setU("stot", be.st.cum.Load())
	r.setU("dreq", c.denied.Load())
	r.setTraffic(c)
	status := "DOWN"
	if up || len(be.servers) == 0 {
		// As haproxy: a backend without servers (answering with its
		// rules, say) is not down.
		status = "UP"
	}
	r.set("status", status)
	r.setI("weight", int64(displayWeight(weight)))
	r.setI("uweight", int64(uweight))
	r.setI("act", int64(act))
	r.setI("bck", int64(bck))
	r.setI("chkdown", int64(chkdown))
	r.setI("lastchg", max(now.Unix()-lastChange, 0))
	r.setI("downtime", downtime)
	r.setPlace(iid, 0, statBackend, c)
	if be.cfg.Mode == "http" {
		setHrsp(r, c)
		r.setU("req_tot", be.st.cum.Load())
		r.setU("cache_lookups", c.cacheLookups.Load())
		r.setU("cache_hits", c.cacheHits.Load())
	}
	r.setU("cli_abrt", c.cliAbrt.Load())
	r.setU("srv_abrt", c.srvAbrt.Load())
	r.setComp(c)
	r.setTimes(c, be.cfg.Mode == "http", false)
	r.setConnects(c)
	r.zero("wrew eint agg_server_status agg_server_check_status agg_check_status ssl_sess ssl_reused_sess ssl_failed_handshake h2_headers_rcvd h2_data_rcvd h2_settings_rcvd h2_rst_stream_rcvd h2_goaway_rcvd h2_detected_conn_protocol_errors h2_detected_strm_protocol_errors h2_rst_stream_resp h2_goaway_resp h2_open_connections h2_backend_open_streams h2_total_connections h2_backend_total_streams h1_open_connections h1_open_streams h1_total_connections h1_total_streams h1_bytes_in h1_bytes_out h1_spliced_bytes_in h1_spliced_bytes_out")
	r.setI("lastsess", lastSess(c, now))
	r.set("mode", be.cfg.Mode)
	if legends {
		r.set("algo", be.cfg.Balance)
		if c := be.cfg.Cookie; c != nil {
			r.set("cookie", c.Name)
		}
	}
	r.set("-", "-")
	return r
}

// writeInfo answers "show info": the process's figures, one "Name: value"
// per line, under HAProxy's names for those lb keeps.
func (b *Balancer) writeInfo(w io.Writer) {
	var sb strings.Builder
	line := func(k string, v any) {
		sb.WriteString(k)
		sb.WriteString(": ")
		switch x := v.(type) {
		case string:
			sb.WriteString(x)
		case int:
			sb.WriteString(strconv.Itoa(x))
		case int64:
			sb.WriteString(strconv.FormatInt(x, 10))
		case uint64:
			sb.WriteString(strconv.FormatUint(x, 10))
		}
		sb.WriteByte('\n')
	}
	up := time.Since(b.started)
	sec := int64(up / time.Second)
	var cumConns, cumReq uint64
	listeners := 0
	for _, fe := range b.fronts {
		cumConns += fe.st.cum.Load()
		cumReq += fe.st.reqTot.Load()
		listeners += len(fe.listeners)
	}
	var pipesUsed, pipesFree int
	maxPipes := b.cfg.Global.MaxPipes
	if maxPipes == 0 {
		maxPipes = b.cfg.Global.MaxConn / 4
	}
	if b.pipes != nil {
		st := b.pipes.Stats()
		pipesUsed, pipesFree = st.InUse, st.Idle
	}
	node := b.nodeName("")
	stopping := 0
	if b.stopping.Load() {
		stopping = 1
	}
	line("Name", "lb")
	line("Version", Version)
	line("Nbthread", max(b.cfg.Global.NbThread, 1))
	line("Nbproc", 1)
	line("Process_num", 1)
	line("Pid", os.Getpid())
	line("Uptime", formatUptime(sec))
	line("Uptime_sec", sec)
	line("Maxconn", b.globalMax.Load())
	line("Hard_maxconn", b.cfg.Global.MaxConn)
	line("CurrConns", b.actconn.Load())
	line("CumConns", cumConns)
	line("CumReq", cumReq)
	line("Maxpipes", maxPipes)
	line("PipesUsed", pipesUsed)
	line("PipesFree", pipesFree)
	var connRate uint64
	for _, fe := range b.fronts {
		connRate += uint64(fe.st.rate.Rate())
	}
	line("ConnRate", connRate)
	line("ConnRateLimit", b.cfg.Global.MaxConnRate)
	line("SessRate", connRate)
	line("SessRateLimit", b.cfg.Global.MaxSessRate)
	line("node", node)
	line("description", b.cfg.Global.Description)
	line("Stopping", stopping)
	line("Jobs", b.actconn.Load()+int64(listeners))
	line("Listeners", listeners)
	line("Start_time_sec", b.started.Unix())
	_, _ = io.WriteString(w, sb.String())
}

// Version is what "show info" reports as lb's version.
var Version = "dev"

// formatUptime words a duration in seconds as HAProxy's Uptime line:
// "0d 0h00m04s".
func formatUptime(sec int64) string {
	d, h, m, s := sec/86400, sec/3600%24, sec/60%60, sec%60
	return strconv.FormatInt(d, 10) + "d " + strconv.FormatInt(h, 10) + "h" + pad2(m) + "m" + pad2(s) + "s"
}

func pad2(n int64) string {
	if n < 10 {
		return "0" + strconv.FormatInt(n, 10)
	}
	return strconv.FormatInt(n, 10)
}

// statsCommand runs "show stat", "show info", "show backend" and "clear
// counters"; it reports false for any other command.
func (b *Balancer) statsCommand(w io.Writer, level string, words []string) bool {
	switch {
	case len(words) >= 2 && words[0] == "show" && words[1] == "stat":
		o := allStats()
		o.legends = cliLevels[level] >= cliLevels["operator"]
		args := words[2:]
		for len(args) > 0 {
			switch args[0] {
			case "up":
				o.up = true
			case "no-maint":
				o.noMaint = true
			case "typed", "json", "desc":
				_, _ = io.WriteString(w, "'show stat "+args[0]+"' is not supported: lb prints the CSV only.\n")
				return true
			}
			args = args[1:]
		}
		// "show stat {<iid>|<proxy>} <type> <sid>": all three, or none.
		if a := words[2:]; len(a) >= 3 {
			typ, err1 := strconv.Atoi(a[1])
			sid, err2 := strconv.Atoi(a[2])
			if err1 == nil && err2 == nil {
				if iid, err := strconv.Atoi(a[0]); err == nil {
					o.iid = iid
				} else {
					o.proxy = a[0]
				}
				o.typeMask, o.sid = typ, sid
			}
		}
		b.writeStats(w, o)
	case len(words) >= 2 && words[0] == "show" && words[1] == "info":
		b.writeInfo(w)
	case len(words) == 2 && words[0] == "show" && words[1] == "backend":
		var sb strings.Builder
		sb.WriteString("# name\n")
		for _, px := range b.cfg.Proxies {
			if be := b.backends[px.Name]; be != nil && be.cfg == px && !px.Disabled {
				sb.WriteString(px.Name)
				sb.WriteByte('\n')
			}
		}
		_, _ = io.WriteString(w, sb.String())
	case len(words) >= 2 && words[0] == "clear" && words[1] == "counters":
		all := len(words) >= 3 && words[2] == "all"
		need := "operator"
		if all {
			need = "admin"
		}
		if cliLevels[level] < cliLevels[need] {
			_, _ = io.WriteString(w, "Permission denied\n")
			return true
		}
		b.clearCounters(all)
	default:
		return false
	}
	return true
}

// clearCounters zeroes the peaks, or with all every counter.
func (b *Balancer) clearCounters(all bool) {
	for _, fe := range b.fronts {
		fe.st.clearMax(all)
	}
	for _, be := range b.backends {
		be.st.clearMax(all)
		be.mu.Lock()
		be.smax, be.qmax = be.conns+be.waiting, len(be.queue)
		for _, s := range be.servers {
			s.st.clearMax(all)
			s.smax, s.qmax = s.cur, len(s.queue)
			if all {
				s.chkFail, s.chkDown = 0, 0
			}
		}
		if all {
			be.chkDown = 0
		}
		be.mu.Unlock()
	}
}
