package balancer

import (
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// More of HAProxy 2.6's runtime API: connection limits ("set maxconn"),
// frontends ("disable frontend", "enable frontend", "shutdown
// frontend"), a server's sessions ("shutdown sessions server"), its
// checks ("disable health", "enable agent"...), its address ("set server
// B/S addr", "check-port") and "show servers state". Every one but the
// last needs level admin; each answers, succeeds and fails as HAProxy
// does.

// The answers HAProxy gives to these commands' bad arguments. Those
// without a final newline are printed as HAProxy prints them, with no
// empty line after.
const (
	msgNeedFrontend     = "A frontend name is expected.\n"
	msgNoFrontend       = "No such frontend.\n"
	msgNeedMaxconn      = "Require <maxconn>.\n"
	msgMaxconnEmpty     = "maxconn string empty or preceded by garbage"
	msgMaxconnTrailing  = "Trailing garbage in maxconn string"
	msgNeedInteger      = "Integer value expected.\n"
	msgOutOfRange       = "Value out of range.\n"
	msgNeedGlobalValue  = "Expects an integer value.\n"
	msgAlreadyPaused    = "All sockets are already disabled.\n"
	msgAlreadyResumed   = "All sockets are already enabled.\n"
	msgStoppedNoDisable = "Frontend was previously shut down, cannot disable.\n"
	msgStoppedNoEnable  = "Frontend was previously shut down, cannot enable.\n"
	msgAlreadyStopped   = "Frontend was already shut down.\n"
	msgNoHealth         = "Health check was not configured on this server, cannot enable.\n"
	msgNoAgent          = "Agent was not configured on this server, cannot enable.\n"
	msgNoBackend        = "Can't find backend.\n"
	msgAddrUsage        = "set server <b>/<s> addr requires an address and optionally a port.\n"
	msgCheckPortUsage   = "set server <b>/<s> check-port requires a port.\n"
	msgChecksOff        = "health checks are not enabled on this server"
	msgPortNotInt       = "provided port is not an integer"
	msgPortInvalid      = "provided port is invalid"
	msgPermission       = "Permission denied\n"
)

// runtimeCommand runs the commands of this file; it reports false for a
// command that is not one of them.
func (b *Balancer) runtimeCommand(w io.Writer, level string, words []string) bool {
	arg := func(i int) string {
		if i < len(words) {
			return words[i]
		}
		return ""
	}
	admin := func() bool {
		if cliLevels[level] < cliLevels["admin"] {
			_, _ = io.WriteString(w, msgPermission)
			return false
		}
		return true
	}
	switch {
	case arg(0) == "set" && arg(1) == "maxconn":
		switch arg(2) {
		case "server", "frontend", "global":
		default:
			return false
		}
		if admin() {
			b.setMaxConn(w, words)
		}
	case (arg(0) == "disable" || arg(0) == "enable") && arg(1) == "frontend":
		if admin() {
			if fe := b.findFrontend(w, arg(2)); fe != nil {
				b.pauseFrontend(w, fe, arg(0) == "disable")
			}
		}
	case arg(0) == "shutdown" && arg(1) == "frontend":
		if admin() {
			if fe := b.findFrontend(w, arg(2)); fe != nil {
				b.shutdownFrontend(w, fe)
			}
		}
	case arg(0) == "shutdown" && arg(1) == "sessions" && arg(2) == "server":
		if admin() {
			if s := b.findServer(w, arg(3)); s != nil {
				s.ShutdownSessions()
			}
		}
	case (arg(0) == "disable" || arg(0) == "enable") && (arg(1) == "health" || arg(1) == "agent"):
		if admin() {
			if s := b.findServer(w, arg(2)); s != nil {
				if err := s.setCheckEnabled(arg(1) == "agent", arg(0) == "enable"); err != nil {
					_, _ = io.WriteString(w, err.Error())
				}
			}
		}
	case (arg(0) == "set" && arg(1) == "dynamic-cookie-key" || (arg(0) == "enable" || arg(0) == "disable") && arg(1) == "dynamic-cookie") && arg(2) == "backend":
		if admin() {
			b.dynCookieCommand(w, words)
		}
	case arg(0) == "show" && arg(1) == "servers" && arg(2) == "state":
		b.showServersState(w, arg(3))
	case arg(0) == "show" && arg(1) == "resolvers":
		b.showResolvers(w, arg(2))
	default:
		return false
	}
	return true
}

// findFrontend resolves a frontend (or listen section) by name for the
// runtime API, answering as HAProxy does when it cannot.
func (b *Balancer) findFrontend(w io.Writer, name string) *frontend {
	if name == "" {
		_, _ = io.WriteString(w, msgNeedFrontend)
		return nil
	}
	for _, fe := range b.fronts {
		if fe.cfg.Name == name {
			return fe
		}
	}
	_, _ = io.WriteString(w, msgNoFrontend)
	return nil
}

// setMaxConn runs "set maxconn server|frontend|global".
func (b *Balancer) setMaxConn(w io.Writer, words []string) {
	switch words[2] {
	case "server":
		if len(words) < 4 {
			_, _ = io.WriteString(w, "Require 'backend/server'.\n")
			return
		}
		s := b.findServer(w, words[3])
		if s == nil {
			return
		}
		if len(words) < 5 {
			_, _ = io.WriteString(w, msgNeedMaxconn)
			return
		}
		n, rest, ok := parseLong(words[4])
		switch {
		case !ok:
			_, _ = io.WriteString(w, msgMaxconnEmpty)
			return
		case rest != "":
			_, _ = io.WriteString(w, msgMaxconnTrailing)
			return
		}
		// HAProxy keeps the number in a C int and reads it unsigned: a
		// negative one is a very large limit.
		s.SetMaxConn(int(uint32(int32(n))))
	case "frontend":
		fe := b.findFrontend(w, argAt(words, 3))
		if fe == nil {
			return
		}
		if len(words) < 5 {
			_, _ = io.WriteString(w, msgNeedInteger)
			return
		}
		n := atoi(words[4])
		if n < 0 {
			_, _ = io.WriteString(w, msgOutOfRange)
			return
		}
		fe.maxconn.Store(int64(n))
		_ = fe.slots.SetCap(n)
	case "global":
		if len(words) < 4 {
			_, _ = io.WriteString(w, msgNeedGlobalValue)
			return
		}
		n := atoi(words[3])
		hard := b.cfg.Global.MaxConn
		if hard > 0 && n > hard {
			_, _ = io.WriteString(w, msgOutOfRange)
			return
		}
		if n <= 0 {
			n = hard
		}
		b.globalMax.Store(int64(n))
		_ = b.global.SetCap(slotsFor(n))
	}
}

func argAt(words []string, i int) string {
	if i < len(words) {
		return words[i]
	}
	return ""
}

// parseLong reads a leading base-10 number with an optional sign as C's
// strtol does, clamping what overflows; ok is false when no digit comes
// first, rest is what follows the digits.
func parseLong(s string) (n int64, rest string, ok bool) {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	j := i
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	if j == i {
		return 0, s, false
	}
	n, err := strconv.ParseInt(s[:j], 10, 64)
	if err != nil { // out of range: ParseInt gives the clamped value
		if s[0] == '-' {
			n = math.MinInt64
		} else {
			n = math.MaxInt64
		}
	}
	return n, s[j:], true
}

// atoi reads a number as C's atoi does: a leading one, 0 for none, kept
// in a C int.
func atoi(s string) int {
	n, _, _ := parseLong(s)
	return int(int32(max(min(n, math.MaxInt32), math.MinInt32)))
}

// SetMaxConn sets the server's connection limit (0 for none), as
// HAProxy's "set maxconn server": new connections see it at once, and
// the connections queued for the backend or the server take the room a
// larger one makes.
func (s *Server) SetMaxConn(n int) {
	b := s.be
	b.mu.Lock()
	defer b.mu.Unlock()
	s.maxconn = n
	b.serveQueues()
}

// frontendStatus is the frontend's status column: OPEN, PAUSED after
// "disable frontend", STOP after "shutdown frontend" or once stopping.
func (b *Balancer) frontendStatus(fe *frontend) string {
	b.mu.Lock()
	paused, stopped := fe.paused, fe.stopped
	b.mu.Unlock()
	switch {
	case stopped || b.stopping.Load():
		return "STOP"
	case paused:
		return "PAUSED"
	}
	return "OPEN"
}

// proxyWord names a proxy's kind as HAProxy's messages do.
func proxyWord(fe *frontend) string {
	if fe.cfg.Kind.IsBackend() {
		return "proxy"
	}
	return "frontend"
}

// pauseFrontend runs "disable frontend" (pause) and "enable frontend":
// as HAProxy's pause on Linux, the listening sockets stop listening, so
// new clients are refused until the frontend is enabled again; the live
// connections go on.
func (b *Balancer) pauseFrontend(w io.Writer, fe *frontend, pause bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case fe.stopped && pause:
		_, _ = io.WriteString(w, msgStoppedNoDisable)
		return
	case fe.stopped:
		_, _ = io.WriteString(w, msgStoppedNoEnable)
		return
	case pause && fe.paused:
		_, _ = io.WriteString(w, msgAlreadyPaused)
		return
	case !pause && !fe.paused:
		_, _ = io.WriteString(w, msgAlreadyResumed)
		return
	}
	var failed error
	for _, ln := range fe.listeners {
		var err error
		if pause {
			_, err = ln.Suspend()
		} else {
			err = ln.Resume()
		}
		if err != nil && failed == nil {
			failed = err
		}
	}
	fe.paused = pause
	if failed != nil {
		b.log.Warn("frontend pause or resume failed", "frontend", fe.cfg.Name, "err", failed)
	}
	what := "Resumed"
	if pause {
		what = "Paused"
	}
	fe.logs.event(levelWarning, fmt.Sprintf("%s %s %s.", what, proxyWord(fe), fe.cfg.Name))
}

// shutdownFrontend runs "shutdown frontend": its listeners close for
// good, as HAProxy stops the proxy; the live connections go on.
func (b *Balancer) shutdownFrontend(w io.Writer, fe *frontend) {
	b.mu.Lock()
	if fe.stopped {
		b.mu.Unlock()
		_, _ = io.WriteString(w, msgAlreadyStopped)
		return
	}
	fe.stopped = true
	b.mu.Unlock()
	for _, ln := range fe.listeners {
		_ = ln.Close()
	}
	var beCum uint64
	if be := b.backends[fe.cfg.Name]; be != nil && be.cfg == fe.cfg {
		beCum = be.st.cum.Load()
	}
	fe.logs.event(levelWarning, fmt.Sprintf("Proxy %s stopped (cumulated conns: FE: %d, BE: %d).", fe.cfg.Name, fe.st.cum.Load(), beCum))
}

// ShutdownSessions closes the server's live TCP sessions, as HAProxy's
// "shutdown sessions server": their traffic lines end with K-.
func (s *Server) ShutdownSessions() {
	b := s.be
	b.mu.Lock()
	shut := liveSessions(nil, s)
	b.mu.Unlock()
	for _, x := range shut {
		x.mu.Lock()
		x.shut = true
		x.mu.Unlock()
		x.kill()
	}
}

// setCheckEnabled runs "enable health", "disable health", "enable agent"
// and "disable agent": a disabled check stops running and leaves the
// server's state as it is, and the statistics show it no more; a server
// its agent kept down can come up on its health check once the agent is
// disabled, as in HAProxy. Only a configured check can be enabled.
func (s *Server) setCheckEnabled(agent, on bool) error {
	b := s.be
	b.mu.Lock()
	defer b.mu.Unlock()
	if agent {
		if on && s.agent == nil {
			return cliAnswer(msgNoAgent)
		}
		s.agentOff = !on
		return nil
	}
	if on && s.checker == nil {
		return cliAnswer(msgNoHealth)
	}
	s.checkOff = !on
	return nil
}

// setAddr runs "set server B/S addr IP [port P]": new connections and
// checks go to the new address; the answer says what changed, in
// HAProxy's words.
func (s *Server) setAddr(ip, portWord string, withPort bool) string {
	const by = " by 'stats socket command'\n"
	if s.unix() {
		return "Cannot change the address of a server on a UNIX socket" + by
	}
	a, err := netip.ParseAddr(ip)
	if err != nil || a.Zone() != "" {
		return "Invalid addr '" + ip + "'" + by
	}
	b := s.be
	b.mu.Lock()
	defer b.mu.Unlock()
	host, oldPort, _ := net.SplitHostPort(s.address())
	var msg strings.Builder
	newHost := a.Unmap().String()
	if newHost != host {
		fmt.Fprintf(&msg, "IP changed from '%s' to '%s'", host, newHost)
	} else {
		msg.WriteString("no need to change the addr")
	}
	port := oldPort
	if withPort {
		switch n, err := strconv.Atoi(portWord); {
		case strings.HasPrefix(portWord, "+") || strings.HasPrefix(portWord, "-"):
			if s.checkPort.Load() == 0 {
				msg.WriteString(", can't change <port> to port map because it is incompatible with current health check port configuration (use 'port' statement from the 'server' directive.")
			} else {
				msg.WriteString(", port maps are not supported")
			}
		case err != nil:
			fmt.Fprintf(&msg, ", problem converting port '%s' to an int", portWord)
		default:
			// HAProxy keeps a port in 16 bits.
			port = strconv.Itoa(int(uint16(n)))
			if port != oldPort {
				fmt.Fprintf(&msg, ", port changed from '%s' to '%s'", oldPort, port)
			} else {
				msg.WriteString(", no need to change the port")
			}
		}
	}
	addr := net.JoinHostPort(newHost, port)
	s.addr.Store(&addr)
	msg.WriteString(by)
	return msg.String()
}

// setCheckPort runs "set server B/S check-port N": the health checks go
// to port N of the server's address (0: its own port).
func (s *Server) setCheckPort(word string) string {
	b := s.be
	b.mu.Lock()
	defer b.mu.Unlock()
	if s.checker == nil || s.checkOff {
		return msgChecksOff
	}
	n, err := strconv.Atoi(word)
	if err != nil {
		return msgPortNotInt
	}
	if n < 0 || n > 65535 {
		return msgPortInvalid
	}
	s.checkPort.Store(int32(n))
	return ""
}

// HAProxy's check status codes (enum healthcheck_status) and results
// (CHK_RES_*), as "show servers state" prints them.
var checkStatusCodes = map[string]int{
	"": 1, "INI": 1, "HANA": 4, "SOCKERR": 5, "L4OK": 6, "L4TOUT": 7, "L4CON": 8,
	"L6OK": 9, "L6TOUT": 10, "L6RSP": 11, "L7TOUT": 12, "L7RSP": 13,
	"L7OK": 15, "L7OKC": 16, "L7STS": 17, "PROCERR": 18, "PROCTOUT": 19, "PROCOK": 20,
}

const (
	chkResUnknown = 0
	chkResFailed  = 2
	chkResPassed  = 3
	chkResCond    = 4
)

// checkResult is the CHK_RES_* of a check status.
func checkResult(status string) int {
	switch status {
	case "", "INI", "UNK":
		return chkResUnknown
	case "L4OK", "L6OK", "L7OK", "PROCOK":
		return chkResPassed
	case "L7OKC":
		return chkResCond
	}
	return chkResFailed
}

// HAProxy's check state bits (CHK_ST_*) and server admin bits
// (SRV_ADMF_*).
const (
	chkStConfigured = 0x02
	chkStEnabled    = 0x04
	chkStPaused     = 0x08
	chkStAgent      = 0x10

	admfFMaint = 0x01
	admfIMaint = 0x02
	admfCMaint = 0x04
	admfFDrain = 0x08
	admfIDrain = 0x10
	admfRMaint = 0x20
	admfHMaint = 0x40
)

// serversStateHeader is "show servers state"'s version line and column
// names (HAProxy's SRV_STATE_FILE_VERSION 1).
const serversStateHeader = "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n"

// showServersState writes "show servers state", for every backend or
// the one named, in HAProxy 2.6's format. lb keeps no host names, ids
// set by "id" or SRV records: those columns read as HAProxy's do for a
// server given by address with its ids assigned.
func (b *Balancer) showServersState(w io.Writer, name string) {
	if name != "" {
		if be := b.backends[name]; be == nil {
			_, _ = io.WriteString(w, msgNoBackend)
			return
		}
	}
	ids := proxyIDs(b.cfg)
	now := time.Now().Unix()
	var sb strings.Builder
	sb.WriteString(serversStateHeader)
	for _, px := range b.cfg.Proxies {
		be := b.backends[px.Name]
		if be == nil || be.cfg != px || name != "" && px.Name != name {
			continue
		}
		for _, s := range be.servers {
			be.serverStateLine(&sb, s, ids[px], now)
		}
	}
	_, _ = io.WriteString(w, sb.String())
}

// serverStateLine writes one server's line of "show servers state".
func (b *Backend) serverStateLine(sb *strings.Builder, s *Server, iid int, now int64) {
	cfg := s.cfg
	b.mu.Lock()
	up, maint, drain, cmaint, starting := s.up, s.maint, s.drain, s.cmaint, s.starting
	stopping := s.stopping
	imaint, idrain := s.imaint, s.idrain
	rmaint, hmaint, fqdn := s.rmaint, s.hmaint, s.fqdnLocked()
	health, weight, lastChange := s.health, s.weight, s.lastChange
	checkOff, agentOff := s.checkOff, s.agentOff
	b.mu.Unlock()
	op := 2 // SRV_ST_RUNNING
	switch {
	case maint || imaint || rmaint || !up:
		op = 0 // SRV_ST_STOPPED
	case stopping:
		op = 3 // SRV_ST_STOPPING
	case starting:
		op = 1 // SRV_ST_STARTING
	}
	admin := 0
	if maint {
		admin |= admfFMaint
	}
	if cmaint {
		admin |= admfCMaint
	}
	if drain {
		admin |= admfFDrain
	}
	if imaint {
		admin |= admfIMaint
	}
	if idrain {
		admin |= admfIDrain
	}
	if rmaint {
		admin |= admfRMaint
	}
	if hmaint {
		admin |= admfHMaint
	}
	status, result, chkState := 1, chkResUnknown, 0
	if s.checker != nil {
		st := s.CheckStatus()
		status, result = checkStatusCodes[st], checkResult(st)
		chkState = chkStConfigured
		if !checkOff {
			chkState |= chkStEnabled
		}
	}
	// Maintenance pauses the checks that run, and a server "disabled"
	// in the configuration starts with them paused, checked or not.
	if (maint || rmaint) && s.checker != nil && !checkOff || maint && cmaint {
		chkState |= chkStPaused
	}
	agentState, agentPort := 0, cfg.AgentPort
	if agentPort == 0 {
		agentPort = cfg.CheckPort
	}
	if s.agent != nil {
		agentState = chkStAgent | chkStConfigured
		if !agentOff {
			agentState |= chkStEnabled
		}
	}
	host, port, err := net.SplitHostPort(s.address())
	if err != nil {
		host, port = "-", "0"
	}
	if host == "" {
		host = "-" // no address yet, or none since the resolvers lost it
	}
	if n, err := strconv.Atoi(port); err == nil && n < 0 {
		port = strconv.FormatUint(uint64(uint32(n)), 10) // a "-N" offset, as haproxy's unsigned field shows it
	}
	useSSL := 0
	if cfg.SSL.Enabled {
		useSSL = 1
	}
	fmt.Fprintf(sb, "%d %s %d %s %s %d %d %d %d %d %d %d %d %d %d %d %d %s %s %s %d %d %s %s %d\n",
		iid, b.cfg.Name, cfg.ID, cfg.Name, host,
		op, admin, weight, cfg.Weight, max(now-lastChange, 0),
		status, result, health, chkState, agentState,
		0, 0, dash(fqdn), port, dash(cfg.SRV),
		useSSL, s.checkPort.Load(), dash(cfg.CheckAddr), dash(cfg.AgentAddr), agentPort)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
