package lua

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"

	glua "github.com/yuin/gopher-lua"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
	"github.com/proxyblocks/proxyblocks/mux/htx"
)

// HTTPStream is the exchange an HTTP service answers: its request (and
// what fetches read), the request's body, and the response.
type HTTPStream interface {
	acl.HTTPContext
	// ReadBody reads the request's body; io.EOF at its end.
	ReadBody(p []byte) (int, error)
	// WriteHead sends the response head.
	WriteHead(m *htx.Message) error
	// WriteBody sends response body data.
	WriteBody(p []byte) error
}

// TCPStream is the connection a TCP service serves.
type TCPStream interface {
	acl.Context
	// Read reads what the client sends (what the rules before the
	// service buffered first); io.EOF once it shut its side.
	Read(p []byte) (int, error)
	// Write sends data to the client.
	Write(p []byte) (int, error)
}

// reader buffers a stream for getline and receive.
type reader struct {
	buf []byte
	eof bool
	err error
}

// fill reads once more from read, with the state unlocked.
func (r *reader) fill(v *vm, L *glua.LState, read func([]byte) (int, error)) {
	if r.eof {
		return
	}
	tmp := make([]byte, 16384)
	var (
		n   int
		err error
	)
	v.block(L, func() { n, err = read(tmp) })
	r.buf = append(r.buf, tmp[:n]...)
	if err != nil {
		r.eof = true
		if !errors.Is(err, io.EOF) {
			r.err = err
		}
	}
}

// getline returns the next line, its "\n" included, or what remains
// at the end.
func (r *reader) getline(v *vm, L *glua.LState, read func([]byte) (int, error)) string {
	for {
		if i := bytes.IndexByte(r.buf, '\n'); i >= 0 {
			s := string(r.buf[:i+1])
			r.buf = r.buf[i+1:]
			return s
		}
		if r.eof {
			s := string(r.buf)
			r.buf = nil
			return s
		}
		r.fill(v, L, read)
	}
}

// receive returns size bytes (fewer at the end), or all until the end
// when size is negative.
func (r *reader) receive(v *vm, L *glua.LState, read func([]byte) (int, error), size int) string {
	for (size < 0 || len(r.buf) < size) && !r.eof {
		r.fill(v, L, read)
	}
	if size < 0 || size > len(r.buf) {
		size = len(r.buf)
	}
	s := string(r.buf[:size])
	r.buf = r.buf[size:]
	return s
}

// httpApplet is the state of an HTTP service's run.
type httpApplet struct {
	stream  HTTPStream
	head    htx.Message
	started bool
	failed  bool
	in      reader
}

func (a *httpApplet) readBody(p []byte) (int, error) { return a.stream.ReadBody(p) }

// start sends the response head: with Content-Length when the script set
// one, else of unknown length (chunked in HTTP/1.1).
func (a *httpApplet) start() error {
	if a.started {
		return nil
	}
	a.started = true
	if a.head.Status == 0 {
		a.head.SetResponse(200, "")
	}
	if v, ok := a.head.Get("content-length"); ok {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(v)), 10, 64); err == nil && n >= 0 {
			a.head.Del("content-length")
			a.head.Flags |= htx.FlagContentLength
			a.head.ContentLength = n
		}
	}
	if err := a.stream.WriteHead(&a.head); err != nil {
		a.failed = true
		return err
	}
	return nil
}

func httpAppletMethods(v *vm) map[string]glua.LGFunction {
	m := map[string]glua.LGFunction{}
	varMethods(v, m)
	app := func(L *glua.LState) *httpApplet {
		c := v.current(L)
		if c.http == nil {
			L.RaiseError("not an HTTP service")
		}
		return c.http
	}
	m["set_status"] = func(L *glua.LState) int {
		a := app(L)
		a.head.SetResponse(L.CheckInt(2), L.OptString(3, ""))
		return 0
	}
	m["add_header"] = func(L *glua.LState) int {
		a := app(L)
		// HAProxy sends the names lowercase.
		a.head.Add(strings.ToLower(L.CheckString(2)), L.CheckString(3))
		return 0
	}
	m["start_response"] = func(L *glua.LState) int {
		a := app(L)
		var err error
		v.block(L, func() { err = a.start() })
		if err != nil {
			L.RaiseError("%s", err.Error())
		}
		return 0
	}
	m["send"] = func(L *glua.LState) int {
		a := app(L)
		data := L.CheckString(2)
		var err error
		v.block(L, func() {
			if err = a.start(); err == nil {
				err = a.stream.WriteBody([]byte(data))
			}
		})
		if err != nil {
			L.RaiseError("%s", err.Error())
		}
		return 0
	}
	m["getline"] = func(L *glua.LState) int {
		a := app(L)
		L.Push(glua.LString(a.in.getline(v, L, a.readBody)))
		return 1
	}
	m["receive"] = func(L *glua.LState) int {
		a := app(L)
		L.Push(glua.LString(a.in.receive(v, L, a.readBody, L.OptInt(2, -1))))
		return 1
	}
	return m
}

func tcpAppletMethods(v *vm) map[string]glua.LGFunction {
	m := map[string]glua.LGFunction{}
	varMethods(v, m)
	app := func(L *glua.LState) (TCPStream, *reader) {
		c := v.current(L)
		if c.tcp == nil {
			L.RaiseError("not a TCP service")
		}
		if c.tcpIn == nil {
			c.tcpIn = &reader{}
		}
		return c.tcp, c.tcpIn
	}
	m["getline"] = func(L *glua.LState) int {
		s, r := app(L)
		L.Push(glua.LString(r.getline(v, L, s.Read)))
		return 1
	}
	m["receive"] = func(L *glua.LState) int {
		s, r := app(L)
		out := r.receive(v, L, s.Read, L.OptInt(2, -1))
		if out == "" && r.eof {
			L.Push(glua.LNil)
			return 1
		}
		L.Push(glua.LString(out))
		return 1
	}
	m["send"] = func(L *glua.LState) int {
		s, _ := app(L)
		data := L.CheckString(2)
		var err error
		v.block(L, func() { _, err = s.Write([]byte(data)) })
		if err != nil {
			L.RaiseError("%s", err.Error())
		}
		return 0
	}
	return m
}

// RunHTTPService runs the HTTP service registered as name for stream:
// it answers the request. When the service fails before it sent the
// response head, a 500 response is sent, as HAProxy does; the error is
// logged and returned.
func (rt *Runtime) RunHTTPService(name string, stream HTTPStream) error {
	r := rt.lookup(KindService, name)
	if r == nil || !r.http {
		return errors.New("no HTTP service '" + name + "'")
	}
	a := &httpApplet{stream: stream}
	a.head.SetResponse(200, "")
	_, err := rt.runCall(r.fn, stream, rt.ServiceTimeout, func(c *callState) []glua.LValue {
		return []glua.LValue{c.vm.newHTTPApplet(c.L, c)}
	}, func(c *callState) { c.http = a })
	quiet := false
	if err == nil && !a.started {
		// A service that returns without answering gets a 500, which
		// HAProxy does not log as an error.
		err, quiet = errors.New("no response sent"), true
	}
	if err != nil {
		if !a.failed && !quiet {
			rt.serviceFailed(stream, "http", name, err)
		}
		if !a.started {
			a.head.Reset()
			a.head.SetResponse(500, "")
			a.head.Add("content-type", "text/html")
			a.head.Add("cache-control", "no-cache")
			body := []byte("<html><body><h1>500 Internal Server Error</h1>\nAn internal server error occurred.\n</body></html>\n")
			a.head.Flags |= htx.FlagContentLength
			a.head.ContentLength = int64(len(body))
			a.started = true
			if stream.WriteHead(&a.head) == nil {
				_ = stream.WriteBody(body)
			}
		}
		return err
	}
	return nil
}

// RunTCPService runs the TCP service registered as name for stream,
// until it returns. An error is logged and returned.
func (rt *Runtime) RunTCPService(name string, stream TCPStream) error {
	r := rt.lookup(KindService, name)
	if r == nil || r.http {
		return errors.New("no TCP service '" + name + "'")
	}
	_, err := rt.runCall(r.fn, stream, rt.ServiceTimeout, func(c *callState) []glua.LValue {
		return []glua.LValue{c.vm.newTCPApplet(c.L, c)}
	}, func(c *callState) { c.tcp = stream })
	if err != nil {
		rt.serviceFailed(stream, "tcp", name, err)
	}
	return err
}

// newHTTPApplet returns the applet object of an HTTP service's call.
func (v *vm) newHTTPApplet(L *glua.LState, c *callState) *glua.LTable {
	t := L.NewTable()
	v.fillSamplers(t)
	req := c.http.stream.HTTPRequest()
	t.RawSetString("method", glua.LString(req.Method()))
	t.RawSetString("path", glua.LString(req.PathOnly()))
	t.RawSetString("qs", glua.LString(req.Query()))
	ver := "1.1"
	switch req.Version {
	case htx.Version10:
		ver = "1.0"
	case htx.Version20:
		ver = "2.0"
	}
	t.RawSetString("version", glua.LString(ver))
	length := int64(0)
	if req.Flags&htx.FlagContentLength != 0 {
		length = req.ContentLength
	}
	t.RawSetString("length", glua.LNumber(length))
	t.RawSetString("headers", headersTable(L, req))
	L.SetMetatable(t, v.httpAppletMT)
	return t
}

// newTCPApplet returns the applet object of a TCP service's call.
func (v *vm) newTCPApplet(L *glua.LState, c *callState) *glua.LTable {
	t := L.NewTable()
	v.fillSamplers(t)
	L.SetMetatable(t, v.appletMT)
	return t
}
