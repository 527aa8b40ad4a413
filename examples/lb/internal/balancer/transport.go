package balancer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"github.com/proxyblocks/proxyblocks/conn"
)

// proxyHeaderTimeout bounds how long a client on an accept-proxy bind may
// take to send its header; the PROXY specification suggests at least 3 s.
const proxyHeaderTimeout = 3 * time.Second

func listen(ctx context.Context, addr string) (net.Listener, error) {
	var lc net.ListenConfig
	return lc.Listen(ctx, "tcp", addr)
}

// readProxy reads the PROXY header an accept-proxy bind requires and
// returns the addresses it tells (the socket's for LOCAL and UNKNOWN).
func readProxy(c net.Conn, src, dst netip.AddrPort) (netip.AddrPort, netip.AddrPort, error) {
	_ = c.SetReadDeadline(time.Now().Add(proxyHeaderTimeout))
	var h conn.ProxyHeader
	err := conn.ReadProxyHeader(c, &h, 0)
	_ = c.SetReadDeadline(time.Time{})
	if err != nil {
		return src, dst, fmt.Errorf("reading PROXY header: %w", err)
	}
	if h.HasAddrs() {
		return h.Src, h.Dst, nil
	}
	return src, dst, nil
}

// dialServer connects to a server within timeout connect, from its source
// address, and sends the PROXY header it asks for with the client's
// addresses.
func (b *Balancer) dialServer(ctx context.Context, s *Server, src, dst netip.AddrPort) (net.Conn, error) {
	if t := s.be.cfg.Timeouts.Connect; t > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t)
		defer cancel()
	}
	c, err := dialTCP(ctx, s)
	if err != nil {
		return nil, err
	}
	if s.cfg.SendProxy || s.cfg.SendProxyV2 {
		h := conn.NewProxyHeader(src, dst)
		h.Version = 1
		if s.cfg.SendProxyV2 {
			h.Version = 2
		}
		if _, err := h.WriteTo(c); err != nil {
			_ = c.Close()
			return nil, fmt.Errorf("sending PROXY header to %s: %w", s.addr, err)
		}
	}
	return c, nil
}

func dialTCP(ctx context.Context, s *Server) (net.Conn, error) {
	d := net.Dialer{}
	if s.cfg.Source != "" {
		la, err := net.ResolveTCPAddr("tcp", s.cfg.Source)
		if err != nil {
			return nil, fmt.Errorf("server %s/%s: source %s: %w", s.be.cfg.Name, s.cfg.Name, s.cfg.Source, err)
		}
		d.LocalAddr = la
	}
	return d.DialContext(ctx, "tcp", s.addr)
}

// dialCheck is the Layer 4 health check: a bare connect. Like HAProxy's
// checks it sends a LOCAL PROXY header when the server expects one.
func (b *Balancer) dialCheck(ctx context.Context, s *Server) (net.Conn, error) {
	c, err := dialTCP(ctx, s)
	if err != nil {
		return nil, err
	}
	if s.cfg.SendProxy || s.cfg.SendProxyV2 {
		h := conn.ProxyHeader{Version: 1, Command: conn.CommandLocal}
		if s.cfg.SendProxyV2 {
			h.Version = 2
		}
		_, _ = h.WriteTo(c)
	}
	return c, nil
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
