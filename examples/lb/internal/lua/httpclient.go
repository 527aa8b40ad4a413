package lua

import (
	"context"
	"io"
	"net/http"
	"strings"
	"time"

	glua "github.com/yuin/gopher-lua"
)

// openHTTPClient sets core.httpclient(): an object whose get, post, put,
// delete and head methods send a request ({url, headers, body, timeout}
// with the timeout in milliseconds) and return the response as HAProxy
// gives it: {status, reason, headers, body}, the fields' names lowercase
// with their values indexed from 0. The request waits with the state
// unlocked.
func (v *vm) openHTTPClient(core *glua.LTable) {
	L := v.L
	methods := map[string]glua.LGFunction{}
	for _, m := range []string{"GET", "POST", "PUT", "DELETE", "HEAD"} {
		methods[strings.ToLower(m)] = v.httpRequest(m)
	}
	mt := v.class(methods)
	core.RawSetString("httpclient", L.NewFunction(func(L *glua.LState) int {
		t := L.NewTable()
		L.SetMetatable(t, mt)
		L.Push(t)
		return 1
	}))
}

// httpClient sends the scripts' requests: no proxy from the
// environment, no redirect followed, no compression asked for.
var httpClient = &http.Client{
	Transport: &http.Transport{DisableCompression: true, DisableKeepAlives: true}, // no idle connection outlives a call
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

func (v *vm) httpRequest(method string) glua.LGFunction {
	return func(L *glua.LState) int {
		spec := L.CheckTable(2)
		url := glua.LVAsString(spec.RawGetString("url"))
		var body io.Reader
		if b, ok := spec.RawGetString("body").(glua.LString); ok {
			body = strings.NewReader(string(b))
		}
		timeout := 0 * time.Millisecond
		if n, ok := spec.RawGetString("timeout").(glua.LNumber); ok {
			timeout = time.Duration(n) * time.Millisecond
		}
		ctx, cancel := context.WithCancel(v.rt.ctx)
		if timeout > 0 {
			cancel()
			ctx, cancel = context.WithTimeout(v.rt.ctx, timeout)
		}
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, method, url, body)
		if err != nil {
			L.RaiseError("httpclient: %s", err.Error())
		}
		req.Header.Set("User-Agent", "")
		if h, ok := spec.RawGetString("headers").(*glua.LTable); ok {
			h.ForEach(func(k, val glua.LValue) {
				switch x := val.(type) {
				case *glua.LTable:
					x.ForEach(func(_, one glua.LValue) { req.Header.Add(k.String(), one.String()) })
				default:
					req.Header.Add(k.String(), x.String())
				}
			})
		}
		var (
			resp *http.Response
			data []byte
		)
		v.block(L, func() {
			resp, err = httpClient.Do(req)
			if err == nil {
				data, err = io.ReadAll(resp.Body)
				_ = resp.Body.Close()
			}
		})
		if err != nil {
			L.Push(glua.LNil)
			L.Push(glua.LString(err.Error()))
			return 2
		}
		t := L.NewTable()
		t.RawSetString("status", glua.LNumber(resp.StatusCode))
		t.RawSetString("reason", glua.LString(strings.TrimSpace(strings.TrimPrefix(resp.Status, resp.Status[:3]))))
		t.RawSetString("body", glua.LString(data))
		hdrs := L.NewTable()
		for name, vals := range resp.Header {
			vt := L.NewTable()
			for i, one := range vals {
				vt.RawSet(glua.LNumber(i), glua.LString(one))
			}
			hdrs.RawSetString(strings.ToLower(name), vt)
		}
		if resp.ContentLength >= 0 && resp.Header.Get("Content-Length") == "" && method != "HEAD" {
			vt := L.NewTable()
			vt.RawSet(glua.LNumber(0), glua.LString(itoa(int(resp.ContentLength))))
			hdrs.RawSetString("content-length", vt)
		}
		t.RawSetString("headers", hdrs)
		L.Push(t)
		return 1
	}
}
