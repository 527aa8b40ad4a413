package balancer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/proxyblocks/proxyblocks/conn"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
)

// proxyHeaderTimeout bounds how long a client on an accept-proxy bind may
// take to send its header; the PROXY specification suggests at least 3 s.
const proxyHeaderTimeout = 3 * time.Second

// listen opens one bind address. The frontend's maxconn is the listener's:
// at the cap it stops accepting and leaves clients in the backlog.
func (b *Balancer) listen(ctx context.Context, addr string, bind config.Bind, maxConn int) (*conn.Listener, error) {
	lc := conn.ListenConfig{
		MaxConn:          maxConn,
		AcceptProxy:      bind.AcceptProxy,
		HandshakeTimeout: proxyHeaderTimeout,
		Logger:           b.log,
	}
	return lc.Listen(ctx, "tcp", addr)
}

// dialer returns the dialer of a server: its source address, its PROXY
// protocol version and timeout connect.
func (b *Balancer) dialer(s *Server) (*conn.Dialer, error) {
	d := &conn.Dialer{Timeout: s.be.cfg.Timeouts.Connect}
	if s.cfg.Source != "" {
		src, err := resolveSource(s.cfg.Source)
		if err != nil {
			return nil, fmt.Errorf("server %s/%s: source %s: %w", s.be.cfg.Name, s.cfg.Name, s.cfg.Source, err)
		}
		d.Source = src
	}
	switch {
	case s.cfg.SendProxyV2:
		d.SendProxy = 2
	case s.cfg.SendProxy:
		d.SendProxy = 1
	}
	return d, nil
}

func resolveSource(s string) (netip.AddrPort, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		host, port = s, "0"
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("source must be an IP address: %w", err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("bad source port %q: %w", port, err)
	}
	return netip.AddrPortFrom(a, uint16(p)), nil
}

// dialServer connects to a server within timeout connect and sends the
// PROXY header it asks for, telling the client's addresses.
func (b *Balancer) dialServer(ctx context.Context, s *Server, src, dst netip.AddrPort) (*conn.Conn, error) {
	if s.dialer == nil {
		return nil, s.dialErr
	}
	return s.dialer.Dial(ctx, "tcp", s.addr, conn.NewProxyHeader(src, dst))
}

// dialCheck is the Layer 4 health check: a bare connect, with a LOCAL
// PROXY header when the server expects one, as HAProxy's checks do.
func (b *Balancer) dialCheck(ctx context.Context, s *Server) (net.Conn, error) {
	if s.dialer == nil {
		return nil, s.dialErr
	}
	d := *s.dialer
	d.Timeout = 0 // the check's own timeout is in ctx
	return d.Dial(ctx, "tcp", s.addr, nil)
}

// fwdResult is how a forwarded connection ended.
type fwdResult struct {
	toServer, toClient int64
	term               [2]byte
}

// forward moves bytes both ways until both directions have ended, passing
// each end-of-stream on as a half close. Inactivity timeouts: client on the
// client side, server on the server side, or tunnel on both when set.
func (b *Balancer) forward(client, server net.Conn, tClient, tServer, tTunnel time.Duration, splice bool) fwdResult {
	if tTunnel > 0 {
		tClient, tServer = tTunnel, tTunnel
	}
	type dirRes struct {
		n    int64
		term [2]byte
	}
	up := make(chan dirRes, 1)
	go func() {
		n, t := b.pump(server, client, tClient, tServer, 'C', 'c', 'S')
		up <- dirRes{n, t}
	}()
	n, tDown := b.pump(client, server, tServer, tClient, 'S', 's', 'C')
	r := <-up
	res := fwdResult{toServer: r.n, toClient: n, term: [2]byte{'-', '-'}}
	// The first abnormal end names the termination.
	for _, t := range [][2]byte{r.term, tDown} {
		if t[0] != '-' {
			res.term = t
			break
		}
	}
	return res
}

// pump copies src to dst. srcErr/srcTimeout/dstErr are the letters for a
// read error, a read timeout and a write error. On EOF it half-closes dst;
// on an error it closes both so the other direction stops too.
func (b *Balancer) pump(dst, src net.Conn, srcTimeout, dstTimeout time.Duration, srcErr, srcTO, dstErr byte) (int64, [2]byte) {
	bp := b.bufs.Get().(*[]byte)
	defer b.bufs.Put(bp)
	buf := *bp
	var total int64
	for {
		if srcTimeout > 0 {
			_ = src.SetReadDeadline(time.Now().Add(srcTimeout))
		}
		n, err := src.Read(buf)
		if n > 0 {
			if dstTimeout > 0 {
				_ = dst.SetWriteDeadline(time.Now().Add(dstTimeout))
			}
			w, werr := dst.Write(buf[:n])
			total += int64(w)
			if werr != nil {
				_ = src.Close()
				_ = dst.Close()
				return total, [2]byte{dstErr, 'D'}
			}
		}
		if err == nil {
			continue
		}
		if errors.Is(err, io.EOF) {
			closeWrite(dst)
			return total, [2]byte{'-', '-'}
		}
		_ = src.Close()
		_ = dst.Close()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return total, [2]byte{srcTO, 'D'}
		}
		if errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
			return total, [2]byte{srcErr, 'D'}
		}
		return total, [2]byte{srcErr, 'D'}
	}
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
		return
	}
	_ = c.Close()
}
