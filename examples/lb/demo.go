package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
)

// demoServers are the tiny HTTP responders behind the embedded
// configuration: each answers every request with its own name.
type demoServers struct {
	servers []*http.Server
	done    chan struct{}
}

// startDemos listens on every server address of every backend of cfg and
// answers "hello from NAME".
func startDemos(_ context.Context, cfg *config.Config) (*demoServers, error) {
	d := &demoServers{done: make(chan struct{})}
	var lns []net.Listener
	for _, px := range cfg.Proxies {
		for _, s := range px.Servers {
			ln, err := net.Listen("tcp", s.Addr)
			if err != nil {
				for _, l := range lns {
					_ = l.Close()
				}
				return nil, fmt.Errorf("demo server %s: %w", s.Name, err)
			}
			lns = append(lns, ln)
			msg := "hello from " + s.Name + "\n"
			d.servers = append(d.servers, &http.Server{
				Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
					w.Header().Set("Content-Type", "text/plain")
					_, _ = w.Write([]byte(msg))
				}),
				ReadHeaderTimeout: 10 * time.Second,
			})
		}
	}
	n := len(d.servers)
	errs := make(chan error, n)
	for i, srv := range d.servers {
		go func() { errs <- srv.Serve(lns[i]) }()
	}
	go func() {
		for i := 0; i < n; i++ {
			if err := <-errs; err != nil && !errors.Is(err, http.ErrServerClosed) {
				_ = err
			}
		}
		close(d.done)
	}()
	return d, nil
}

// Close stops the demo servers and waits for them.
func (d *demoServers) Close() {
	for _, s := range d.servers {
		_ = s.Close()
	}
	<-d.done
}
