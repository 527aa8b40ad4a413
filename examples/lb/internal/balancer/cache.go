package balancer

import (
	"fmt"
	"io"
	"time"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/httpcache"
	"github.com/proxyblocks/proxyblocks/mux/htx"
)

// openCaches allocates the "cache" sections' stores.
func (b *Balancer) openCaches() error {
	b.caches = map[string]*httpcache.Cache{}
	for _, c := range b.cfg.Caches {
		hc, err := httpcache.New(httpcache.Config{
			Name: c.Name, Size: c.TotalMaxSize, MaxObjectSize: c.MaxObjectSize,
			MaxAge: time.Duration(c.MaxAge) * time.Second, ProcessVary: c.ProcessVary,
			MaxSecondaryEntries: c.MaxSecondaryEntries,
		})
		if err != nil {
			return fmt.Errorf("balancer: %s: %w", c.Pos, err)
		}
		b.caches[c.Name] = hc
	}
	return nil
}

// showCache is the runtime API's "show cache": each cache section and
// its stored responses, as haproxy 2.6 lists them; the addresses haproxy
// prints are lb's own numbers, and sizes are lb's stored bytes.
func (b *Balancer) showCache(w io.Writer) {
	now := time.Now().Unix()
	for i, cs := range b.cfg.Caches {
		c := b.caches[cs.Name]
		if c == nil {
			continue
		}
		base := uint64(i+1) << 32
		fmt.Fprintf(w, "%#x: %s (shctx:%#x, available blocks:%d)\n", base|0x3a, cs.Name, base, c.Blocks())
		entries, err := c.Entries()
		if err != nil {
			fmt.Fprintf(w, "%s: %v\n", cs.Name, err)
			continue
		}
		for j, e := range entries {
			blocks := (e.Size + httpcache.BlockSize - 1) / httpcache.BlockSize
			fmt.Fprintf(w, "%#x hash:%d vary:0x%016x size:%d (%d blocks), refcount:0, expire:%d\n",
				base|uint64(j+1)<<8, e.Hash, e.Vary, e.Size, blocks, max(e.Expire.Unix()-now, 0))
		}
	}
}

// closeCaches releases the caches' memory.
func (b *Balancer) closeCaches() {
	for name, c := range b.caches {
		_ = c.Close()
		delete(b.caches, name)
	}
}

// cacheUse is "http-request cache-use": a stored response found for the
// request answers it once the request rules are through, in place of a
// server (serveCached).
func (ex *exchange) cacheUse(r *httpRule, hp *httpProxy) {
	if r.cache == nil || ex.chit != nil {
		return
	}
	now := time.Now()
	hit, looked := r.cache.Use(&ex.ctxn, ex.req, now)
	if !looked {
		return
	}
	st := &ex.hf.s.fe.st
	if hp != ex.hf.s.fe.http && ex.be != nil {
		st = &ex.be.st
	}
	st.cacheLookups.Add(1)
	if hit != nil {
		st.cacheHits.Add(1)
		ex.chit, ex.chitName, ex.chitAt = hit, r.cache.Name(), now
	}
}

// cacheStore is "http-response cache-store": the response's head is kept
// as it stands now, its body as copyResponseBody reads it from the
// server (commitStore).
func (ex *exchange) cacheStore(r *httpRule) {
	if r.cache == nil || ex.fromCache != "" || ex.cstore != nil {
		return
	}
	ex.cstore = r.cache.Store(&ex.ctxn, ex.req, &ex.resp, time.Now())
}

// commitStore keeps the response once its body has come whole from the
// server, before its last bytes go to the client.
func (ex *exchange) commitStore() {
	if ex.cstore != nil {
		ex.cstore.Commit(&ex.resp)
		ex.cstore = nil
	}
}

// InResponse tells conditions that the response rules run, where those
// reading the request itself never match, as in HAProxy.
func (ex *exchange) InResponse() bool { return ex.inResp }

// CacheHit tells res.cache_hit and res.cache_name which cache answered.
func (ex *exchange) CacheHit() string { return ex.fromCache }

// serveCached answers the request from the stored response cache-use
// found, as HAProxy's cache applet does: the stored head with an Age
// field (304 Not Modified for a conditional request that matches), the
// backend's then the frontend's http-response rules, and the body (none
// for HEAD and 304). The log names the server "<CACHE>".
func (ex *exchange) serveCached() {
	h := ex.chit
	defer func() {
		h.Release()
		ex.chit = nil
	}()
	l := &ex.log
	l.server = "<CACHE>"
	l.term = [2]byte{'L', 'R'}
	l.twSet, l.tcSet, l.trSet = true, true, true
	ex.fromCache = ex.chitName
	resp := &ex.resp
	// The date of the lookup, a few rules ago: a clock read less.
	h.Head(resp, ex.chitAt)
	l.status = resp.Status
	ex.countStatus(resp.Status)
	if caps := ex.hf.s.fe.cfg.HTTP.CaptureResponse; len(caps) > 0 {
		l.capResp = captureFields(l.capResp, caps, resp)
	}
	ex.inResp = true
	ex.endRequestVars()
	ex.applyResponseRules(ex.bhp)
	if ex.hf.s.fe.http != ex.bhp {
		ex.applyResponseRules(ex.hf.s.fe.http)
	}
	if ex.hasAfterRules() {
		ex.applyAfterResponse()
	}
	if ex.mode == config.ConnClose || !ex.hf.h2 && ex.hf.stopping.Load() {
		resp.Flags |= htx.FlagClose
	} else {
		resp.Flags &^= htx.FlagClose
	}
	body := h.Body()
	bodyless := ex.req.Flags&htx.FlagHead != 0 || h.NotModified()
	if bodyless {
		resp.Flags |= htx.FlagBodyless
	}
	compress := !bodyless && ex.compressResponse(resp)
	if err := ex.fst.WriteResponse(resp); err != nil {
		l.term = [2]byte{'C', 'H'}
		return
	}
	l.bytesOut += htxResponseSize(resp)
	if bodyless {
		return
	}
	var err error
	if compress {
		out := l.bytesOut
		cw := ex.newCompressor()
		if _, err = cw.Write(body); err == nil {
			err = cw.Close()
		}
		ex.putCompressor(cw)
		ex.countCompression(true, int64(len(body)), l.bytesOut-out, err == nil)
	} else if _, err = ex.fst.Write(body); err == nil {
		l.bytesOut += int64(len(body))
	}
	if err == nil {
		err = ex.fst.Finish(resp)
	}
	if err != nil {
		l.term = [2]byte{'C', 'D'}
	}
}
