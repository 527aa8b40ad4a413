package lua

import (
	"bufio"
	"context"
	cryptotls "crypto/tls"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	glua "github.com/yuin/gopher-lua"
)

// socket is the object core.tcp() returns: a TCP connection with the
// LuaSocket-like methods HAProxy gives scripts (connect, send, receive,
// settimeout, close...). Every wait runs with the state unlocked.
type socket struct {
	conn    net.Conn
	r       *bufio.Reader
	timeout time.Duration
}

func (v *vm) openSocket(core *glua.LTable) {
	L := v.L
	mt := v.class(socketMethods(v))
	core.RawSetString("tcp", L.NewFunction(func(L *glua.LState) int {
		ud := L.NewUserData()
		ud.Value = &socket{}
		L.SetMetatable(ud, mt)
		L.Push(ud)
		return 1
	}))
}

func sockOf(L *glua.LState) *socket {
	ud := L.CheckUserData(1)
	s, ok := ud.Value.(*socket)
	if !ok {
		L.ArgError(1, "socket expected")
	}
	return s
}

// fail returns nil and the error's text, as LuaSocket does.
func fail(L *glua.LState, err error) int {
	L.Push(glua.LNil)
	msg := "closed"
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		msg = "timeout"
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
	default:
		msg = err.Error()
	}
	L.Push(glua.LString(msg))
	return 2
}

func (s *socket) deadline() {
	if s.conn == nil {
		return
	}
	if s.timeout > 0 {
		_ = s.conn.SetDeadline(time.Now().Add(s.timeout))
	} else {
		_ = s.conn.SetDeadline(time.Time{})
	}
}

// connect is Socket:connect(ADDR[, PORT]) and, with tls,
// Socket:connect_ssl: the TLS handshake follows, and, as haproxy's Lua
// sockets do, it verifies nothing of the server's certificate and names
// no server.
func (v *vm) connect(L *glua.LState, tls bool) int {
	s := sockOf(L)
	addr := L.CheckString(2)
	if L.GetTop() >= 3 {
		addr = net.JoinHostPort(strings.Trim(addr, "[]"), strconv.Itoa(L.CheckInt(3)))
	}
	var (
		c   net.Conn
		err error
	)
	v.block(L, func() {
		ctx := v.rt.ctx
		if s.timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, s.timeout)
			defer cancel()
		}
		var d net.Dialer
		if c, err = d.DialContext(ctx, "tcp", addr); err != nil || !tls {
			return
		}
		tc := cryptotls.Client(c, &cryptotls.Config{InsecureSkipVerify: true})
		if err = tc.HandshakeContext(ctx); err != nil {
			_ = c.Close()
			return
		}
		c = tc
	})
	if err != nil {
		return fail(L, err)
	}
	s.conn, s.r = c, bufio.NewReader(c)
	// Closed with the callback, if the script does not.
	if call := v.calls[L]; call != nil {
		call.sockets = append(call.sockets, s)
	}
	L.Push(glua.LNumber(1))
	return 1
}

func socketMethods(v *vm) map[string]glua.LGFunction {
	return map[string]glua.LGFunction{
		"settimeout": func(L *glua.LState) int {
			s := sockOf(L)
			s.timeout = time.Duration(float64(L.CheckNumber(2)) * float64(time.Second))
			L.Push(glua.LNumber(1))
			return 1
		},
		"connect":     func(L *glua.LState) int { return v.connect(L, false) },
		"connect_ssl": func(L *glua.LState) int { return v.connect(L, true) },
		"send": func(L *glua.LState) int {
			s := sockOf(L)
			data := L.CheckString(2)
			i, j := L.OptInt(3, 1), L.OptInt(4, len(data))
			if i < 1 {
				i = 1
			}
			if j > len(data) {
				j = len(data)
			}
			if s.conn == nil {
				return fail(L, net.ErrClosed)
			}
			part := ""
			if i <= j {
				part = data[i-1 : j]
			}
			var err error
			var n int
			v.block(L, func() {
				s.deadline()
				n, err = io.WriteString(s.conn, part)
			})
			if err != nil {
				return fail(L, err)
			}
			L.Push(glua.LNumber(i - 1 + n))
			return 1
		},
		"receive": func(L *glua.LState) int {
			s := sockOf(L)
			if s.conn == nil {
				return fail(L, net.ErrClosed)
			}
			prefix := L.OptString(3, "")
			pattern := L.Get(2)
			var (
				out string
				err error
			)
			v.block(L, func() {
				s.deadline()
				switch p := pattern.(type) {
				case glua.LNumber:
					buf := make([]byte, int(p))
					var n int
					n, err = io.ReadFull(s.r, buf)
					out = string(buf[:n])
				default:
					if p == glua.LNil || p.String() == "*l" {
						out, err = s.r.ReadString('\n')
						if err == nil {
							out = strings.TrimSuffix(strings.TrimSuffix(out, "\n"), "\r")
						}
						return
					}
					var b []byte
					b, err = io.ReadAll(s.r)
					out = string(b)
				}
			})
			if err != nil {
				n := fail(L, err)
				L.Push(glua.LString(prefix + out))
				return n + 1
			}
			L.Push(glua.LString(prefix + out))
			return 1
		},
		"close": func(L *glua.LState) int {
			s := sockOf(L)
			if s.conn != nil {
				_ = s.conn.Close()
				s.conn = nil
			}
			L.Push(glua.LNumber(1))
			return 1
		},
		"getpeername": func(L *glua.LState) int {
			return addrOf(L, sockOf(L), true)
		},
		"getsockname": func(L *glua.LState) int {
			return addrOf(L, sockOf(L), false)
		},
	}
}

// addrOf pushes a socket's peer or own address: host and port.
func addrOf(L *glua.LState, s *socket, peer bool) int {
	if s.conn == nil {
		L.Push(glua.LNil)
		return 1
	}
	a := s.conn.LocalAddr()
	if peer {
		a = s.conn.RemoteAddr()
	}
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		L.Push(glua.LNil)
		return 1
	}
	p, _ := strconv.Atoi(port)
	L.Push(glua.LString(host))
	L.Push(glua.LNumber(p))
	return 2
}
