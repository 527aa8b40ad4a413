package balancer

import (
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

// store returns the variables of scope for this exchange; for sess, made
// only when create is set (a variable is being set).
func (ex *exchange) store(scope string, create bool) *varStore {
	switch scope {
	case "proc":
		return &ex.hf.s.b.procVars
	case "sess":
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
		if len(k) > 4 && k[:4] == "req." {
			delete(ex.vars.m, k)
		}
	}
}

// Var returns a variable (acl.VarContext).
func (ex *exchange) Var(scope, name string) (acl.Sample, bool) {
	return ex.store(scope, false).get(scope + "." + name)
}

// SetVar stores a variable.
func (ex *exchange) SetVar(scope, name string, s acl.Sample) {
	ex.store(scope, true).set(scope+"."+name, s)
}

// UnsetVar removes a variable.
func (ex *exchange) UnsetVar(scope, name string) {
	ex.store(scope, false).unset(scope + "." + name)
}

var _ acl.VarContext = (*exchange)(nil)
