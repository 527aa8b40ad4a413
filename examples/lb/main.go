// Command lb is the reference balancer: it runs HAProxy-syntax configuration
// files (TCP mode) with the proxyblocks building blocks.
//
//	lb [-f FILE]... [-c] [-d] [-L NAME] [-W | -Ws]
//
// -f reads a configuration file (several are read in order), -c only checks
// the configuration, -d logs debug messages to stderr, -L names the local
// peer. Without -f it runs an embedded demo configuration: a frontend on
// 127.0.0.1:8080 balancing two demo servers started in the same process.
//
// SIGTERM and SIGINT stop at once (listeners and connections closed);
// SIGUSR1 stops accepting and exits once live connections have finished.
// -W (or "master-worker" in the global section) is HAProxy's master-worker
// mode: SIGUSR2 and SIGHUP reload the files in place, handing the
// listening sockets to the new configuration, and the "program" sections
// run; -Ws also notifies systemd through $NOTIFY_SOCKET.
// With "daemon" in the global section, lb runs in the background and the
// command returns once it listens (-d keeps it in the foreground).
package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/balancer"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
)

//go:embed default.cfg
var defaultConfig []byte

// defaultConfigName is how errors and logs name the embedded configuration.
const defaultConfigName = "default.cfg"

type fileList []string

func (f *fileList) String() string     { return strings.Join(*f, ",") }
func (f *fileList) Set(v string) error { *f = append(*f, v); return nil }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	// A daemon's background copy reports its start to the process that
	// started it: what it prints on stderr until it listens goes there too.
	report := openStartReport()
	defer report.close()
	if report.background() {
		stderr = io.MultiWriter(stderr, report)
	}
	fs := flag.NewFlagSet("lb", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var files fileList
	fs.Var(&files, "f", "configuration `file` (repeatable, read in order)")
	check := fs.Bool("c", false, "check the configuration and exit")
	debug := fs.Bool("d", false, "debug: verbose logs to stderr")
	localPeer := fs.String("L", "", "local peer `name` in the peers sections (default: 'localpeer', else the host name)")
	mwFlag := fs.Bool("W", false, "master-worker mode: SIGUSR2 and SIGHUP reload the configuration, program sections run")
	mwSystemd := fs.Bool("Ws", false, "master-worker mode with systemd notifications on $NOTIFY_SOCKET")
	if err := fs.Parse(args); err != nil {
		return 1
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "lb: unexpected argument %q\n", fs.Arg(0))
		return 1
	}
	level := slog.LevelWarn
	if *debug {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	cfg, err := loadConfig(files, *localPeer)
	mw := *mwFlag || *mwSystemd
	if err == nil {
		mw = mw || cfg.Global.MasterWorker
		cfg.Global.MasterWorker = mw
		if len(cfg.Programs) > 0 && !mw {
			err = haproxyMessage("config : Can't use a 'program' section without master worker mode.")
		}
	}
	if err == nil && *check {
		// -c also compiles the rules, as the start would.
		err = balancer.Check(cfg)
	}
	if err != nil {
		printAlerts(stderr, err)
		if *check {
			fmt.Fprintln(stderr, "Fatal errors found in configuration.")
		}
		return 1
	}
	if !cfg.Global.Quiet || *check {
		for _, n := range cfg.Notices {
			fmt.Fprintf(stderr, "[NOTICE] %s\n", n)
		}
		for _, w := range cfg.Warnings {
			fmt.Fprintf(stderr, "[WARNING] %s\n", w)
		}
	}
	if cfg.Global.ZeroWarning && len(cfg.Warnings) > 0 {
		// As HAProxy's zero-warning: a warning stops the start.
		fmt.Fprintln(stderr, "[ALERT] Some warnings were found and 'zero-warning' is set. Aborting.")
		return 1
	}
	if !cfg.HasListener() {
		// As HAProxy: nothing to listen on, nothing to start.
		if *check {
			fmt.Fprintln(stdout, "Configuration file has no error but will not start (no listener) => exit(2).")
			return 2
		}
		fmt.Fprintln(stderr, "[ALERT] No enabled listener found (check for 'bind' directives) ! Exiting.")
		return 1
	}
	if *check {
		fmt.Fprintln(stdout, "Configuration file is valid")
		return 0
	}
	// As HAProxy's -d, debug keeps a daemon in the foreground.
	if cfg.Global.Daemon && !*debug && !report.background() {
		return daemonize(args, stderr)
	}
	if err := applyProcessSettings(cfg.Global, stderr, false); err != nil {
		fmt.Fprintf(stderr, "[ALERT] %v\n", err)
		return 1
	}

	// Listen for the stop signals before anything accepts: a client may
	// connect, and an operator signal the process, the moment the first
	// listener is up, and an unregistered SIGUSR1 would be dropped.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGUSR1)
	if mw {
		// Reloads, as HAProxy's master takes them.
		signal.Notify(sigs, syscall.SIGUSR2, syscall.SIGHUP)
	}
	defer signal.Stop(sigs)

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	if len(files) == 0 {
		demos, err := startDemos(ctx, cfg)
		if err != nil {
			fmt.Fprintf(stderr, "[ALERT] demo servers: %v\n", err)
			return 1
		}
		defer demos.Close()
	}
	b, err := balancer.Start(ctx, cfg, balancer.Options{Logger: logger, Stdout: stdout, Stderr: stderr})
	if err != nil {
		fmt.Fprintf(stderr, "[ALERT] %v\n", err)
		return 1
	}
	if err := settle(cfg.Global, stderr); err != nil {
		fmt.Fprintf(stderr, "[ALERT] %v\n", err)
		_ = b.Close()
		return 1
	}
	report.ready()
	if mw {
		m := &master{files: files, localPeer: *localPeer, stdout: stdout, stderr: stderr, logger: logger, cfg: cfg}
		return runMaster(m, b, sigs)
	}
	sig := <-sigs
	if sig == syscall.SIGUSR1 {
		logger.Info("soft stop: no longer accepting, waiting for connections to end")
		// A second signal turns the soft stop into a hard one, as does
		// hard-stop-after once its time is up.
		sctx, cancel := context.WithCancel(ctx)
		if d := cfg.Global.HardStopAfter; d > 0 {
			var stopAfter context.CancelFunc
			sctx, stopAfter = context.WithTimeout(sctx, d)
			defer stopAfter()
		}
		go func() {
			select {
			case <-sigs:
				cancel()
			case <-sctx.Done():
			}
		}()
		err := b.Shutdown(sctx)
		cancel()
		if err != nil && !errors.Is(err, context.Canceled) {
			logger.Warn("soft stop", "err", err)
		}
		return 0
	}
	logger.Info("stopping", "signal", sig.String())
	_ = b.Close()
	return 0
}

// applyProcessSettings sets what the global section asks of the process:
// set-dumpable, its threads (nbthread), its CPUs (cpu-map) and its open
// file limit (ulimit-n), at start and again on each master-worker reload,
// as HAProxy's new worker takes them from the new configuration. What
// cannot be applied is a warning, or, for a limit strict-limits requires,
// the error returned.
func applyProcessSettings(g config.Global, stderr io.Writer, reload bool) error {
	if g.SetDumpable {
		if err := setDumpable(); err != nil {
			fmt.Fprintf(stderr, "[WARNING] set-dumpable: %v\n", err)
		}
	}
	switch {
	case g.NbThread > 0:
		runtime.GOMAXPROCS(g.NbThread)
	case reload && os.Getenv("GOMAXPROCS") == "":
		// A reload that drops nbthread goes back to every CPU.
		runtime.SetDefaultGOMAXPROCS()
	}
	if cpus := g.CPUs; len(cpus) > 0 {
		if err := bindCPUs(cpus); err != nil {
			fmt.Fprintf(stderr, "[WARNING] %v\n", err)
		}
	}
	if n := g.UlimitN; n > 0 {
		if err := setFileLimit(n); err != nil {
			if g.StrictLimits {
				// As HAProxy's strict-limits: a limit not met stops the start.
				return fmt.Errorf("%w (strict-limits)", err)
			}
			fmt.Fprintf(stderr, "[WARNING] %v\n", err)
		}
	}
	return nil
}
