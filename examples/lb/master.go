package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/balancer"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
)

// Master-worker mode (-W, -Ws, "master-worker"): HAProxy's master process
// and its workers, inside lb's one process. The running Balancer plays
// the worker; a reload starts a new Balancer on the sockets of the old
// one, which then stops softly, as an old worker does; the "program"
// sections run as the master's children.

// master runs lb in master-worker mode.
type master struct {
	files     []string
	localPeer string
	stdout    io.Writer
	stderr    io.Writer
	logger    *slog.Logger

	cfg *config.Config
	cur *balancer.Balancer

	// hardCtx ends every soft stop at once (a hard stop, or
	// exit-on-failure); bwg counts the Balancers stopping.
	hardCtx  context.Context
	hardStop context.CancelFunc
	bwg      sync.WaitGroup

	progs    map[*program]struct{} // running, current and former
	exits    chan programExit
	exitCode int // the first failure's code, -1 for none
	stopping bool
	// stopped is closed once every Balancer has stopped, after stopping.
	stopped chan struct{}
	soft    bool // the stop under way is a soft one
}

// runMaster serves cfg, already running on b, in master-worker mode until
// a stop: it starts the programs, reloads on SIGUSR2 and SIGHUP, and
// returns the exit code HAProxy's master would.
func runMaster(m *master, b *balancer.Balancer, sigs <-chan os.Signal) int {
	m.cur = b
	m.exitCode = -1
	m.progs = map[*program]struct{}{}
	m.exits = make(chan programExit)
	m.hardCtx, m.hardStop = context.WithCancel(context.Background())
	defer m.hardStop()
	for _, pr := range m.cfg.Programs {
		m.progs[startProgram(pr, m.stdout, m.stderr, m.exits)] = struct{}{}
	}
	fmt.Fprintln(m.stderr, "[NOTICE] Loading success.")
	sdNotify(fmt.Sprintf("READY=1\nMAINPID=%d", os.Getpid()))
	for {
		select {
		case sig := <-sigs:
			m.signal(sig.(syscall.Signal))
		case e := <-m.exits:
			m.programExited(e)
		case <-m.stopped:
			m.stopped = nil
		}
		if m.stopping && m.stopped == nil && len(m.progs) == 0 {
			code := max(m.exitCode, 0)
			fmt.Fprintf(m.stderr, "[WARNING] All workers exited. Exiting... (%d)\n", code)
			return code
		}
	}
}

// signal handles one of the signals lb listens for.
func (m *master) signal(sig syscall.Signal) {
	switch sig {
	case syscall.SIGUSR2, syscall.SIGHUP:
		if !m.stopping {
			m.reload()
		}
	case syscall.SIGUSR1:
		if m.stopping {
			// A second stop signal turns a soft stop into a hard one.
			m.killAll(syscall.SIGTERM)
			return
		}
		m.stop(sig, true)
	default: // SIGTERM, SIGINT
		if m.stopping && m.soft {
			m.killAll(sig)
			return
		}
		m.stop(sig, false)
	}
}

// stop stops everything: the programs get sig, as HAProxy's master
// passes its stop signal on; the Balancer stops softly (soft) or at once.
func (m *master) stop(sig syscall.Signal, soft bool) {
	fmt.Fprintln(m.stderr, "[WARNING] Exiting Master process...")
	sdNotify("STOPPING=1")
	m.stopping, m.soft = true, soft
	for p := range m.progs {
		p.signal(sig)
	}
	if soft {
		m.retire(m.cur, m.cfg.Global.HardStopAfter)
	} else {
		m.hardStop()
		m.retire(m.cur, 0)
	}
	m.waitStopped()
}

// killAll stops everything at once: every program gets sig, every
// Balancer closes.
func (m *master) killAll(sig syscall.Signal) {
	for p := range m.progs {
		p.signal(sig)
	}
	// A Balancer already stopping softly ends at once.
	m.hardStop()
	if !m.stopping {
		m.stopping = true
		m.retire(m.cur, 0)
		m.waitStopped()
	}
}

// waitStopped closes m.stopped once every Balancer has stopped.
func (m *master) waitStopped() {
	m.stopped = make(chan struct{})
	stopped := m.stopped
	go func() {
		m.bwg.Wait()
		close(stopped)
	}()
}

// retire stops b softly in the background, within hardStopAfter when
// set, and at once when hardCtx ends.
func (m *master) retire(b *balancer.Balancer, hardStopAfter time.Duration) {
	ctx := m.hardCtx
	m.bwg.Add(1)
	go func() {
		defer m.bwg.Done()
		if hardStopAfter > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, hardStopAfter)
			defer cancel()
		}
		if ctx.Err() != nil {
			_ = b.Close()
			return
		}
		if err := b.Shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, balancer.ErrClosed) {
			m.logger.Warn("soft stop", "err", err)
		}
	}()
}

// programExited reports a program's end as HAProxy's master does, and
// applies exit-on-failure.
func (m *master) programExited(e programExit) {
	delete(m.progs, e.p)
	if e.p.former {
		fmt.Fprintf(m.stderr, "[WARNING] Former program '%s' (%d) exited with code %d (%s)\n", e.p.name, e.p.pid, e.status, exitReason(e.status))
		return
	}
	fmt.Fprintf(m.stderr, "[ALERT] Current program '%s' (%d) exited with code %d (%s)\n", e.p.name, e.p.pid, e.status, exitReason(e.status))
	// 0 and SIGTERM's 143 are normal ends; SIGINT's 130 does not stop
	// the others but is the exit code.
	if e.status != 0 && e.status != 130 && e.status != 143 && !m.cfg.Global.NoExitOnFailure {
		fmt.Fprintln(m.stderr, "[ALERT] exit-on-failure: killing every processes with SIGTERM")
		m.killAll(syscall.SIGTERM)
	}
	if m.exitCode < 0 && e.status != 0 && e.status != 143 {
		m.exitCode = e.status
	}
}

// reload reads the configuration files again and, when they are valid
// and the new Balancer starts, replaces the running one: the new one
// takes over the listening sockets, the programs start again (those with
// start-on-reload), and the old Balancer stops softly. Otherwise the
// running configuration keeps serving.
func (m *master) reload() {
	fmt.Fprintln(m.stderr, "[NOTICE] Reloading HAProxy")
	sdNotify("RELOADING=1")
	defer sdNotify(fmt.Sprintf("READY=1\nMAINPID=%d", os.Getpid()))
	cfg, err := loadConfig(m.files, m.localPeer)
	if err == nil {
		err = balancer.Check(cfg)
	}
	if err == nil && !cfg.HasListener() {
		err = haproxyMessage("No enabled listener found (check for 'bind' directives) !")
	}
	if err != nil {
		printAlerts(m.stderr, err)
		fmt.Fprintln(m.stderr, "[ALERT] Fatal errors found in configuration.")
		fmt.Fprintln(m.stderr, "[WARNING] Loading failure!")
		return
	}
	if !cfg.Global.Quiet {
		for _, w := range cfg.Warnings {
			fmt.Fprintf(m.stderr, "[WARNING] %s\n", w)
		}
	}
	if cfg.Global.ZeroWarning && len(cfg.Warnings) > 0 {
		// As HAProxy's master: the new configuration is refused, the
		// running one keeps serving.
		fmt.Fprintln(m.stderr, "[ALERT] Some warnings were found and 'zero-warning' is set. Aborting.")
		fmt.Fprintln(m.stderr, "[WARNING] Loading failure!")
		return
	}
	if err := applyProcessSettings(cfg.Global, m.stderr, true); err != nil {
		printAlerts(m.stderr, err)
		fmt.Fprintln(m.stderr, "[WARNING] Loading failure!")
		return
	}
	h, err := m.cur.Handover()
	var b *balancer.Balancer
	if err == nil {
		b, err = balancer.Start(context.Background(), cfg, balancer.Options{Logger: m.logger, Stdout: m.stdout, Stderr: m.stderr, Inherit: h})
		_ = h.Close()
	}
	if err != nil {
		printAlerts(m.stderr, err)
		fmt.Fprintln(m.stderr, "[WARNING] Loading failure!")
		return
	}
	var former []*program
	for p := range m.progs {
		if !p.former {
			p.former = true
			former = append(former, p)
		}
	}
	for _, pr := range cfg.Programs {
		if pr.StartOnReload {
			m.progs[startProgram(pr, m.stdout, m.stderr, m.exits)] = struct{}{}
		}
	}
	fmt.Fprintln(m.stderr, "[NOTICE] Loading success.")
	// The previous programs are told to leave with SIGUSR1, as HAProxy's
	// new worker tells every former process; those without
	// start-on-reload are not started again.
	for _, p := range former {
		p.signal(syscall.SIGUSR1)
	}
	m.retire(m.cur, m.cfg.Global.HardStopAfter)
	m.cur, m.cfg = b, cfg
}

// loadConfig parses the configuration files (the embedded one without)
// as a start does, with the local peer name and the servers' addresses
// settled.
func loadConfig(files []string, localPeer string) (*config.Config, error) {
	var cfg *config.Config
	var err error
	if len(files) == 0 {
		cfg, err = config.Parse(config.Source{Name: defaultConfigName, Data: defaultConfig})
	} else {
		cfg, err = config.ParseFiles(files...)
	}
	if err != nil {
		return nil, err
	}
	if err := cfg.SetLocalPeer(localPeer); err != nil {
		return nil, err
	}
	// Server host names are resolved once, now, as haproxy resolves
	// them at start (and with -c).
	if err := cfg.Resolve(context.Background(), config.SystemLookup); err != nil {
		return nil, err
	}
	return cfg, nil
}

// haproxyMessage is an error worded as HAProxy words it, capital and
// full stop included.
type haproxyMessage string

func (m haproxyMessage) Error() string { return string(m) }

// printAlerts prints an error, one [ALERT] line per line of it.
func printAlerts(w io.Writer, err error) {
	for _, line := range strings.Split(err.Error(), "\n") {
		fmt.Fprintf(w, "[ALERT] %s\n", line)
	}
}
