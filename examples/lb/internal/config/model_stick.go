package config

import (
	"time"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
	"github.com/proxyblocks/proxyblocks/stick"
)

// Stick holds a proxy's stick table, connection rules and persistence
// rules (keywords_stick.go).
type Stick struct {
	// Table is the proxy's "stick-table", nil when it declares none. Its
	// Config.Name is the proxy's name, which rules use to refer to it.
	Table *StickTable
	// ConnRules are the "tcp-request connection" rules in order.
	ConnRules []ConnRule
	// SessRules are the "tcp-request session" rules in order: the same
	// actions but silent-drop, run once the handshake is done.
	SessRules []ConnRule
	// Rules are the "stick on|match|store-request" rules in order.
	Rules []StickRule
	// ContentRules are the "tcp-request content" rules in order (accept,
	// reject, track-sc, set-var, unset-var), run on the first bytes of a
	// TCP-mode connection, which they may wait for up to InspectDelay
	// ("tcp-request inspect-delay"): a frontend's before the backend is
	// chosen, a backend's after.
	ContentRules []ConnRule
	InspectDelay time.Duration
	// ResponseRules are a backend's "tcp-response content" rules in order
	// (accept, reject, close, set-var, set-var-fmt, unset-var,
	// set-log-level, set-nice, sc-inc-gpc0, sc-inc-gpc1, sc-set-gpt0,
	// send-spoe-group), run on what the server sends before it goes on
	// to the client, which they may wait for up to ResponseDelay
	// ("tcp-response inspect-delay") from the server connection's start.
	ResponseRules []ConnRule
	ResponseDelay time.Duration
}

// StickTable is one "stick-table" line.
type StickTable struct {
	Pos
	Config stick.Config
}

// ConnRule is one "tcp-request connection", "tcp-request session",
// "tcp-request content" or "tcp-response content" rule.
type ConnRule struct {
	Pos
	// Action is "accept", "reject", "silent-drop", "track-sc",
	// "set-var", "set-var-fmt", "unset-var", in connection rules
	// "set-mark", "set-tos", "set-src", "set-src-port", "set-dst",
	// "set-dst-port" (Key is then the expression), in connection rules
	// "expect-proxy" (layer4: the connection must open with a PROXY
	// header), and in content rules "capture", "set-log-level",
	// "set-nice", "set-priority-class", "set-priority-offset",
	// "send-spoe-group" (Var is then the SPOE engine, Key the group) and
	// "do-resolve" (Resolve), in response rules also "close".
	Action string
	// Args are the words a "lua" action (Var names it) passes to the
	// script's function.
	Args []string
	// Slot is the stick counter of track-sc (0, 1 or 2), and of the
	// sc-inc-gpc0/1, sc-set-gpt0, sc-inc-gpc and sc-set-gpt actions.
	Slot int
	// Index is the array element of sc-inc-gpc and sc-set-gpt
	// (HTTPRule.Index).
	Index int64
	// Key is the fetch the tracked key comes from ("src"; any sample
	// expression in content rules), set-var's expression or
	// set-var-fmt's format.
	Key string
	// Var is the variable of set-var and unset-var ("sess.name").
	Var string
	// Table names the proxy whose table is used; "" is the rule's own
	// proxy.
	Table string
	// RSTTTL is silent-drop's "rst-ttl"; 0 tries TCP_REPAIR first.
	RSTTTL int
	// LogLevel is a content rule's set-log-level: the level plus one,
	// -1 for silent.
	LogLevel int
	// Num is set-mark's mark, set-tos's value and set-nice's nice.
	Num int64
	// Resolve is a content rule's do-resolve section and family (Var
	// is then the variable, Key the host name's expression).
	Resolve DoResolve
	// Cond limits the rule; nil means always.
	Cond *acl.Cond
}

// StickRule is one "stick on", "stick match" or "stick store-request"
// rule.
type StickRule struct {
	Pos
	// Match looks the key up to send the client to its stored server;
	// Store records the chosen server under the key. "stick on" does both.
	// StoreResponse records the server that answered under a key read
	// from its response ("stick store-response", mode http).
	Match, Store, StoreResponse bool
	// Key is the sample expression the key comes from ("src",
	// "req.cook(SESSIONID)").
	Key string
	// Table names the proxy whose table is used; "" is the backend's own.
	Table string
	Cond  *acl.Cond
}

// StatsSocket is one global "stats socket" line: the runtime API on a
// unix socket or a TCP address.
type StatsSocket struct {
	Pos
	// Network is "unix", with Path the socket file's path, or "tcp",
	// with Path the host:port to listen on.
	Network string
	Path    string
	// Mode is the socket file's permission bits; 0 leaves the umask's.
	// Mode, UID and GID do not apply to a TCP socket, as in HAProxy.
	Mode uint32
	// Level is "user", "operator" (the default, as in HAProxy) or "admin".
	Level string
	// UID and GID own the socket file ("user"/"uid", "group"/"gid"); -1
	// leaves the process's.
	UID, GID int
}
