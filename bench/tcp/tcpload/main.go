// Command tcpload is the traffic side of the TCP proxy benchmark: a sink
// that discards what it receives, a pusher that sends a fixed amount through
// a proxy, and an idler that holds many connections open.
//
//	tcpload sink -listen 127.0.0.1:9000 [-splice]
//	tcpload push -addr 127.0.0.1:8000 -bytes 1073741824 -conns 4
//	tcpload idle -addr 127.0.0.1:8000 -conns 9900 -ready /tmp/ready [-http|-h2] [-tls]
package main

import (
	"bufio"
	"crypto/tls"
	"flag"
	"fmt"
	"hash/adler32"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/proxyblocks/proxyblocks/bench/internal/serve"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: tcpload sink|push|idle [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "sink":
		err = sink(os.Args[2:])
	case "push":
		err = push(os.Args[2:])
	case "idle":
		err = idle(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tcpload:", err)
		os.Exit(1)
	}
}

// sink accepts connections and discards their bytes until the peer closes,
// then closes: the proxy sees a clean end on both sides. It reads -rsize
// bytes per call; with -sum it also folds them into an Adler-32 checksum,
// the work per byte of a client that uses what it receives (the sum itself
// is not kept). With -splice the bytes go through a pipe into /dev/null
// and are never copied to user space: the sink's share of the load core
// drops to the TCP receive path.
func sink(args []string) error {
	fs := flag.NewFlagSet("sink", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:9000", "listen address")
	splice := fs.Bool("splice", false, "discard through splice(2) into /dev/null instead of read(2)")
	rsize := fs.Int("rsize", 256<<10, "bytes per read call")
	sum := fs.Bool("sum", false, "fold every byte read into an Adler-32 checksum")
	_ = fs.Parse(args)
	if *rsize <= 0 {
		return fmt.Errorf("sink: -rsize %d: must be positive", *rsize)
	}
	var null *os.File
	if *splice {
		var err error
		if null, err = os.OpenFile(os.DevNull, os.O_WRONLY, 0); err != nil {
			return err
		}
		defer null.Close()
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	return serve.Until(ln, func(c net.Conn) {
		defer c.Close()
		if null != nil {
			if err := spliceTo(null, c.(*net.TCPConn)); err != nil {
				fmt.Fprintln(os.Stderr, "tcpload: sink:", err)
			}
			return
		}
		buf := make([]byte, *rsize)
		h := adler32.New()
		for {
			n, err := c.Read(buf)
			if *sum {
				h.Write(buf[:n])
			}
			if err != nil {
				return
			}
		}
	})
}

// spliceChunk is the most spliceTo moves per call, and its pipe's size.
const spliceChunk = 1 << 20

// spliceTo moves c's bytes into out (the sink's /dev/null) through a pipe
// of its own, never through user space, until the peer closes (nil) or a
// call fails.
func spliceTo(out *os.File, c *net.TCPConn) error {
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		return err
	}
	defer syscall.Close(p[0])
	defer syscall.Close(p[1])
	// A larger pipe takes more per call; at the default 64 KiB it still works.
	_, _ = fcntl(p[1], syscall.F_SETPIPE_SZ, spliceChunk)
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	dst := int(out.Fd())
	for {
		var n int64
		var serr error
		err := rc.Read(func(fd uintptr) bool {
			n, serr = syscall.Splice(int(fd), nil, p[1], nil, spliceChunk, spliceNonblock|spliceMove)
			return serr != syscall.EAGAIN
		})
		if err != nil {
			return err
		}
		if serr != nil {
			return serr
		}
		if n == 0 {
			return nil
		}
		for n > 0 {
			m, err := syscall.Splice(p[0], nil, dst, nil, int(n), spliceMove)
			if err != nil {
				return err
			}
			if m == 0 {
				return io.ErrShortWrite
			}
			n -= m
		}
	}
}

// The splice(2) flags spliceTo uses (the syscall package has none).
const (
	spliceMove     = 0x1
	spliceNonblock = 0x2
)

// fcntl runs fcntl(2) with an integer argument.
func fcntl(fd, cmd, arg int) (int, error) {
	r, _, e := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), uintptr(cmd), uintptr(arg))
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// push sends -bytes in total over -conns connections at once, half-closes
// each and waits for the far end to close, then prints the elapsed time.
func push(args []string) error {
	fs := flag.NewFlagSet("push", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:8000", "proxy address")
	total := fs.Int64("bytes", 1<<30, "bytes to send in total")
	conns := fs.Int("conns", 4, "parallel connections")
	wsize := fs.Int("wsize", 256<<10, "bytes per write call")
	_ = fs.Parse(args)
	if *wsize <= 0 {
		return fmt.Errorf("push: -wsize %d: must be positive", *wsize)
	}
	per := *total / int64(*conns)
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, *conns)
	for i := 0; i < *conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", *addr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			buf := make([]byte, *wsize)
			left := per
			for left > 0 {
				n := int64(len(buf))
				if n > left {
					n = left
				}
				w, err := c.Write(buf[:n])
				if err != nil {
					errs <- err
					return
				}
				left -= int64(w)
			}
			_ = c.(*net.TCPConn).CloseWrite()
			_, _ = io.Copy(io.Discard, c)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return err
	}
	el := time.Since(start).Seconds()
	sent := per * int64(*conns)
	fmt.Printf("bytes=%d seconds=%.3f MiBps=%.1f\n", sent, el, float64(sent)/el/(1<<20))
	return nil
}

// idle opens -conns connections, sends one byte on each (so the proxy has
// connected to the server), touches -ready and holds them until SIGTERM.
// With -http each connection instead carries one HTTP/1.1 request and
// reads its answer, and is then held as an idle keep-alive connection;
// with -h2 the same over HTTP/2 with prior knowledge (one client, and so
// one connection, per request). With -tls every connection is TLS instead
// (the proxy's certificate is not checked), offering ALPN h2 with -h2 and
// http/1.1 with -http: the HTTP/2 connections are then negotiated, not of
// prior knowledge.
func idle(args []string) error {
	fs := flag.NewFlagSet("idle", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:8000", "proxy address")
	n := fs.Int("conns", 1000, "connections to hold")
	ready := fs.String("ready", "", "file to create once every connection is open")
	httpReq := fs.Bool("http", false, "send one HTTP/1.1 request on each connection and read its answer")
	h2 := fs.Bool("h2", false, "send one HTTP/2 request (prior knowledge) on each connection and read its answer")
	useTLS := fs.Bool("tls", false, "speak TLS on each connection (ALPN h2 with -h2, http/1.1 with -http)")
	_ = fs.Parse(args)
	cs := make([]net.Conn, 0, *n)
	var h2s []*http.Transport
	for i := 0; i < *n && *h2; i++ {
		tr, err := oneH2Request(*addr, *useTLS)
		if err != nil {
			return fmt.Errorf("connection %d: %w", i, err)
		}
		h2s = append(h2s, tr)
	}
	for i := 0; i < *n && !*h2; i++ {
		c, err := dialIdle(*addr, *useTLS, *httpReq)
		if err != nil {
			return fmt.Errorf("connection %d: %w", i, err)
		}
		if *httpReq {
			err = oneRequest(c)
		} else {
			_, err = c.Write([]byte{'x'})
		}
		if err != nil {
			return fmt.Errorf("connection %d: %w", i, err)
		}
		cs = append(cs, c)
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
	for _, tr := range h2s {
		tr.CloseIdleConnections()
	}
	return nil
}

// dialIdle opens a connection to addr, over TLS when useTLS is set
// (offering ALPN http/1.1 when httpReq is), with the handshake done.
func dialIdle(addr string, useTLS, httpReq bool) (net.Conn, error) {
	if !useTLS {
		return net.Dial("tcp", addr)
	}
	cfg := &tls.Config{InsecureSkipVerify: true}
	if httpReq {
		cfg.NextProtos = []string{"http/1.1"}
	}
	d := &tls.Dialer{Config: cfg}
	return d.Dial("tcp", addr)
}

// oneH2Request makes a client of its own, so a connection of its own, and
// sends one GET over HTTP/2: with prior knowledge, or over TLS after ALPN
// h2 when useTLS is set (the certificate is not checked). The connection
// stays open in the returned transport.
func oneH2Request(addr string, useTLS bool) (*http.Transport, error) {
	var p http.Protocols
	tr := &http.Transport{Protocols: &p}
	scheme := "http"
	if useTLS {
		p.SetHTTP2(true)
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
		scheme = "https"
	} else {
		p.SetUnencryptedHTTP2(true)
	}
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	resp, err := c.Get(scheme + "://" + addr + "/")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.ProtoMajor != 2 {
		return nil, fmt.Errorf("answered over %s, not HTTP/2", resp.Proto)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return tr, err
}

// oneRequest sends a GET on c and reads the whole answer, whose length
// Content-Length gives.
func oneRequest(c net.Conn) error {
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: bench\r\n\r\n"); err != nil {
		return err
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	defer func() { _ = c.SetReadDeadline(time.Time{}) }()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.ContentLength < 0 {
		return fmt.Errorf("answer %d without Content-Length", resp.StatusCode)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}
