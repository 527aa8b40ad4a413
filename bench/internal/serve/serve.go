// Package serve holds the accept loop the bench tools share.
package serve

import (
	"errors"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Until runs handle on a goroutine for every connection ln accepts, until
// SIGTERM or SIGINT closes ln; then it returns nil. A failed accept other
// than the close (out of descriptors, say) is retried after a pause.
func Until(ln net.Listener, handle func(net.Conn)) error {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sig)
	go func() {
		<-sig
		_ = ln.Close()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		go handle(c)
	}
}
