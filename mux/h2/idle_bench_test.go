package h2

import (
	"bufio"
	"bytes"
	"context"
	stdtls "crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/internal/testcert"
	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/proxyblocks/proxyblocks/mux"
	"github.com/proxyblocks/proxyblocks/mux/htx"
	"github.com/proxyblocks/proxyblocks/xprt"
)

// The environment of the client process BenchmarkIdleConn starts: the
// server's address, how many connections to open, and "1" for TLS.
// With H2_IDLE_CLIENT_BIG "1", the request carries a body of
// idleBigRequest bytes and the answer one of idleBigAnswer.
const (
	idleClientAddr  = "H2_IDLE_CLIENT_ADDR"
	idleClientConns = "H2_IDLE_CLIENT_CONNS"
	idleClientTLS   = "H2_IDLE_CLIENT_TLS"
	idleClientBig   = "H2_IDLE_CLIENT_BIG"
	idleBigRequest  = 40 << 10
	idleBigAnswer   = 64 << 10
)

// BenchmarkIdleConn reports what an idle HTTP/2 client connection costs
// the front side once it has had one answer: the live heap, the goroutine
// stacks and the goroutines, after a collection, per connection, and the
// share of connections whose reader is parked in the shared idle poller.
// The clients are Go's HTTP/2 client (one connection each) in a process
// of their own, so the figures are the server side's alone; streams are
// accepted through AcceptNotify, so no goroutine waits in Accept. The
// -bodies runs send a request body and answer with one, in frames as
// large as the protocol's default allows, before the connection idles.
//
//	go test -run '^$' -bench IdleConn -benchtime 2000x ./mux/h2
func BenchmarkIdleConn(b *testing.B) {
	b.Run("cleartext", func(b *testing.B) { benchIdleConn(b, false, false) })
	b.Run("tls", func(b *testing.B) { benchIdleConn(b, true, false) })
	b.Run("cleartext-bodies", func(b *testing.B) { benchIdleConn(b, false, true) })
	b.Run("tls-bodies", func(b *testing.B) { benchIdleConn(b, true, true) })
}

func benchIdleConn(b *testing.B, useTLS, big bool) {
	var tlsCfg *stdtls.Config
	if useTLS {
		cert := testcert.SelfSigned(b, "127.0.0.1").Certificate
		tlsCfg = &stdtls.Config{Certificates: []stdtls.Certificate{cert}, NextProtos: []string{"h2"}}
	}
	ln := testnet.Listen(b)
	var mu sync.Mutex
	var muxes []*Mux
	stop := testnet.Accept(ln, func(c net.Conn) {
		handle := hello
		if big {
			handle = bigAnswer
		}
		m := serveNotified(c, tlsCfg, handle)
		if m != nil {
			mu.Lock()
			muxes = append(muxes, m)
			mu.Unlock()
		}
	})
	defer func() {
		_ = ln.Close()
		mu.Lock()
		for _, m := range muxes {
			_ = m.Close()
		}
		mu.Unlock()
		stop()
	}()
	mem := testnet.MemAfterGC
	h0, s0 := mem()
	g0, p0 := runtime.NumGoroutine(), xprt.Parked()
	b.ResetTimer()
	cmd := exec.Command(os.Args[0], "-test.run=^TestIdleConnClient$")
	flag := func(on bool) string {
		if on {
			return "1"
		}
		return "0"
	}
	cmd.Env = append(os.Environ(), idleClientAddr+"="+ln.Addr().String(),
		idleClientConns+"="+strconv.Itoa(b.N), idleClientTLS+"="+flag(useTLS), idleClientBig+"="+flag(big))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = stdin.Close() // the client closes its connections and exits
		_ = cmd.Wait()
	}()
	sc := bufio.NewScanner(stdout)
	ready := false
	for sc.Scan() {
		if sc.Text() == "ready" {
			ready = true
			break
		}
	}
	if !ready {
		b.Fatal("the client process did not open its connections")
	}
	b.StopTimer()
	// Wait for the readers to park (at most a few seconds: a reader that
	// cannot park never does), and for the flushers to end.
	for end := time.Now().Add(5 * time.Second); xprt.Parked()-p0 < b.N && time.Now().Before(end); {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	h1, s1 := mem()
	g1, p1 := runtime.NumGoroutine(), xprt.Parked()
	b.ReportMetric(float64(int64(h1)-int64(h0))/float64(b.N), "heapB/conn")
	b.ReportMetric(float64(int64(s1)-int64(s0))/float64(b.N), "stackB/conn")
	b.ReportMetric(float64(g1-g0)/float64(b.N), "goroutines/conn")
	b.ReportMetric(float64(p1-p0)/float64(b.N), "parked/conn")
}

// bigAnswer reads the request body and answers with idleBigAnswer bytes.
func bigAnswer(s *Stream) {
	_, _ = io.Copy(io.Discard, s)
	var resp htx.Message
	resp.SetResponse(200, "")
	resp.Flags |= htx.FlagContentLength
	resp.ContentLength = idleBigAnswer
	if s.WriteResponse(&resp) != nil {
		return
	}
	if _, err := s.Write(make([]byte, idleBigAnswer)); err != nil {
		return
	}
	_ = s.Finish(nil)
}

// serveNotified serves c with a front-side mux (over TLS when tlsCfg is
// set) whose streams are accepted from AcceptNotify, on a goroutine that
// ends once none is ready, and answered by handle.
func serveNotified(c net.Conn, tlsCfg *stdtls.Config, handle func(*Stream)) *Mux {
	var t xprt.Transport = xprt.NewRaw(c)
	if tlsCfg != nil {
		var err error
		if t, err = xprt.New("tls", c, tlsCfg, false); err != nil {
			_ = c.Close()
			return nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = t.Handshake(ctx)
		cancel()
		if err != nil {
			_ = t.Close()
			return nil
		}
	}
	m, err := New(t, mux.SideFront, Config{})
	if err != nil {
		return nil
	}
	done, cancel := context.WithCancel(context.Background())
	cancel() // Accept only takes what is ready
	var notified func()
	acceptReady := func() {
		for {
			st, err := m.Accept(done)
			if err == nil {
				handle(st.(*Stream))
				_ = st.Close()
				continue
			}
			if !errors.Is(err, context.Canceled) || m.AcceptNotify(notified) {
				return
			}
		}
	}
	notified = func() { go acceptReady() }
	if !m.AcceptNotify(notified) {
		go acceptReady()
	}
	return m
}

// TestIdleConnClient is the client process of BenchmarkIdleConn, and is
// skipped otherwise: it opens the connections its environment asks for,
// one GET on each, says "ready" and holds them until its input ends.
func TestIdleConnClient(t *testing.T) {
	addr := os.Getenv(idleClientAddr)
	if addr == "" {
		t.Skip("the client process of BenchmarkIdleConn")
	}
	n, err := strconv.Atoi(os.Getenv(idleClientConns))
	if err != nil {
		t.Fatal(err)
	}
	useTLS, big := os.Getenv(idleClientTLS) == "1", os.Getenv(idleClientBig) == "1"
	trs := make([]*http.Transport, 0, n)
	for i := 0; i < n; i++ {
		tr, err := idleRequest(addr, useTLS, big)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		trs = append(trs, tr)
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	for _, tr := range trs {
		tr.CloseIdleConnections()
	}
}

// idleRequest makes a client of its own, so a connection of its own,
// sends one request over HTTP/2 (after ALPN h2 when useTLS is set, the
// certificate unchecked; with prior knowledge otherwise) and reads the
// answer: a GET answered with hello, or with big a POST of
// idleBigRequest bytes answered with idleBigAnswer.
func idleRequest(addr string, useTLS, big bool) (*http.Transport, error) {
	var p http.Protocols
	tr := &http.Transport{Protocols: &p}
	url := "http://" + addr + "/"
	if useTLS {
		p.SetHTTP2(true)
		tr.TLSClientConfig = &stdtls.Config{InsecureSkipVerify: true}
		url = "https://" + addr + "/"
	} else {
		p.SetUnencryptedHTTP2(true)
	}
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var resp *http.Response
	var err error
	if big {
		resp, err = c.Post(url, "application/octet-stream", bytes.NewReader(make([]byte, idleBigRequest)))
	} else {
		resp, err = c.Get(url)
	}
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if big && resp.ProtoMajor == 2 && len(body) == idleBigAnswer {
		return tr, nil
	}
	if resp.ProtoMajor != 2 || strings.TrimSpace(string(body)) != "hello" {
		return nil, fmt.Errorf("answered %q over %s", body, resp.Proto)
	}
	return tr, nil
}
