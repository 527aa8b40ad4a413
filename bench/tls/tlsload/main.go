// Command tlsload is the client side of the TLS proxy benchmark: it runs
// TLS handshakes against a proxy as fast as the proxy answers (full, or
// resumed from one session), or holds many idle TLS connections open.
//
//	tlsload hs -addr 127.0.0.1:8443 -workers 32 -duration 5s [-resume]
//	tlsload idle -addr 127.0.0.1:8443 -conns 9800 -ready /tmp/ready
//
// The client offers X25519 only, so that a proxy on crypto/tls and one on
// OpenSSL 3.0 (which lacks the hybrid ML-KEM group) do the same key
// exchange, and skips chain verification (the proxy's signature is still
// checked, as TLS requires).
package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: tlsload hs|idle [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "hs":
		err = handshakes(os.Args[2:])
	case "idle":
		err = idle(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tlsload:", err)
		os.Exit(1)
	}
}

func clientConfig(version uint16) *tls.Config {
	return &tls.Config{
		InsecureSkipVerify: true,
		ServerName:         "bench.example.org",
		CurvePreferences:   []tls.CurveID{tls.X25519},
		MinVersion:         version,
		MaxVersion:         version,
	}
}

func parseVersion(s string) (uint16, error) {
	switch s {
	case "1.2":
		return tls.VersionTLS12, nil
	case "1.3":
		return tls.VersionTLS13, nil
	}
	return 0, fmt.Errorf("unknown TLS version %q (1.2 or 1.3)", s)
}

// fixedSession is a client session cache that always offers one session
// and keeps no new ones, so that every connection resumes the same way.
type fixedSession struct{ s *tls.ClientSessionState }

func (f *fixedSession) Get(string) (*tls.ClientSessionState, bool) { return f.s, f.s != nil }
func (f *fixedSession) Put(string, *tls.ClientSessionState)        {}

// recorder keeps the first session the server hands out.
type recorder struct {
	mu sync.Mutex
	s  *tls.ClientSessionState
}

func (r *recorder) Get(string) (*tls.ClientSessionState, bool) { return nil, false }
func (r *recorder) Put(_ string, s *tls.ClientSessionState) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.s == nil && s != nil {
		r.s = s
	}
}

// prime makes one full handshake and waits for the session ticket,
// trying again a few times: on a loaded machine the ticket may come late.
func prime(addr string, cfg *tls.Config) (*tls.ClientSessionState, error) {
	var err error
	for range 5 {
		var s *tls.ClientSessionState
		if s, err = primeOnce(addr, cfg); err == nil {
			return s, nil
		}
	}
	return nil, err
}

func primeOnce(addr string, cfg *tls.Config) (*tls.ClientSessionState, error) {
	rec := &recorder{}
	c := cfg.Clone()
	c.ClientSessionCache = rec
	conn, err := tls.Dial("tcp", addr, c)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	// TLS 1.3 tickets come after the handshake: a read processes them,
	// and times out as the sink sends nothing.
	_ = conn.SetReadDeadline(time.Now().Add(time.Second))
	_, _ = conn.Read(make([]byte, 1))
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.s == nil {
		return nil, errors.New("the server issued no session ticket")
	}
	return rec.s, nil
}

func handshakes(args []string) error {
	fs := flag.NewFlagSet("hs", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:8443", "proxy address")
	workers := fs.Int("workers", 32, "concurrent handshakes")
	dur := fs.Duration("duration", 5*time.Second, "how long to run")
	warm := fs.Duration("warmup", time.Second, "untimed run first")
	resume := fs.Bool("resume", false, "resume one session instead of full handshakes")
	ver := fs.String("tls", "1.3", "TLS version: 1.2 or 1.3")
	_ = fs.Parse(args)
	v, err := parseVersion(*ver)
	if err != nil {
		return err
	}
	cfg := clientConfig(v)
	if *resume {
		s, err := prime(*addr, cfg)
		if err != nil {
			return fmt.Errorf("priming a session: %w", err)
		}
		cfg.ClientSessionCache = &fixedSession{s}
	} else {
		cfg.SessionTicketsDisabled = true
	}
	var done, failed, resumed atomic.Int64
	var counting atomic.Bool
	var stop atomic.Bool
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for range *workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := net.Dialer{Timeout: 5 * time.Second}
			for !stop.Load() {
				raw, err := d.Dial("tcp", *addr)
				if err == nil {
					c := tls.Client(raw, cfg)
					_ = c.SetDeadline(time.Now().Add(10 * time.Second))
					err = c.Handshake()
					_ = c.Close()
					// One look at the flag per handshake, so done and
					// resumed count the same handshakes.
					if counting.Load() && err == nil {
						done.Add(1)
						if c.ConnectionState().DidResume {
							resumed.Add(1)
						}
					}
				}
				if err != nil && counting.Load() {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
			}
		}()
	}
	time.Sleep(*warm)
	counting.Store(true)
	t0 := time.Now()
	time.Sleep(*dur)
	counting.Store(false)
	el := time.Since(t0)
	n, f, r := done.Load(), failed.Load(), resumed.Load()
	stop.Store(true)
	wg.Wait()
	fmt.Printf("handshakes=%d failed=%d resumed=%d seconds=%.2f rate=%.0f\n", n, f, r, el.Seconds(), float64(n)/el.Seconds())
	if e := firstErr.Load(); e != nil {
		fmt.Fprintln(os.Stderr, "tlsload: first error:", e)
	}
	if *resume && r < n {
		return fmt.Errorf("%d of %d handshakes did not resume", n-r, n)
	}
	return nil
}

// idle opens -conns TLS connections, sends one byte on each (so the
// proxy has connected to its server), touches -ready and holds them
// until SIGTERM.
func idle(args []string) error {
	fs := flag.NewFlagSet("idle", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:8443", "proxy address")
	n := fs.Int("conns", 1000, "connections to hold")
	ready := fs.String("ready", "", "file to create once every connection is open")
	par := fs.Int("workers", 16, "connections opened at once")
	_ = fs.Parse(args)
	cfg := clientConfig(tls.VersionTLS13)
	cs := make([]*tls.Conn, *n)
	var next atomic.Int64
	errs := make(chan error, *par)
	for range *par {
		go func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= *n {
					errs <- nil
					return
				}
				c, err := tls.Dial("tcp", *addr, cfg)
				if err == nil {
					_, err = c.Write([]byte{'x'})
				}
				if err != nil {
					errs <- fmt.Errorf("connection %d: %w", i, err)
					return
				}
				cs[i] = c
			}
		}()
	}
	for range *par {
		if err := <-errs; err != nil {
			return err
		}
	}
	// Give the proxy time to connect every one of them to the sink.
	time.Sleep(2 * time.Second)
	if *ready != "" {
		if err := os.WriteFile(*ready, []byte("ok\n"), 0o644); err != nil {
			return err
		}
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	for _, c := range cs {
		_ = c.Close()
	}
	return nil
}
