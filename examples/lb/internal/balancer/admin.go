package balancer

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Server administration at run time, as HAProxy's runtime API offers it:
// maintenance and drain ("set server B/S state", "disable server",
// "enable server") and weights ("set server B/S weight", "set weight",
// "get weight"), with the log lines HAProxy writes for each change.

// took notes that s took a connection, for the peaks the statistics
// show. Called with b.mu held, after s.cur and b.conns grew.
func (b *Backend) took(s *Server) {
	s.smax = max(s.smax, s.cur)
	b.smax = max(b.smax, b.conns+b.waiting)
}

// outage keeps a downtime: since is when the current outage began, a
// Unix second (0 while up), acc the seconds of the outages before.
type outage struct{ since, acc int64 }

// set records at now whether it is down, and reports whether that
// changed.
func (o *outage) set(down bool, now int64) bool {
	switch {
	case down && o.since == 0:
		o.since = now
	case !down && o.since != 0:
		o.acc += now - o.since
		o.since = 0
	default:
		return false
	}
	return true
}

// total is the downtime in seconds at now.
func (o *outage) total(now time.Time) int64 {
	if o.since != 0 {
		return o.acc + max(now.Unix()-o.since, 0)
	}
	return o.acc
}

// noteState records, at Unix second now, a change in whether s serves:
// the date of the change and the downtime, which runs while the server
// is down or in maintenance. Called with be.mu held.
func (s *Server) noteState(now int64) {
	s.lastChange = now
	s.down.set(!s.up || s.inMaint() || s.rmaint, now)
}

// noteState records whether the backend has a server left after a
// change among its servers: losing the last one counts in chkdown and
// starts its downtime. Called with b.mu held.
func (b *Backend) noteState(now int64) {
	up := len(b.candidates()) > 0
	if b.down.set(!up, now) {
		b.lastChange = now
		if !up {
			b.chkDown++
		}
	}
}

// cliAnswer is an error worded as HAProxy's runtime API answers it, a
// sentence with its capital and its full stop.
type cliAnswer string

func (a cliAnswer) Error() string { return string(a) }

// The runtime API's answers to bad administration commands.
const (
	errStateWord      cliAnswer = "'set server <srv> state' expects 'ready', 'drain' and 'maint'."
	errStaticWeight   cliAnswer = "Backend is using a static LB algorithm and only accepts weights '0%' and '100%'."
	errRelativeWeight cliAnswer = "Relative weight must be positive."
	errAbsoluteWeight cliAnswer = "Absolute weight can only be between 0 and 256 inclusive."
)

// Server administrative states, as "set server B/S state" names them.
const (
	StateReady = "ready"
	StateDrain = "drain"
	StateMaint = "maint"
)

// SetState puts the server in maintenance, in drain, or back to ready, as
// HAProxy's "set server B/S state" does: maintenance stops its checks
// and its traffic, and the connections queued for it go to the backend
// queue; drain stops new connections; ready ends either. A checked server
// leaving maintenance is up, one failed check from down, until its checks
// say more.
func (s *Server) SetState(state string) error {
	b := s.be
	b.mu.Lock()
	var msg, none string
	now := time.Now().Unix()
	// What the trackers inherit or lose, passed on once b.mu is released.
	var inherit func(*Server)
	wasMaint, wasDrain := s.inMaint(), s.draining()
	defer func() {
		b.mu.Lock()
		maintEnded, drainEnded := wasMaint && !s.inMaint(), wasDrain && !s.draining()
		b.mu.Unlock()
		for _, t := range s.trackers {
			if inherit != nil {
				inherit(t)
			}
			if maintEnded {
				t.clearIMaint()
			}
			if drainEnded {
				t.clearIDrain()
			}
		}
	}()
	switch state {
	case StateMaint:
		if s.maint {
			b.mu.Unlock()
			return nil
		}
		if s.imaint {
			// Already in maintenance through what it tracks: HAProxy
			// says nothing, and its trackers are there already.
			s.maint = true
			b.mu.Unlock()
			return nil
		}
		inherit = (*Server).inheritMaint
		s.maint = true
		msg, none = s.goDownForMaint("", now)
	case StateDrain:
		if s.drain {
			b.mu.Unlock()
			return nil
		}
		if s.idrain {
			s.drain = true
			b.mu.Unlock()
			return nil
		}
		inherit = (*Server).inheritDrain
		s.drain = true
		msg, none = s.enterDrain("", now)
	case StateReady:
		switch {
		case s.maint && s.imaint:
			s.maint, s.drain = false, false
			msg = fmt.Sprintf("%s %s/%s is leaving forced maintenance but remains in maintenance%s.", serverKind(s), b.cfg.Name, s.cfg.Name, s.via())
		case s.maint:
			s.drain = false
			msg = s.endMaint()
		case s.drain && s.idrain:
			s.drain = false
			msg = fmt.Sprintf("%s %s/%s is leaving forced drain but remains in drain mode%s.", serverKind(s), b.cfg.Name, s.cfg.Name, s.via())
		case s.drain:
			s.drain = false
			state := "UP"
			if !s.up {
				state = "DOWN"
			}
			msg = fmt.Sprintf("%s %s/%s is %s (leaving forced drain).", serverKind(s), b.cfg.Name, s.cfg.Name, state)
		default:
			b.mu.Unlock()
			return nil
		}
		s.reweigh(now)
		b.noneLine(b.usableCounts())
	default:
		b.mu.Unlock()
		return errStateWord
	}
	b.mu.Unlock()
	b.announce(msg, none)
	return nil
}

// goDownForMaint takes s, whose maint or imaint was just set, out of
// service as HAProxy's maintenance does: the check's health zeroed (only
// a checked server gets it back on leaving), the connections queued for
// it sent to the backend's queue. It returns HAProxy's line, "via" the
// tracked server for an inherited maintenance (via from Server.via, ""
// for a forced one), and the line of a backend left with no server.
// Called with b.mu held.
func (s *Server) goDownForMaint(via string, now int64) (msg, none string) {
	b := s.be
	s.health = 0
	b.dirty = true
	requeued := b.requeue(s)
	b.follow()
	b.serveQueues()
	s.noteState(now)
	b.noteState(now)
	active, backup := b.usableCounts()
	msg = fmt.Sprintf("%s %s/%s is going DOWN for maintenance%s. %d active and %d backup servers left.%s %d sessions active, %d requeued, %d remaining in queue.",
		serverKind(s), b.cfg.Name, s.cfg.Name, via, active, backup, runningOnBackup(active, backup), s.cur, requeued, len(b.queue))
	if !s.up {
		msg = fmt.Sprintf("%s %s/%s was DOWN and now enters maintenance%s.", serverKind(s), b.cfg.Name, s.cfg.Name, via)
	}
	return msg, b.noneLine(active, backup)
}

// enterDrain stops new connections to s, whose drain or idrain was just
// set, and returns HAProxy's lines as goDownForMaint does; a server in
// maintenance drains without a word, as in HAProxy. Called with b.mu
// held.
func (s *Server) enterDrain(via string, now int64) (msg, none string) {
	b := s.be
	b.dirty = true
	b.follow()
	b.noteState(now)
	if s.inMaint() {
		return "", ""
	}
	active, backup := b.usableCounts()
	msg = fmt.Sprintf("%s %s/%s enters drain state%s. %d active and %d backup servers online.%s %d sessions requeued, %d total in queue.",
		serverKind(s), b.cfg.Name, s.cfg.Name, via, active, backup, runningOnBackup(active, backup), 0, len(b.queue))
	return msg, b.noneLine(active, backup)
}

// announce logs a server's state line and, if there is one, the line of
// its backend left with no server, once b.mu is released.
func (b *Backend) announce(msg, none string) {
	if msg != "" {
		b.logs.event(levelWarning, msg)
	}
	if none != "" {
		b.logs.event(levelEmerg, none)
	}
}

// endMaint takes the server out of maintenance and returns the line
// HAProxy logs for it. A checked server is up, one failed check from
// down, until its checks say more; one whose agent said it is down stays
// down. Called with b.mu held; the caller tells the algorithm.
func (s *Server) endMaint() string {
	b := s.be
	s.maint = false // cmaint stays: the configuration said "disabled", as HAProxy's CMAINT remembers
	s.backFromMaint()
	state, admin := s.stateWords()
	return fmt.Sprintf("%s %s/%s is %s/%s (leaving forced maintenance).", serverKind(s), b.cfg.Name, s.cfg.Name, state, admin)
}

// backFromMaint puts a checked server leaving a maintenance up, one
// failed check from down, until its checks say more; one whose agent
// said it is down stays down. Called with b.mu held.
func (s *Server) backFromMaint() {
	if s.tracked != nil {
		s.up = s.trackedUp()
		return
	}
	if s.checker != nil || s.agent != nil {
		s.up = s.agentLetsUp()
		if s.checker != nil {
			s.health = s.cfg.Rise
		}
	}
}

// trackedUp is the state of the server s tracks. Called with s.be.mu
// held: a tracker's lock may be held while its tracked server's is
// taken, never the other way round.
func (s *Server) trackedUp() bool {
	t := s.tracked
	if t.be == s.be {
		return t.up
	}
	t.be.mu.Lock()
	defer t.be.mu.Unlock()
	return t.up
}

// stateWords are the server's operational and administrative states as
// HAProxy's log lines word them: UP or DOWN, and READY, DRAIN or MAINT.
// Called with b.mu held.
func (s *Server) stateWords() (state, admin string) {
	state, admin = "UP", "READY"
	if !s.up {
		state = "DOWN"
	}
	switch {
	case s.inMaint():
		admin = "MAINT"
	case s.draining():
		admin = "DRAIN"
	}
	return state, admin
}

// via is " via B/S", the server s tracks, as HAProxy's lines name it.
func (s *Server) via() string {
	return fmt.Sprintf(" via %s/%s", s.tracked.be.cfg.Name, s.tracked.cfg.Name)
}

// inheritMaint puts a tracking server in the maintenance of the server
// it tracks (HAProxy's IMAINT), logged "via" that server, and passes it
// on down the chain; nothing for one already in maintenance.
func (s *Server) inheritMaint() {
	b := s.be
	b.mu.Lock()
	if s.imaint {
		b.mu.Unlock()
		return
	}
	s.imaint = true
	if s.maint {
		b.mu.Unlock()
		return
	}
	msg, none := s.goDownForMaint(s.via(), time.Now().Unix())
	b.mu.Unlock()
	b.announce(msg, none)
	for _, t := range s.trackers {
		t.inheritMaint()
	}
}

// clearIMaint ends the maintenance a tracking server inherited, and its
// trackers' after it; one in maintenance of its own stays there.
func (s *Server) clearIMaint() {
	b := s.be
	b.mu.Lock()
	if !s.imaint {
		b.mu.Unlock()
		return
	}
	s.imaint = false
	if s.maint {
		b.mu.Unlock()
		b.logs.event(levelWarning, fmt.Sprintf("%s %s/%s remains in forced maintenance.", serverKind(s), b.cfg.Name, s.cfg.Name))
		return
	}
	s.backFromMaint()
	s.reweigh(time.Now().Unix())
	b.noneLine(b.usableCounts())
	state, admin := s.stateWords()
	b.mu.Unlock()
	b.logs.event(levelWarning, fmt.Sprintf("%s %s/%s is %s/%s (leaving maintenance).", serverKind(s), b.cfg.Name, s.cfg.Name, state, admin))
	for _, t := range s.trackers {
		t.clearIMaint()
	}
}

// inheritDrain drains a tracking server with the server it tracks
// (HAProxy's IDRAIN), and its trackers after it.
func (s *Server) inheritDrain() {
	b := s.be
	b.mu.Lock()
	if s.idrain {
		b.mu.Unlock()
		return
	}
	s.idrain = true
	if s.drain {
		b.mu.Unlock()
		return
	}
	msg, none := s.enterDrain(s.via(), time.Now().Unix())
	b.mu.Unlock()
	b.announce(msg, none)
	for _, t := range s.trackers {
		t.inheritDrain()
	}
}

// clearIDrain ends the drain a tracking server inherited, and its
// trackers' after it; one drained of its own stays so.
func (s *Server) clearIDrain() {
	b := s.be
	b.mu.Lock()
	if !s.idrain {
		b.mu.Unlock()
		return
	}
	s.idrain = false
	var msg string
	switch {
	case s.drain:
		msg = fmt.Sprintf("%s %s/%s remains in forced drain mode.", serverKind(s), b.cfg.Name, s.cfg.Name)
	case !s.inMaint():
		state, _ := s.stateWords()
		// HAProxy 2.6 words an inherited drain's end as a forced one's.
		msg = fmt.Sprintf("%s %s/%s is %s (leaving forced drain).", serverKind(s), b.cfg.Name, s.cfg.Name, state)
	}
	s.reweigh(time.Now().Unix())
	b.noneLine(b.usableCounts())
	keep := s.drain
	b.mu.Unlock()
	b.announce(msg, "")
	if keep {
		return
	}
	for _, t := range s.trackers {
		t.clearIDrain()
	}
}

// reweigh follows a change of the server's state: its effective weight
// again, the algorithm told, queued connections let into the room made,
// the change noted. Called with b.mu held.
func (s *Server) reweigh(now int64) {
	b := s.be
	b.dirty = true
	s.recalcWeight(now, b.dynamicWeights())
	b.follow()
	b.serveQueues()
	s.noteState(now)
	b.noteState(now)
}

// leaveMaint ends the server's maintenance and keeps its drain, as an
// agent's "drain" does to a server in maintenance; nothing for one not in
// maintenance.
func (s *Server) leaveMaint() {
	b := s.be
	b.mu.Lock()
	if !s.maint {
		b.mu.Unlock()
		return
	}
	now := time.Now().Unix()
	msg := s.endMaint()
	s.reweigh(now)
	b.mu.Unlock()
	b.logs.event(levelWarning, msg)
}

// requeue sends the connections waiting in s's queue to the backend's,
// as a server leaving service does, and returns how many moved. Called
// with b.mu held.
func (b *Backend) requeue(s *Server) int {
	n := len(s.queue)
	for _, p := range s.queue {
		// The server queue's count stops here; the backend queue's
		// starts.
		p.srvPos += int(s.served - p.mark)
		p.mark = b.served - 1
	}
	for _, p := range s.queue {
		b.queue = enqueue(b.queue, p)
	}
	s.queue = nil
	b.qmax = max(b.qmax, len(b.queue))
	return n
}

// usableCounts counts the usable active and backup servers. Called with
// b.mu held.
func (b *Backend) usableCounts() (active, backup int) {
	for _, x := range b.servers {
		if x.usable() {
			if x.cfg.Backup {
				backup++
			} else {
				active++
			}
		}
	}
	return active, backup
}

func serverKind(s *Server) string {
	if s.cfg.Backup {
		return "Backup Server"
	}
	return "Server"
}

// Weight returns the server's current weight and the one configured.
func (s *Server) Weight() (cur, initial int) {
	s.be.mu.Lock()
	defer s.be.mu.Unlock()
	return s.weight, s.cfg.Weight
}

// SetWeight sets the server's weight as HAProxy's "set server B/S weight"
// does: an absolute weight from 0 to 256, or "N%" of the configured one
// (the result capped at 256). The algorithms that cannot follow a
// weight change at run time (static-rr, map-based hashes) take it only
// as 0 or the configured weight, as HAProxy refuses the rest.
func (s *Server) SetWeight(arg string) error {
	w, err := parseWeight(arg, s.cfg.Weight)
	if err != nil {
		return err
	}
	b := s.be
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.dynamicWeights() && w != 0 && w != s.cfg.Weight {
		return errStaticWeight
	}
	s.applyWeight(w)
	return nil
}

// applyWeight sets the server's weight and tells the algorithm. Called
// with b.mu held.
func (s *Server) applyWeight(w int) {
	b := s.be
	now := time.Now().Unix()
	s.weight = w
	b.dirty = true
	s.recalcWeight(now, b.dynamicWeights())
	b.follow()
	b.serveQueues()
	b.noteState(now)
}

// parseWeight reads "N" (0 to 256) or "N%" of initial.
func parseWeight(arg string, initial int) (int, error) {
	if pct, ok := strings.CutSuffix(arg, "%"); ok {
		n, err := strconv.Atoi(pct)
		if err != nil || n < 0 {
			return 0, errRelativeWeight
		}
		return min(initial*n/100, 256), nil
	}
	n, err := strconv.Atoi(arg)
	if err != nil || n < 0 || n > 256 {
		return 0, errAbsoluteWeight
	}
	return n, nil
}

// findServer resolves "backend/server" for the runtime API, answering as
// HAProxy does when it cannot.
func (b *Balancer) findServer(w io.Writer, arg string) *Server {
	bname, sname, ok := strings.Cut(arg, "/")
	if !ok {
		_, _ = io.WriteString(w, "Require 'backend/server'.\n")
		return nil
	}
	be := b.backends[bname]
	if be == nil {
		_, _ = io.WriteString(w, "No such backend.\n")
		return nil
	}
	s := be.Server(sname)
	if s == nil {
		_, _ = io.WriteString(w, "No such server.\n")
	}
	return s
}

// serverCommand runs the server administration commands; it reports
// false for a command that is not one of them.
func (b *Balancer) serverCommand(w io.Writer, level string, words []string) bool {
	var kind string
	switch {
	case len(words) >= 2 && words[0] == "get" && words[1] == "weight":
		kind = "get weight"
	case len(words) >= 2 && words[0] == "set" && words[1] == "weight":
		kind = "set weight"
	case len(words) >= 2 && words[0] == "set" && words[1] == "server":
		kind = "set server"
	case len(words) >= 2 && (words[0] == "disable" || words[0] == "enable") && words[1] == "server":
		kind = words[0] + " server"
	default:
		return false
	}
	if kind != "get weight" && cliLevels[level] < cliLevels["admin"] {
		_, _ = io.WriteString(w, "Permission denied\n")
		return true
	}
	if len(words) < 3 {
		_, _ = io.WriteString(w, "Require 'backend/server'.\n")
		return true
	}
	s := b.findServer(w, words[2])
	if s == nil {
		return true
	}
	fail := func(err error) {
		if err != nil {
			_, _ = io.WriteString(w, err.Error()+"\n")
		}
	}
	switch kind {
	case "get weight":
		cur, initial := s.Weight()
		_, _ = fmt.Fprintf(w, "%d (initial %d)\n", cur, initial)
	case "set weight":
		if len(words) < 4 {
			_, _ = io.WriteString(w, "Require <weight> or <weight%>.\n")
			return true
		}
		fail(s.SetWeight(words[3]))
	case "disable server":
		fail(s.SetState(StateMaint))
	case "enable server":
		fail(s.SetState(StateReady))
	case "set server":
		switch {
		case len(words) >= 4 && words[3] == "state":
			arg := ""
			if len(words) >= 5 {
				arg = words[4]
			}
			fail(s.SetState(arg))
		case len(words) >= 4 && words[3] == "weight":
			if len(words) < 5 {
				_, _ = io.WriteString(w, "Require <weight> or <weight%>.\n")
				return true
			}
			fail(s.SetWeight(words[4]))
		case len(words) >= 4 && words[3] == "addr":
			if len(words) < 5 {
				_, _ = io.WriteString(w, msgAddrUsage)
				return true
			}
			withPort := len(words) >= 6 && words[5] == "port"
			_, _ = io.WriteString(w, s.setAddr(words[4], argAt(words, 6), withPort))
		case len(words) >= 4 && words[3] == "check-port":
			if len(words) < 5 {
				_, _ = io.WriteString(w, msgCheckPortUsage)
				return true
			}
			_, _ = io.WriteString(w, s.setCheckPort(words[4]))
		default:
			_, _ = io.WriteString(w, "usage: set server <backend>/<server> addr | check-port | state | weight\n")
		}
	}
	return true
}
