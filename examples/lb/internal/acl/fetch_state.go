package acl

import "fmt"

// The internal state fetches, as HAProxy 2.6 has them: the names and ids
// of the proxies, the listener and the server a stream goes through
// (be_name, fe_id, srv_name, so_id...), the live figures of servers,
// backends, frontends and stick tables (srv_is_up, be_conn, queue,
// table_cnt...), the process (stopping, nbproc, proc, thread) and the
// stream's timeouts (be_server_timeout, cur_tunnel_timeout...).

// Ident is what an identity fetch reads: a name and a numeric id.
type Ident struct {
	Name string
	ID   int
}

// IdentityContext is a Context that knows what a stream goes through.
// Each method reports false when there is none (no server chosen yet, a
// listener without a name...).
type IdentityContext interface {
	Context
	// FrontendIdent is the frontend the client reached; defbe its
	// default backend, "" for none.
	FrontendIdent() (id Ident, defbe string, ok bool)
	// BackendIdent is the stream's backend: the frontend itself until a
	// backend is chosen, as in HAProxy.
	BackendIdent() (Ident, bool)
	// ServerIdent is the server the stream goes to, once chosen.
	ServerIdent() (Ident, bool)
	// ListenerIdent is the listener (bind line) the client came through:
	// its "name" and its "id".
	ListenerIdent() (Ident, bool)
}

// Stat names one figure a state fetch reads (StateContext.State).
type Stat uint8

// The figures of StateContext.State. The server ones take a backend and
// a server name, the backend, frontend and table ones a proxy name;
// "" names the proxy whose rules run.
const (
	StatSrvUp       Stat = iota + 1 // 1 when the server is not in maintenance and, checked, not down
	StatSrvConn                     // the server's current connections
	StatSrvConnFree                 // connections the server may still take, -1 without maxconn
	StatSrvQueue                    // connections in the server's queue
	StatSrvSessRate                 // sessions per second sent to the server
	StatSrvWeight                   // the server's effective weight
	StatSrvIWeight                  // the server's configured weight
	StatSrvUWeight                  // the server's weight as set at run time
	StatBeConn                      // the backend's current connections
	StatBeConnFree                  // connections the backend's usable servers may still take, -1 for one without maxconn
	StatBeSessRate                  // sessions per second sent to the backend
	StatBeQueue                     // connections queued in the backend and its servers
	StatBeAvgQueue                  // the queue divided by the usable servers, rounded up (twice it for none)
	StatConnSlots                   // free connection and queue slots of the running servers, -1 if one is unlimited
	StatFeConn                      // the frontend's current connections
	StatFeReqRate                   // HTTP requests per second the frontend received
	StatFeSessRate                  // sessions per second the frontend accepted
	StatTableCnt                    // entries in the proxy's stick table
	StatTableAvl                    // entries the table may still take
)

// StateContext is a Context that reads the balancer's live state.
type StateContext interface {
	Context
	// State returns the figure st of the proxy px (and server srv for
	// the server figures); ok is false when there is no such proxy,
	// server or table.
	State(st Stat, px, srv string) (n int64, ok bool)
	// Stopping reports whether the process is stopping (a soft stop).
	Stopping() bool
	// Timeout returns one of the stream's timeouts in milliseconds, 0
	// when unset; ok is false when the stream has no such proxy.
	Timeout(t TimeoutKind) (ms int64, ok bool)
}

// TimeoutKind names a timeout for StateContext.Timeout.
type TimeoutKind uint8

// The timeouts the *_timeout fetches read.
const (
	TimeoutBeServer  TimeoutKind = iota + 1 // the backend's timeout server
	TimeoutBeTunnel                         // the backend's timeout tunnel
	TimeoutCurServer                        // the stream's, after set-timeout server
	TimeoutCurTunnel                        // the stream's, after set-timeout tunnel
	TimeoutFeClient                         // the frontend's timeout client
)

// ProxyRef says what a fetch's argument names, for the configuration to
// check once every section is read (ProxyRefOf).
type ProxyRef uint8

// The kinds of names a state fetch takes.
const (
	RefNone     ProxyRef = iota
	RefBackend           // a backend, "" for the rule's own
	RefFrontend          // a frontend, "" for the rule's own
	RefServer            // "[BACKEND/]SERVER"
	RefTable             // a proxy with a stick table, "" for the rule's own
	// RefTableOpt is an optional table: a proxy with a stick table,
	// none (the tracked entry's table) when the argument is empty.
	RefTableOpt
	// RefTableOpt2 is "N[,TABLE]": an optional table named second.
	RefTableOpt2
)

var proxyRefs = map[string]ProxyRef{}

// ProxyRefOf returns what the argument of the fetch called name names,
// RefNone for a fetch whose argument names no proxy.
func ProxyRefOf(name string) ProxyRef { return proxyRefs[name] }

// SplitServerRef splits a server fetch's argument "[BACKEND/]SERVER".
func SplitServerRef(arg string) (backend, server string) {
	for i := 0; i < len(arg); i++ {
		if arg[i] == '/' {
			return arg[:i], arg[i+1:]
		}
	}
	return "", arg
}

func identFetch(name string, t Type, get func(IdentityContext) (Ident, bool)) {
	RegisterFetch(Fetch{Name: name, Type: t, Compile: noArg(func(c Context) (Sample, bool) {
		ic, ok := c.(IdentityContext)
		if !ok {
			return Sample{}, false
		}
		id, ok := get(ic)
		if !ok {
			return Sample{}, false
		}
		if t == TypeInt {
			return Int(int64(id.ID)), true
		}
		return Str(id.Name), id.Name != ""
	})})
}

func stateFetch(name string, t Type, ref ProxyRef, st Stat) {
	proxyRefs[name] = ref
	RegisterFetch(Fetch{Name: name, Type: t, Arg: ArgOptional, Compile: func(a string) (FetchFunc, error) {
		px, srv := a, ""
		if ref == RefServer {
			if px, srv = SplitServerRef(a); srv == "" {
				return nil, errMissingServer
			}
		}
		return func(c Context) (Sample, bool) {
			sc, ok := c.(StateContext)
			if !ok {
				return Sample{}, false
			}
			n, ok := sc.State(st, px, srv)
			if !ok {
				return Sample{}, false
			}
			if t == TypeBool {
				return Bool(n != 0), true
			}
			return Int(n), true
		}, nil
	}})
}

// errMissingServer is a server fetch's error without a server name,
// haproxy's words.
var errMissingServer = fmt.Errorf("%w: missing server name", ErrSyntax)

func timeoutFetch(name string, k TimeoutKind) {
	RegisterFetch(Fetch{Name: name, Type: TypeInt, Compile: noArg(func(c Context) (Sample, bool) {
		sc, ok := c.(StateContext)
		if !ok {
			return Sample{}, false
		}
		ms, ok := sc.Timeout(k)
		return Int(ms), ok
	})})
}

func init() {
	identFetch("fe_name", TypeStr, func(c IdentityContext) (Ident, bool) { id, _, ok := c.FrontendIdent(); return id, ok })
	identFetch("fe_id", TypeInt, func(c IdentityContext) (Ident, bool) { id, _, ok := c.FrontendIdent(); return id, ok })
	identFetch("fe_defbe", TypeStr, func(c IdentityContext) (Ident, bool) {
		_, defbe, ok := c.FrontendIdent()
		return Ident{Name: defbe}, ok
	})
	identFetch("be_name", TypeStr, IdentityContext.BackendIdent)
	identFetch("be_id", TypeInt, IdentityContext.BackendIdent)
	identFetch("srv_name", TypeStr, IdentityContext.ServerIdent)
	identFetch("srv_id", TypeInt, IdentityContext.ServerIdent)
	identFetch("so_name", TypeStr, IdentityContext.ListenerIdent)
	identFetch("so_id", TypeInt, IdentityContext.ListenerIdent)

	for _, f := range []struct {
		name string
		t    Type
		ref  ProxyRef
		st   Stat
	}{
		{"srv_is_up", TypeBool, RefServer, StatSrvUp},
		{"srv_conn", TypeInt, RefServer, StatSrvConn},
		{"srv_conn_free", TypeInt, RefServer, StatSrvConnFree},
		{"srv_queue", TypeInt, RefServer, StatSrvQueue},
		{"srv_sess_rate", TypeInt, RefServer, StatSrvSessRate},
		{"srv_weight", TypeInt, RefServer, StatSrvWeight},
		{"srv_iweight", TypeInt, RefServer, StatSrvIWeight},
		{"srv_uweight", TypeInt, RefServer, StatSrvUWeight},
		{"be_conn", TypeInt, RefBackend, StatBeConn},
		{"be_conn_free", TypeInt, RefBackend, StatBeConnFree},
		{"be_sess_rate", TypeInt, RefBackend, StatBeSessRate},
		{"queue", TypeInt, RefBackend, StatBeQueue},
		{"avg_queue", TypeInt, RefBackend, StatBeAvgQueue},
		{"connslots", TypeInt, RefBackend, StatConnSlots},
		{"fe_conn", TypeInt, RefFrontend, StatFeConn},
		{"fe_req_rate", TypeInt, RefFrontend, StatFeReqRate},
		{"fe_sess_rate", TypeInt, RefFrontend, StatFeSessRate},
		{"table_cnt", TypeInt, RefTable, StatTableCnt},
		{"table_avl", TypeInt, RefTable, StatTableAvl},
	} {
		stateFetch(f.name, f.t, f.ref, f.st)
	}
	proxyRefs["nbsrv"] = RefBackend

	RegisterFetch(Fetch{Name: "stopping", Type: TypeBool, Compile: noArg(func(c Context) (Sample, bool) {
		sc, ok := c.(StateContext)
		return Bool(ok && sc.Stopping()), true
	})})
	// One process, as haproxy 2.6 always runs; its threads are lb's
	// goroutines, which a stream does not keep, so thread is 0 as for
	// haproxy's first thread.
	for name, v := range map[string]int64{"nbproc": 1, "proc": 1, "thread": 0} {
		RegisterFetch(Fetch{Name: name, Type: TypeInt, Compile: noArg(func(Context) (Sample, bool) { return Int(v), true })})
	}
	timeoutFetch("be_server_timeout", TimeoutBeServer)
	timeoutFetch("be_tunnel_timeout", TimeoutBeTunnel)
	timeoutFetch("cur_server_timeout", TimeoutCurServer)
	timeoutFetch("cur_tunnel_timeout", TimeoutCurTunnel)
	timeoutFetch("fe_client_timeout", TimeoutFeClient)
}

// LastRuleContext is a Context that knows the last final rule (allow,
// deny, tarpit) that matched: the file and line it is written at.
type LastRuleContext interface {
	LastRule() (file string, line int, ok bool)
}

func init() {
	RegisterFetch(Fetch{Name: "last_rule_file", Type: TypeStr, Compile: noArg(func(c Context) (Sample, bool) {
		lc, ok := c.(LastRuleContext)
		if !ok {
			return Sample{}, false
		}
		file, _, ok := lc.LastRule()
		return Str(file), ok
	})})
	RegisterFetch(Fetch{Name: "last_rule_line", Type: TypeInt, Compile: noArg(func(c Context) (Sample, bool) {
		lc, ok := c.(LastRuleContext)
		if !ok {
			return Sample{}, false
		}
		_, line, ok := lc.LastRule()
		return Int(int64(line)), ok
	})})
}
