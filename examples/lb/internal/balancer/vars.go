package balancer

import (
	"strings"
	"sync"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
)

// Variables (acl.VarContext) for HTTP exchanges: txn, req and res live
// with the exchange, sess with the client connection (in a map beside
// it, from the first sess variable set to the connection's end), proc
// with the balancer.

// varStore is a set of variables safe for concurrent use (sess under
// HTTP/2 serves streams at once; proc is shared by everything).
type varStore struct {
	mu sync.Mutex
	m  map[string]acl.Sample
}

func (v *varStore) get(name string) (acl.Sample, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	s, ok := v.m[name]
	return s, ok
}

func (v *varStore) set(name string, s acl.Sample) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.m == nil {
		v.m = map[string]acl.Sample{}
	}
	v.m[name] = s
}

func (v *varStore) unset(name string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.m, name)
}

// noVars is the empty store reads of missing sess variables see.
var noVars = &varStore{}

// store returns the store of a variable, named in full ("sess.x"), for
// this exchange; for sess, made only when create is set (a variable is
// being set).
func (ex *exchange) store(name string, create bool) *varStore {
	scope, _, _ := strings.Cut(name, ".")
	switch scope {
	case "proc":
		return &ex.hf.s.b.procVars
	case "sess":
		// Those the connection and session rules set are the
		// session's, settled before its requests are served.
		if x := ex.hf.s.x; x != nil && x.vars != nil {
			return x.vars
		}
		// Kept beside the connection rather than in it, so that
		// connections without them stay small.
		m := &ex.hf.s.b.sessVars
		if v, ok := m.Load(ex.hf); ok {
			return v.(*varStore)
		}
		if !create {
			return noVars
		}
		v, _ := m.LoadOrStore(ex.hf, &varStore{})
		return v.(*varStore)
	}
	if ex.vars == nil {
		ex.vars = &varStore{}
	}
	return ex.vars
}

// endRequestVars drops the variables of scope req as the response
// comes: they live for the request's processing only.
func (ex *exchange) endRequestVars() {
	if ex.vars == nil {
		return
	}
	for k := range ex.vars.m {
		if strings.HasPrefix(k, "req.") {
			delete(ex.vars.m, k)
		}
	}
}

// Var returns a variable (acl.VarContext).
func (ex *exchange) Var(name string) (acl.Sample, bool) { return ex.store(name, false).get(name) }

// SetVar stores a variable.
func (ex *exchange) SetVar(name string, s acl.Sample) { ex.store(name, true).set(name, s) }

// UnsetVar removes a variable.
func (ex *exchange) UnsetVar(name string) { ex.store(name, false).unset(name) }

var _ acl.VarContext = (*exchange)(nil)
