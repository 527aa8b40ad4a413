// Package config reads HAProxy-syntax configuration files into a typed model
// for the reference balancer.
//
// The accepted language is a subset of HAProxy's: the same sections (global,
// defaults, frontend, backend, listen), the same quoting and escaping rules,
// the same time units, and inheritance from the last defaults section before
// each proxy. Every keyword lives in a table for the section kinds that accept
// it, so a new keyword is one table entry. A keyword the tables do not know,
// or one used where it does not belong, is an error carrying file:line and
// the keyword: nothing is silently ignored.
package config

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/lua"
	"github.com/proxyblocks/proxyblocks/xprt/tls"
)

// Sentinel errors a caller can test for with errors.Is.
var (
	// ErrUnknownKeyword means no table knows the keyword.
	ErrUnknownKeyword = errors.New("unknown keyword")
	// ErrMisplaced means the keyword exists but not in this section.
	ErrMisplaced = errors.New("keyword not allowed here")
	// ErrBadValue means a keyword's argument is missing or malformed.
	ErrBadValue = errors.New("bad value")
	// ErrReference means a name points at nothing (a missing backend) or is
	// declared twice.
	ErrReference = errors.New("bad reference")
	// ErrUnsupported means HAProxy accepts it but this balancer does not
	// implement it yet.
	ErrUnsupported = errors.New("not supported")
)

// Pos is where something was declared.
type Pos struct {
	File string
	Line int
}

// String renders the position as file:line.
func (p Pos) String() string { return fmt.Sprintf("%s:%d", p.File, p.Line) }

// Error is one configuration error at a position.
type Error struct {
	Pos
	// Keyword is the offending keyword, empty when the error is about a
	// whole section or reference.
	Keyword string
	Err     error
}

// Error renders the error as file:line: message.
func (e *Error) Error() string { return e.Pos.String() + ": " + e.Err.Error() }

// Unwrap returns the underlying error so errors.Is finds the sentinels.
func (e *Error) Unwrap() error { return e.Err }

// Kind is the kind of a proxy section.
type Kind uint8

// Proxy section kinds. Listen is both a frontend and a backend.
const (
	KindDefaults Kind = 1 << iota
	KindFrontend
	KindBackend
	KindListen = KindFrontend | KindBackend
)

// String names the section kind as the configuration spells it.
func (k Kind) String() string {
	switch k {
	case KindDefaults:
		return "defaults"
	case KindFrontend:
		return "frontend"
	case KindBackend:
		return "backend"
	case KindListen:
		return "listen"
	}
	return "unknown"
}

// IsFrontend reports whether the proxy accepts connections.
func (k Kind) IsFrontend() bool { return k&KindFrontend != 0 }

// IsBackend reports whether the proxy has servers.
func (k Kind) IsBackend() bool { return k&KindBackend != 0 }

// Config is a whole parsed configuration.
type Config struct {
	Global Global
	// Proxies holds frontends, backends and listens in declaration order.
	Proxies []*Proxy
	// Warnings are things HAProxy also only warns about.
	Warnings []string
	// Notices are the messages of the .notice directives read, with
	// their file:line.
	Notices []string
	// Userlists are the "userlist" sections, in order.
	Userlists []*Userlist
	// Resolvers are the "resolvers" sections, in order.
	Resolvers []*Resolvers
	// Peers are the "peers" sections, in order.
	Peers []*PeersSection
	// Rings are the "ring" sections, in order.
	Rings []*RingSection
	// Caches are the "cache" sections, in order.
	Caches []*CacheSection
	// HTTPErrors are the "http-errors" sections, in order.
	HTTPErrors []*HTTPErrorsSection
	// Programs are the "program" sections, in order.
	Programs []*Program
	// Patterns holds the ACL pattern files and map files the
	// configuration reads, shared by every ACL, map converter and
	// set-map, del-map, add-acl or del-acl action that names one, and
	// changed at run time through these actions and the runtime API.
	Patterns *acl.Refs
	// localPeerSet tells SetLocalPeer ran.
	localPeerSet bool
	// statesLoaded tells the state files were read (Resolve).
	statesLoaded bool
}

// Proxy returns the proxy with that name whose kind overlaps k, or nil.
func (c *Config) Proxy(name string, k Kind) *Proxy {
	for _, p := range c.Proxies {
		if p.Name == name && p.Kind&k != 0 {
			return p
		}
	}
	return nil
}

// Global is the global section.
type Global struct {
	// Lua is the runtime of the files lua-load and lua-load-per-thread
	// load, nil when there are none.
	Lua *lua.Runtime
	// ExternalCheck is "external-check": external checks are allowed.
	// InsecureForkWanted is "insecure-fork-wanted", without which lb
	// warns, as HAProxy does, that an external check will likely fail.
	ExternalCheck      bool
	InsecureForkWanted bool
	// InsecureSetuidWanted is "insecure-setuid-wanted": taken, with no
	// effect, lb never keeping the programs it starts from gaining
	// privileges through setuid.
	InsecureSetuidWanted bool
	// H1CaseAdjust maps header names, as each entry of
	// "h1-case-adjust" and "h1-case-adjust-file" writes them, to the
	// spelling it gives them for the sides under "option
	// h1-case-adjust-bogus-client" or "-server". Only the entries
	// whose name is in lower case apply, as in HAProxy.
	H1CaseAdjust map[string]string
	// MaxConn caps concurrent connections for the whole process; 0 means
	// no cap.
	MaxConn int
	// LocalPeer is this process's name in the peers sections
	// ("localpeer", or lb's -L through SetLocalPeer); LocalPeerPos is
	// where "localpeer" was read.
	LocalPeer    string
	LocalPeerPos Pos
	// NbThread is accepted for compatibility and used as GOMAXPROCS when
	// set.
	NbThread int
	// Logs are the global log targets, which proxies use with "log global".
	Logs []Log
	// LogSendHostname is the host name syslog headers carry
	// ("log-send-hostname"); empty leaves it out, as HAProxy does.
	LogSendHostname string
	// LogTag is the syslog tag ("log-tag"); empty means "haproxy".
	LogTag string
	// Daemon runs the balancer in the background once it listens
	// ("daemon"; -d keeps it in the foreground).
	Daemon bool
	// MasterWorker runs lb in master-worker mode ("master-worker", or
	// lb's -W): SIGUSR2 and SIGHUP reload the configuration in place,
	// and the "program" sections run.
	MasterWorker bool
	// NoExitOnFailure keeps lb running when a program fails
	// ("master-worker no-exit-on-failure"); by default such a failure
	// stops everything.
	NoExitOnFailure bool
	// PidFile is where the running process writes its pid ("pidfile").
	PidFile string
	// Chroot is the directory the process confines itself to once its
	// listeners and files are open ("chroot").
	Chroot string
	// UID and GID are the user and group the process runs as once its
	// listeners are bound ("user"/"uid", "group"/"gid"); 0 keeps the
	// current ones, as in HAProxy.
	UID, GID int
	// SSLCaptureSize is tune.ssl.capture-buffer-size: how much of each
	// client's ClientHello (its suites, extensions, groups and point
	// formats, in that order) the ssl_fc_cipherlist_* and similar
	// fetches see; 0 keeps none.
	SSLCaptureSize int
	// SSLKeyLog is tune.ssl.keylog on: the TLS 1.3 secret fetches
	// (ssl_fc_client_traffic_secret_0 and the like) have a sample.
	SSLKeyLog bool
	// SSLKeyFetches tells which sides' key material fetches
	// (ssl_fc_client_random, ssl_bc_session_key and the like) the
	// configuration names, so that only those connections keep theirs.
	SSLKeyFetches struct{ Front, Back bool }
	// BufSize is tune.bufsize, the size of one I/O buffer.
	BufSize int
	// ServerStateFile and ServerStateBase name the file of servers'
	// states a previous process left ("server-state-file", relative to
	// "server-state-base" unless absolute).
	ServerStateFile, ServerStateBase string
	// CPUs are the processors the cpu-map lines give the process (their
	// union; lb runs one process whose threads the Go scheduler places),
	// nil for none.
	CPUs []int
	// MaxRewrite is the room a buffer keeps for header rewrites
	// (tune.maxrewrite; 1024, at most half a buffer, by default).
	MaxRewrite int
	// MaxHTTPHeaders bounds the header fields of an HTTP/1 message
	// (tune.http.maxhdr; 101 by default).
	MaxHTTPHeaders int
	// PipeSize is tune.pipesize, the kernel pipe size used for splicing;
	// 0 leaves the kernel default.
	PipeSize int
	// MaxPipes caps the pipes in use at once; 0 means derived from maxconn.
	MaxPipes int
	// RcvBufClient and RcvBufServer are tune.rcvbuf.client and
	// tune.rcvbuf.server, SndBufClient and SndBufServer tune.sndbuf.client
	// and tune.sndbuf.server: the socket buffer sizes (SO_RCVBUF,
	// SO_SNDBUF) set on client and server sockets. 0 leaves the kernel's
	// automatic sizing.
	RcvBufClient, RcvBufServer, SndBufClient, SndBufServer int
	// NoSplice forbids splicing everywhere.
	NoSplice bool
	// NoReusePort is "noreuseport": listening sockets are opened without
	// SO_REUSEPORT, so no other socket can share their port.
	NoReusePort bool
	// SSL holds the ssl-default-* and tune.ssl.* settings; nil means
	// HAProxy's defaults.
	SSL *tls.Defaults
	// StatsSockets are the runtime API sockets ("stats socket").
	StatsSockets []StatsSocket
	// StatsTimeout closes a runtime API connection left idle in prompt
	// mode ("stats timeout"); 0 means HAProxy's default of 10 s.
	StatsTimeout time.Duration
	// SessionCache is "ssl-session-cache shm PATH" (lb only): TLS
	// sessions kept in a file several lb processes share. Nil keeps them
	// in the process.
	SessionCache *SSLSessionCache
	// SessionSync is "ssl-session-sync ..." (lb only): TLS sessions sent
	// to, and received from, other hosts. Nil when not configured.
	SessionSync *SSLSessionSync
	// MaxConnRate and MaxSessRate cap the connections the whole process
	// accepts per second ("maxconnrate", "maxsessrate"); those over wait
	// in the kernel's backlog. 0 means no cap.
	MaxConnRate, MaxSessRate int
	// MaxSSLRate caps the connections the ssl bind lines accept per
	// second, so the TLS handshakes ("maxsslrate"); those over wait.
	MaxSSLRate int
	// HardStopAfter bounds a soft stop (SIGUSR1): connections still live
	// after it are closed and the process exits ("hard-stop-after"); 0
	// waits for them however long they last.
	HardStopAfter time.Duration
	// UlimitN is the open file limit the process sets for itself before
	// it binds ("ulimit-n"); 0 keeps the one it was given.
	UlimitN int
	// SpreadChecks moves each health check's interval by up to this
	// percentage either way, at random ("spread-checks", 0..50), so that
	// servers checked together drift apart.
	SpreadChecks int
	// Node and Description name and describe the process ("node",
	// "description"); informational.
	Node, Description string
	// Quiet keeps start-up warnings quiet ("quiet"); ZeroWarning makes
	// any warning stop the start ("zero-warning"); SetDumpable lets the
	// process dump core even after changing its user ("set-dumpable").
	Quiet, ZeroWarning, SetDumpable bool
	// UnixBind are the defaults of UNIX socket binds ("unix-bind").
	UnixBind UnixBind
	// StrictLimits makes an ulimit-n the system refuses stop the start
	// ("strict-limits") instead of a warning.
	StrictLimits bool
	// H2InitialWindow and H2MaxStreams are the HTTP/2 receive window of
	// each stream and the streams a client may open at once
	// ("tune.h2.initial-window-size", "tune.h2.max-concurrent-streams");
	// 0 keeps the mux's defaults (256 KiB and 100).
	H2InitialWindow, H2MaxStreams uint32
	// CompMaxLevel is the compression level ("tune.comp.maxlevel", 1 by
	// default, as in HAProxy).
	CompMaxLevel int
}

// Log is one log target.
type Log struct {
	Pos
	// Target is the target as written; "stdout" or "stderr" for those
	// two (fd@1 and fd@2 included).
	Target string
	// Network is "udp", "udp4", "udp6" or "unixgram" for a syslog
	// server, empty for stdout and stderr; Address is then HOST:PORT or
	// the socket's path.
	Network, Address string
	// Format is "raw", "short", "rfc3164" (the default) or "rfc5424".
	Format string
	// Facility is the syslog facility name, such as "local0".
	Facility string
	// Level is the highest level sent; empty means all.
	Level string
	// Len caps a line's length; 0 means 1024 as in HAProxy.
	Len int
	// Ring is the ring section a "ring@NAME" target names.
	Ring string
	// Sample keeps only some lines ("sample RANGES:SIZE"): of each run
	// of Sample.Size lines, those whose number (from 1) is in a range.
	Sample *LogSample
}

// LogSample is a log target's "sample" setting.
type LogSample struct {
	// Ranges are the line numbers kept, each [low, high], sorted.
	Ranges [][2]int
	Size   int
}

// Keep reports whether the line numbered n (from 0, counting every line
// offered to the target) is one the sample keeps.
func (s *LogSample) Keep(n uint64) bool {
	if s == nil {
		return true
	}
	i := int(n%uint64(s.Size)) + 1
	for _, r := range s.Ranges {
		if r[0] <= i && i <= r[1] {
			return true
		}
	}
	return false
}

// Timeouts are a proxy's timeouts; zero means unset (infinite).
type Timeouts struct {
	Connect, Client, Server, Tunnel, Queue, Check time.Duration
	// HTTPRequest and HTTPKeepAlive bound the wait for a request head and
	// for the next request of a keep-alive connection (HTTP mode).
	HTTPRequest, HTTPKeepAlive time.Duration
	// Tarpit is how long http-request tarpit holds a request before its
	// error answer ("timeout tarpit"); 0 means timeout connect.
	Tarpit time.Duration
	// ClientFin and ServerFin replace the client and server (or tunnel)
	// timeouts for a side once it has been sent a FIN ("timeout
	// client-fin", "timeout server-fin"): in mode tcp, and in mode http
	// for tunnelled connections (WebSocket, CONNECT).
	ClientFin, ServerFin time.Duration
}

// Options are a proxy's "option" switches.
type Options struct {
	TCPLog         bool
	SpliceAuto     bool
	SpliceRequest  bool
	SpliceResponse bool
	Redispatch     bool
	AllBackups     bool
	// Persist sends a request whose persistence cookie names a server
	// that is down (or in maintenance) to that server all the same
	// ("option persist"); with option redispatch a failed connect then
	// moves it.
	Persist bool
	// PreferLastServer sends an HTTP client's next request to the
	// server its previous one went to, over the connection kept to it,
	// while that server is usable, unless the algorithm hashes ("option
	// prefer-last-server").
	PreferLastServer bool
	DontLogNull      bool
	// DisableH2Upgrade keeps HTTP/1 a connection to an HTTP/1 listener
	// that opens with HTTP/2's preface, which is otherwise handed to
	// HTTP/2 ("option disable-h2-upgrade").
	DisableH2Upgrade bool
	// IgnoreProbes has an HTTP frontend neither log nor count a
	// connection that closes or times out without sending a byte
	// ("option http-ignore-probes").
	IgnoreProbes bool
	// DontLogNormal logs only the connections (HTTP: requests) that went
	// wrong: an error or timeout, a retry, a redispatch, or an HTTP status
	// of 500 or more ("option dontlog-normal").
	DontLogNormal bool
	// LogSeparateErrors logs those at the err level instead of info
	// ("option log-separate-errors"), and so do TLS handshake failures.
	LogSeparateErrors bool
	// NoLinger closes connections with a reset (SO_LINGER 0): a
	// frontend's client connections, a backend's server connections.
	NoLinger bool
	// LogHealthChecks logs each health check that changes a server's
	// health or status ("option log-health-checks").
	LogHealthChecks bool
	// LogASAP writes a TCP connection's traffic line as soon as its
	// server connection is up, not at its end ("option logasap").
	LogASAP bool
	// SmartAccept holds back the ACK of a client's first bytes so that it
	// leaves with the answer ("option tcp-smart-accept"); SmartAcceptSet
	// tells the option was written, either way: without it, HTTP
	// frontends and ssl bind lines have it, as in HAProxy.
	SmartAccept, SmartAcceptSet bool
	// ContStats counts a TCP session's bytes in the statistics while it
	// runs, not only when it ends ("option contstats").
	ContStats bool
	// BufferRequest waits for the request body, up to a buffer less the
	// rewrite reserve, before the proxy's rules run and the server is
	// connected ("option http-buffer-request").
	BufferRequest bool
	// RedispatchAfter is option redispatch's interval: a retry moves to
	// another server every RedispatchAfter-th time (> 0), or on the
	// -RedispatchAfter-th retry before the end and its multiples (< 0;
	// -1, the last, by default).
	RedispatchAfter int
	// AbortOnClose drops a request whose client closed its side while it
	// waits in a queue or before its server connection is made ("option
	// abortonclose").
	AbortOnClose bool
	// Transparent has a backend that balances nothing (no "balance")
	// connect each client to the address it reached ("option
	// transparent"), as set-dst may have changed it.
	Transparent bool
	// SmartConnect holds back the handshake's last ACK of a server
	// connection so that it leaves with the first bytes sent ("option
	// tcp-smart-connect").
	SmartConnect bool
	// UseProxyHeader has a frontend answer a proxied request (an
	// absolute URI, a CONNECT, an HTTP/2 request) that http-request
	// auth stops with 407 and Proxy-Authenticate ("option
	// http-use-proxy-header").
	UseProxyHeader bool
	// AcceptInvalidRequest and AcceptInvalidResponse are "option
	// accept-invalid-http-request" (frontend) and "option
	// accept-invalid-http-response" (backend): taken, with no effect on
	// lb's HTTP/1 parser.
	AcceptInvalidRequest, AcceptInvalidResponse bool
	// SocketStats is "option socket-stats" (frontend): taken, with no
	// effect, lb's statistics having no per-listener lines.
	SocketStats bool
	// PretendKeepAlive keeps a backend from telling its servers it
	// closes the connection (no "Connection: close" on requests sent in
	// close modes), though it still does ("option
	// http-pretend-keepalive").
	PretendKeepAlive bool
	// H1CaseAdjustClient and H1CaseAdjustServer write the header names
	// sent over HTTP/1 to the clients (frontend) or to the servers
	// (backend) in the case the global h1-case-adjust entries give
	// ("option h1-case-adjust-bogus-client", "-server").
	H1CaseAdjustClient, H1CaseAdjustServer bool
	// CheckCache refuses a response a shared cache could keep that
	// sets a cookie ("option checkcache", backend).
	CheckCache bool
	// IndependentStreams and HTTPNoDelay are "option
	// independent-streams" and "option http-no-delay": taken, with no
	// effect (see the README).
	IndependentStreams, HTTPNoDelay bool
}

// TCPKeepAlive is TCP keepalive on one side of a proxy's connections:
// "option clitcpka" and the clitcpka-* keywords for the client side,
// "option srvtcpka" and srvtcpka-* for the server side ("option tcpka"
// turns both on).
type TCPKeepAlive struct {
	// On sends keepalive probes on the side's sockets.
	On bool
	// Idle is the time a connection stays idle before the first probe
	// (TCP_KEEPIDLE), Interval the time between probes (TCP_KEEPINTVL)
	// and Count the unanswered probes that drop the connection
	// (TCP_KEEPCNT). Zero leaves the system's value
	// (net.ipv4.tcp_keepalive_time, _intvl and _probes). The kernel takes
	// times in whole seconds: a fraction counts as a whole one.
	Idle, Interval time.Duration
	Count          int
}

// Proxy is a frontend, backend, listen or defaults section.
type Proxy struct {
	Pos
	Kind Kind
	Name string
	// Mode is "tcp" or "http".
	Mode string
	// HTTP holds the HTTP-mode settings (model_http.go).
	HTTP HTTP
	// UniqueIDFormat makes each request's (or TCP session's) unique ID
	// ("unique-id-format"), which the unique-id fetch and %ID read; nil
	// for none. UniqueIDHeader names the request header that carries it
	// to the server ("unique-id-header"), "" for none.
	UniqueIDFormat []LogItem
	UniqueIDHeader string
	// LogTag is the proxy's own syslog tag ("log-tag"), "" for the
	// global one.
	LogTag string
	// SendNameHeader names the request header that tells the server its
	// own name ("http-send-name-header", mode http), "" for none.
	SendNameHeader string
	// LogFormat is the traffic line's format ("log-format"); when set it
	// replaces option tcplog's and option httplog's, and turns the
	// traffic line on.
	LogFormat []LogItem
	// LogFormatPos is where log-format was set.
	LogFormatPos Pos
	// ACLs are the proxy's named ACLs ("acl NAME ..."), which conditions
	// refer to.
	ACLs acl.Set
	// Stick holds the stick table, connection rules and persistence
	// (model_stick.go).
	Stick    Stick
	Timeouts Timeouts
	Options  Options
	// CliTCPKA is TCP keepalive on a frontend's client sockets, SrvTCPKA
	// on a backend's server sockets; both are off unless an option turns
	// them on, as in HAProxy.
	CliTCPKA, SrvTCPKA TCPKeepAlive
	// MaxConn caps a frontend's concurrent connections; 0 means the global
	// maxconn.
	MaxConn int
	// Disabled is "disabled" (undone by "enabled"): the section is
	// checked but not started, as haproxy's: a frontend does not listen,
	// a backend has no server (its traffic gets 503) and runs no check,
	// and neither shows in the statistics.
	Disabled bool
	// FullConn is a backend's load ("fullconn") at which servers with a
	// minconn reach their maxconn; 0 means a tenth of the maxconn of the
	// frontends that may send it traffic, as in HAProxy.
	FullConn int
	// Backlog sizes the kernel's accept queue of a frontend's listeners
	// ("backlog"); 0 leaves it to the bind lines' or the maxconn values,
	// as in HAProxy.
	Backlog int
	// Description describes the proxy ("description"); informational.
	Description string
	// ID is the proxy's numeric id ("id"), unique among proxies; 0 when
	// not set.
	ID    int
	IDPos Pos
	// Source is the local address a backend dials its servers from
	// ("source" in a backend, listen or defaults section) when a server
	// sets none of its own; "" for any.
	Source string
	// RateLimitSessions caps the connections a frontend accepts per
	// second, over all its bind lines ("rate-limit sessions"); those over
	// it wait in the kernel's backlog. 0 means no cap.
	RateLimitSessions int
	// DefaultBackend names the backend a frontend sends connections to.
	DefaultBackend    string
	DefaultBackendPos Pos
	// Balance is the load-balancing algorithm; BalanceSet tells that a
	// "balance" line (the section's or its defaults') chose it.
	Balance    string
	BalanceSet bool
	// Dispatch is where a backend that balances nothing (no "balance")
	// sends every connection ("dispatch ADDR:PORT"), "" for none.
	Dispatch string
	// Cookie is the backend's persistence cookie ("cookie NAME ..."), nil
	// for none.
	Cookie *CookiePersist
	// PersistRDPCookie is the cookie name of "persist rdp-cookie" ("msts"
	// by default), "" without it: a client whose RDP cookie names a
	// server's address and port goes straight back to that server.
	PersistRDPCookie string
	// DynamicCookieKey ("dynamic-cookie-key") is the secret the dynamic
	// cookies of the servers are made from ("" for none).
	DynamicCookieKey string
	// LoadServerState is "load-server-state-from-file": "global" (the
	// global server-state-file), "local" (ServerStateFileName, or the
	// backend's name, below server-state-base), "none" or "" (none).
	LoadServerState string
	// ServerStateFileName is "server-state-file-name" for local states.
	ServerStateFileName string
	// Retries is how many times a failed connect, or a request RetryOn
	// names, is tried again.
	Retries int
	// RetryOn are the conditions that retry ("retry-on"; conn-failure by
	// default).
	RetryOn RetryOn
	// LogGlobal is set by "log global". LogGlobalSkip is how many of
	// the global log targets, the last ones, it does not take: those
	// declared after the line was read, as HAProxy copies the global
	// list as it stands then (a defaults section's copy passing on to
	// the proxies that inherit it).
	LogGlobal     bool
	LogGlobalSkip int
	// logGlobalAt is how many global log targets there were when "log
	// global" was read.
	logGlobalAt int
	// Logs are the proxy's own log targets.
	Logs    []Log
	Binds   []Bind
	Servers []*Server
	// UseServers are the "use-server" rules in order.
	UseServers []UseServer
	// PersistRules are the "force-persist" and "ignore-persist" rules in
	// order; the first whose condition holds applies.
	PersistRules []PersistRule
	// DefaultServer holds "default-server" options applied to later
	// servers.
	DefaultServer Server
	// TCPCheck is option tcp-check or option redis-check, nil for neither;
	// the later of those and option httpchk wins, as in HAProxy.
	TCPCheck *TCPCheck
	// ExternalCheckCommand is "external-check command": the program an
	// external check (TCPCheck.External) runs, without a shell.
	// ExternalCheckPath is "external-check path": the PATH it runs with,
	// empty by default as in HAProxy.
	ExternalCheckCommand string
	ExternalCheckPath    string
	// TCPCheckRules are the "tcp-check" lines option tcp-check runs. A
	// section that declares its own replaces those of its defaults.
	TCPCheckRules []TCPCheckRule
	tcpCheckOwn   bool // TCPCheckRules were declared in this section
	statsOwn      bool // HTTP.Stats was made or copied in this section
	compOwn       bool // HTTP.Compression was made or copied in this section
	// KeepAliveQueue is max-keep-alive-queue plus one, 0 when unset: the
	// server of a client's kept connection (option prefer-last-server)
	// is left for the algorithm's choice when it is full and that many
	// requests wait for it already.
	KeepAliveQueue int
	// Filters are the proxy's "filter" lines and the cache filters its
	// cache rules declare implicitly, in order.
	Filters      []Filter
	httpCheckOwn bool // http-check lines were read in this section
	// httpCheckRules says this section has http-check send or expect
	// lines, httpChk that option httpchk is on (or inherited).
	httpCheckRules, httpChk bool
}

// Bind is one bind line.
type Bind struct {
	Pos
	// Addrs are host:port strings ("" host means every address).
	Addrs []string
	// AcceptProxy requires a PROXY header (v1 or v2) on every connection.
	AcceptProxy bool
	// Name is an optional name for the listener.
	Name string
	// SSL is the TLS side of the line (ssl, crt, alpn...).
	SSL BindSSL
	// Proto forces the mux ("h1", "h2"), as "proto" does.
	Proto string
	// Backlog sizes the kernel's accept queue of the line's sockets
	// ("backlog"); 0 takes the frontend's backlog, else as HAProxy the
	// line's maxconn, the frontend's, the global one.
	Backlog int
	// MaxConn caps the connections the line's listeners hold at once
	// ("maxconn" on the bind line), within the frontend's; 0 for no cap
	// of its own.
	MaxConn int
	// DeferAccept accepts a connection only once the client has sent
	// something ("defer-accept").
	DeferAccept bool
	// FastOpen enables TCP Fast Open on the line's sockets ("tfo").
	FastOpen bool
	// UserTimeout is the line's TCP_USER_TIMEOUT ("tcp-ut"), 0 for the
	// system's; MaxSeg its MSS ("mss": negative lowers each accepted
	// connection's by that much); Interface the network interface its
	// sockets are bound to ("interface"); Transparent lets it bind an
	// address that is not local ("transparent"); V6Only is "v6only" or
	// "v4v6", "" for neither.
	UserTimeout time.Duration
	MaxSeg      int
	Interface   string
	Transparent bool
	V6Only      string
	// UnixMode, UnixUID and UnixGID are the mode and owner of a UNIX
	// socket's file ("mode", "uid"/"user", "gid"/"group"), -1 to leave
	// them as the process creates them.
	UnixMode, UnixUID, UnixGID int
	// ID is the listener's id ("id"), 0 for none; Nice is its "nice",
	// which lb reads and checks but has no use for, having one scheduler
	// for every listener.
	ID, Nice int
}

// Server is one server line.
type Server struct {
	Pos
	Name string
	// Addr is host:port; with MapPorts, host:N where N is the offset
	// added to the port each client connected to (DialAddr).
	Addr     string
	MapPorts bool
	// State is the server's line in the state file its backend loads
	// (load-server-state-from-file), nil for none.
	State *ServerState
	// ID is the server's numeric id, assigned in declaration order unless
	// set with "id".
	ID      int
	Weight  int
	MaxConn int
	// MinConn ("minconn") makes MaxConn dynamic, as HAProxy's: under the
	// backend's fullconn, the server takes max(MinConn, MaxConn×load /
	// fullconn) connections, the load being the backend's connections,
	// queued ones included; 0 means a fixed MaxConn.
	MinConn int
	// CheckProto is "check-proto": the mux the HTTP health checks speak
	// ("h1", "h2"); empty, the server's Proto. CheckALPN is
	// "check-alpn": the protocols the checks' TLS handshake offers in
	// place of the server's alpn, the one agreed on picking the mux.
	CheckProto string
	CheckALPN  []string
	// CheckSNI is the server name the TLS health checks send
	// ("check-sni"); "" for the traffic's.
	CheckSNI string
	// MaxQueue caps the connections waiting in the server's own queue
	// ("maxqueue"); 0 means no cap. Past it a connection the algorithm
	// sends to this server is refused (SQ), as in HAProxy.
	MaxQueue int
	Check    bool
	Inter    time.Duration
	// FastInter is the check interval while the server is going up or
	// down ("fastinter"), DownInter while it is down ("downinter"); 0
	// means Inter, as in HAProxy.
	FastInter, DownInter time.Duration
	// SlowStart is the time over which a server coming back up after a
	// failure ramps from a small share of its weight (and of its
	// maxconn) to the whole of it ("slowstart"), in whole seconds as
	// HAProxy keeps it; 0 means at once. It never applies at start.
	SlowStart time.Duration
	// Cookie is the value of the backend's persistence cookie that names
	// this server ("cookie"); "" for none.
	Cookie     string
	Rise, Fall int
	Backup     bool
	Disabled   bool
	// InitAddr are the server's "init-addr" methods (last, libc, none, or
	// IP addresses), nil for HAProxy's default, last then libc; Resolve
	// applies them.
	InitAddr []string
	// Unresolved marks a server Resolve left without an address (init-addr
	// none): it stays in maintenance, until its resolvers find it one
	// if it has some.
	Unresolved  bool
	SendProxy   bool
	SendProxyV2 bool
	// PPv2 is what "proxy-v2-options" adds to a v2 PROXY header.
	PPv2 PPv2Options
	// UserTimeout is the TCP_USER_TIMEOUT of the server's connections
	// ("tcp-ut"), 0 for the system's; FastOpen sends their first bytes
	// with the SYN where the server allows it ("tfo"); NonStick keeps
	// the server out of the stick tables' store rules ("non-stick",
	// undone by "stick").
	UserTimeout time.Duration
	FastOpen    bool
	NonStick    bool
	// Kept HTTP connections: PoolMaxConn caps the idle ones ("pool-max-
	// conn", -1 for HAProxy's no cap, which lb bounds at 256); MaxReuse
	// is how many times one may be reused ("max-reuse", -1 for no
	// limit); PoolPurgeDelay is how long an idle one is kept
	// ("pool-purge-delay", 5 s by default, 0 for ever); PoolLowConn
	// ("pool-low-conn") is read and checked, lb having one pool per
	// server and no threads to take connections from.
	PoolMaxConn, MaxReuse, PoolLowConn int
	PoolPurgeDelay                     time.Duration
	// Source is the local address to dial from, "" for any.
	Source string
	// SSL is the TLS side of the line (ssl, verify, sni...) and the
	// send-proxy-v2-ssl options.
	SSL ServerSSL
	// Proto forces the mux towards the server ("h1", "h2").
	Proto string
	// CheckPort and CheckAddr send health checks elsewhere than Addr
	// ("port", "addr"); 0 and "" keep Addr's. Checks sent elsewhere go
	// plain and without a PROXY header, as in HAProxy, unless CheckSSL
	// ("check-ssl") and CheckSendProxy ("check-send-proxy") ask; the
	// latter also sends one when the traffic does not.
	CheckPort      int
	CheckAddr      string
	CheckSSL       bool
	CheckSendProxy bool
	// SOCKS4 is the address (IP:port once resolved) of the SOCKS4 proxy
	// the server's connections go through ("socks4"), "" for none; the
	// health checks go through it too only with CheckViaSOCKS4
	// ("check-via-socks4").
	SOCKS4         string
	CheckViaSOCKS4 bool
	// OnMarkedDown is "shutdown-sessions" when the server's connections
	// are closed as a check marks it down ("on-marked-down"), and
	// OnMarkedUp "shutdown-backup-sessions" when the backup servers'
	// connections are closed as a check marks it up ("on-marked-up").
	OnMarkedDown, OnMarkedUp string
	// Observe is "layer4" when the server's connect failures count
	// against it ("observe"): ErrorLimit consecutive ones ("error-limit",
	// 10 by default) run OnError ("on-error": "fastinter", the default,
	// "fail-check", "sudden-death" or "mark-down").
	Observe    string
	ErrorLimit int
	OnError    string
	// AgentCheck runs HAProxy's agent check ("agent-check"): every
	// AgentInter (0: Inter) a TCP connection to AgentAddr (""
	// for CheckAddr, else the server's address) at AgentPort (0 for
	// CheckPort) sends AgentSend, if any, and reads one line whose words
	// set the server's weight, maxconn, administrative and operational
	// state. Parsing refuses an agent check with neither port.
	AgentCheck bool
	AgentPort  int
	AgentAddr  string
	AgentInter time.Duration
	AgentSend  string
	// Resolvers names the resolvers section that resolves the server's
	// host name at run time ("resolvers"), "" for none. ResolvePrefer
	// is the family asked first ("resolve-prefer", "" for HAProxy's
	// ipv6), ResolveNets the networks whose addresses are preferred
	// ("resolve-net"), and ResolveAllowDupIP lets the server take an
	// address another server of its backend with the same name has
	// ("resolve-opts allow-dup-ip").
	Resolvers string
	// FQDN is the host name the resolvers ask for, kept by Resolve when
	// it gives the server its first address.
	FQDN              string
	ResolvePrefer     string
	ResolveNets       []netip.Prefix
	ResolveAllowDupIP bool
	// SRV is the DNS SRV record name the server's address names (it
	// starts with '_' and has no port, the server has resolvers): the
	// resolvers ask for it, and each of its records gives one of the
	// servers naming it a host name, a port and a weight. The server
	// starts without an address. ResolveIgnoreWeight ("resolve-opts
	// ignore-weight") keeps the configured weight.
	SRV                 string
	ResolveIgnoreWeight bool
	// Track is what "track" names, [BACKEND/]SERVER, "" for none: the
	// server then runs no check and takes the operational state of
	// TrackBackend's TrackServer, which the parser resolves.
	Track                     string
	TrackBackend, TrackServer string
}

// RetryOn is a set of the conditions "retry-on" names.
type RetryOn uint32

// The conditions of "retry-on". Beyond a connection's failure, each is a
// layer-7 retry: the request goes again, once the server's answer (or
// its lack) says so.
const (
	RetryConnFailure     RetryOn = 1 << iota // conn-failure: the connection failed
	RetryEmptyResponse                       // empty-response: the server closed before a response
	RetryJunkResponse                        // junk-response: the response was not HTTP
	RetryResponseTimeout                     // response-timeout: timeout server before a response
	Retry0RTTRejected                        // 0rtt-rejected: the server refused early data
	RetryStatusShift                         // first of the status bits, in retryStatuses' order
)

// retryStatuses are the statuses retry-on accepts, in the order of their
// bits from RetryStatusShift.
var retryStatuses = []int{401, 403, 404, 408, 425, 500, 501, 502, 503, 504}

// RetryAllErrors is what "all-retryable-errors" stands for.
var RetryAllErrors = RetryConnFailure | RetryEmptyResponse | RetryJunkResponse | RetryResponseTimeout | Retry0RTTRejected |
	RetryStatus(500) | RetryStatus(502) | RetryStatus(503) | RetryStatus(504)

// RetryStatus is the condition of a response status, 0 for a status
// retry-on cannot name.
func RetryStatus(status int) RetryOn {
	for i, s := range retryStatuses {
		if s == status {
			return RetryStatusShift << i
		}
	}
	return 0
}

// Layer7 reports whether any condition beyond a connection's failure is
// set.
func (r RetryOn) Layer7() bool { return r&^RetryConnFailure != 0 }

// Built-in defaults, as in HAProxy.
const (
	DefaultRetries = 3
	DefaultInter   = 2 * time.Second
	DefaultRise    = 2
	DefaultFall    = 3
	DefaultBufSize = 16384
	MaxWeight      = 256
)

func newDefaults() *Proxy {
	return &Proxy{
		Kind:    KindDefaults,
		Mode:    "tcp",
		Balance: "roundrobin",
		Retries: DefaultRetries,
		RetryOn: RetryConnFailure,
		DefaultServer: Server{
			Weight: 1,
			Inter:  DefaultInter,
			Rise:   DefaultRise,
			Fall:   DefaultFall,
			// As in HAProxy: error-limit 10, on-error fastinter.
			ErrorLimit: 10,
			OnError:    "fastinter",
			// As in HAProxy: no cap on idle or reuses, purged after 5 s.
			PoolMaxConn:    -1,
			MaxReuse:       -1,
			PoolPurgeDelay: 5 * time.Second,
		},
	}
}

// inherit makes a new proxy section starting from the defaults d, as
// HAProxy copies its defaults proxy into each new proxy.
func inherit(d *Proxy, kind Kind, name string, pos Pos) *Proxy {
	p := *d
	p.Kind, p.Name, p.Pos = kind, name, pos
	p.Logs = append([]Log(nil), d.Logs...)
	p.Binds, p.Servers = nil, nil
	p.tcpCheckOwn, p.httpCheckOwn, p.statsOwn, p.compOwn = false, false, false, false
	p.httpCheckRules = false
	return &p
}

// CookiePersist is "cookie NAME [insert|rewrite|prefix] [indirect]
// [nocache] [postonly] [preserve] [httponly] [secure] [domain D]...
// [attr A]...": HTTP persistence on a cookie naming the server.
type CookiePersist struct {
	Name string
	// Mode is "insert" (the balancer sets the cookie), "rewrite" (it
	// rewrites the value of the server's own), "prefix" (it puts the
	// server's value before the server's own, with '~'), or "" (passive:
	// the server sets the cookie with its own value).
	Mode string
	// Indirect: no cookie is set for a client that already has a valid
	// one, a server's own is removed, and in insert mode the cookie is
	// taken out of the requests servers see.
	Indirect bool
	// NoCache adds "Cache-control: private" to a cacheable response that
	// sets the cookie; PostOnly sets it only in answers to POST; Preserve
	// leaves a cookie the server sets alone.
	NoCache, PostOnly, Preserve bool
	// HTTPOnly, Secure, Domains and Attrs are the attributes the set
	// cookie carries.
	HTTPOnly, Secure bool
	Domains          []string
	Attrs            []string
	// MaxIdle and MaxLife ("maxidle", "maxlife", in seconds) date the
	// inserted cookie, "VALUE|LAST|FIRST" in HAProxy's base64 of the
	// time over 4: a cookie last seen longer than MaxIdle ago, or first
	// set longer than MaxLife ago, is ignored; 0 for no limit.
	MaxIdle, MaxLife time.Duration
	// Dynamic ("dynamic") gives each server without a cookie value of
	// its own one made from the backend's DynamicCookieKey and the
	// server's address and port.
	Dynamic bool
}

// GlobalLogs returns the global log targets "log global" gave the
// proxy, none without the line.
func (px *Proxy) GlobalLogs(g *Global) []Log {
	if !px.LogGlobal {
		return nil
	}
	return g.Logs[:max(len(g.Logs)-px.LogGlobalSkip, 0)]
}
