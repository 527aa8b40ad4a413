package balancer

import (
	"github.com/proxyblocks/proxyblocks/conn"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
)

// The connections behind the fc_* and bc_* fetches (acl.ConnContext).

var (
	_ acl.ConnContext = (*tracked)(nil)
	_ acl.ConnContext = (*exchange)(nil)

	_ acl.BackErrContext = (*tracked)(nil)
	_ acl.BackErrContext = (*exchange)(nil)
)

// BackDialErr returns why a TCP session's last server connection could
// not be made, after whether that server speaks TLS.
func (t *tracked) BackDialErr() (bool, error) {
	if t.s == nil {
		return false, nil
	}
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	if t.s.x == nil {
		return false, nil
	}
	return t.s.x.backTLS, t.s.x.backErr
}

// BackDialErr returns why the exchange's last server connection could
// not be made, after whether that server speaks TLS.
func (ex *exchange) BackDialErr() (bool, error) {
	return ex.backTLS, ex.backErr
}

// FrontConn returns the client connection.
func (t *tracked) FrontConn() *conn.Conn { return t.c }

// FrontHTTP returns the client connection's HTTP major version, 0 in TCP
// mode or before the HTTP mux is up.
func (t *tracked) FrontHTTP() int {
	if t.s == nil {
		return 0
	}
	t.s.mu.Lock()
	hf := t.s.http
	t.s.mu.Unlock()
	if hf == nil {
		return 0
	}
	if hf.h2 {
		return 2
	}
	return 1
}

// BackConn returns a TCP session's server connection, nil before it is
// made.
func (t *tracked) BackConn() (*conn.Conn, int) {
	if t.s == nil {
		return nil, 0
	}
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	return t.s.server, 0
}

// FrontConn returns the client connection.
func (ex *exchange) FrontConn() *conn.Conn { return ex.hf.s.client }

// FrontHTTP returns the client connection's HTTP major version.
func (ex *exchange) FrontHTTP() int {
	if ex.hf.h2 {
		return 2
	}
	return 1
}

// BackConn returns the server connection the exchange uses, or used last
// (its log line reads it after it was let go), nil before one.
func (ex *exchange) BackConn() (*conn.Conn, int) {
	bc := ex.bc
	if bc == nil {
		bc = ex.lastBack
	}
	if bc == nil {
		return nil, 0
	}
	if bc.h2 {
		return bc.c, 2
	}
	return bc.c, 1
}

// QueuePriority is the request's place in the queues, as set-priority-class
// and set-priority-offset set it (acl.PriorityContext).
func (ex *exchange) QueuePriority() (class, offset int) { return ex.prio.Class, ex.prio.Offset }
