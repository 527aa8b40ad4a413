// Package acl is the balancer's condition engine: HAProxy's ACLs.
//
// An ACL is a named test, "acl NAME FETCH [flags] [op] VALUE...": a sample
// fetch reads one value from the connection or request (src, dst_port,
// sc0_conn_rate, ...), and a match method compares it with the patterns
// (int comparison, IP/CIDR, ...). Several "acl" lines with one name are
// ORed. A condition, "if|unless TERM...", combines named ACLs and
// anonymous ones ("{ FETCH op VALUE }"), each optionally negated with "!",
// ANDed by juxtaposition and ORed with "or" or "||".
//
// Fetches and match methods live in registries keyed by name, so a new
// fetch (an HTTP one such as path or hdr(NAME)) or a new match method
// (beg, sub, reg...) is one Register call from any file, usually an init
// function. A fetch receives a Context: the connection-level Context gives
// addresses, and a fetch that needs more (tracked stick counters, an HTTP
// request) asserts the Context to the interface it needs, such as Tracker;
// a fetch whose Context lacks it finds no sample, and the ACL does not
// match.
package acl

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Sentinel errors of parsing, which callers test with errors.Is.
var (
	// ErrUnknownFetch means no fetch or ACL keyword has that name.
	ErrUnknownFetch = errors.New("unknown fetch method")
	// ErrUnknownMatch means no match method has that name.
	ErrUnknownMatch = errors.New("unknown match method")
	// ErrUnknownACL means a condition names an ACL that was not declared.
	ErrUnknownACL = errors.New("no such ACL")
	// ErrSyntax means the words do not form an expression or condition.
	ErrSyntax = errors.New("invalid ACL syntax")
	// ErrBadPattern means a pattern does not fit the match method.
	ErrBadPattern = errors.New("invalid pattern")
)

// Type is the type of a sample.
type Type uint8

// Sample types.
const (
	TypeBool Type = iota + 1 // Int holds 0 or 1
	TypeInt                  // Int
	TypeIP                   // IP
	TypeStr                  // Str
)

// String names the type.
func (t Type) String() string {
	switch t {
	case TypeBool:
		return "bool"
	case TypeInt:
		return "int"
	case TypeIP:
		return "ip"
	case TypeStr:
		return "str"
	}
	return "Type(" + strconv.Itoa(int(t)) + ")"
}

// Sample is one fetched value.
type Sample struct {
	Type Type
	Int  int64
	IP   netip.Addr
	Str  string
}

// Bool makes a boolean sample.
func Bool(b bool) Sample {
	if b {
		return Sample{Type: TypeBool, Int: 1}
	}
	return Sample{Type: TypeBool}
}

// Int makes an integer sample.
func Int(n int64) Sample { return Sample{Type: TypeInt, Int: n} }

// IP makes an address sample.
func IP(a netip.Addr) Sample { return Sample{Type: TypeIP, IP: a} }

// Str makes a string sample.
func Str(s string) Sample { return Sample{Type: TypeStr, Str: s} }

// String renders the sample as text, the way string match methods see
// a sample of another type.
func (s Sample) String() string {
	switch s.Type {
	case TypeBool, TypeInt:
		return strconv.FormatInt(s.Int, 10)
	case TypeIP:
		return s.IP.String()
	}
	return s.Str
}

// Context is what fetches read: at least the connection's addresses. The
// balancer's contexts implement more interfaces (Tracker; an HTTP context
// carries the request) that fetches assert to.
type Context interface {
	// Src is the client's address (as a PROXY header told, if any).
	Src() netip.AddrPort
	// Dst is the address the client connected to.
	Dst() netip.AddrPort
}

// FetchFunc reads a sample from ctx; ok is false when there is none (the
// ACL using it then does not match).
type FetchFunc func(ctx Context) (s Sample, ok bool)

// ArgMode says whether a fetch takes an argument in parentheses.
type ArgMode uint8

// Argument modes.
const (
	ArgNone     ArgMode = iota // "src"
	ArgOptional                // "src_conn_rate" or "src_conn_rate(tbl)"
	ArgRequired                // "hdr(host)"
)

// Fetch describes a sample fetch.
type Fetch struct {
	// Name is the keyword, without argument.
	Name string
	// Type is the type of the samples it returns.
	Type Type
	// Arg says whether "(ARG)" may or must follow the name.
	Arg ArgMode
	// Compile returns the function for one use of the fetch, given its
	// argument ("" when none), so arguments are checked once at
	// configuration time.
	Compile func(arg string) (FetchFunc, error)
	// Match is the default match method; "" picks it from Type (bool,
	// int, ip, str), and MatchRequired makes an ACL name one with -m, as
	// HAProxy requires for its binary samples.
	Match string
	// CompileEach, when set, returns the function an ACL uses instead of
	// Compile's: it offers every sample the fetch finds (every value of
	// a header, say) and the ACL matches when any matches, as HAProxy
	// iterates over all occurrences in an ACL. It may return nil to keep
	// the single sample (an argument naming one occurrence).
	CompileEach func(arg string) (EachFunc, error)
}

// MatchRequired is the Fetch.Match of a fetch whose ACLs must name their
// match method with -m.
const MatchRequired = "-m"

// EachFunc calls match with each sample a fetch finds in ctx, in order,
// until one returns true, and reports whether one did.
type EachFunc func(ctx Context, match func(Sample) bool) bool

// MatchOptions are the flags given before the patterns.
type MatchOptions struct {
	// IgnoreCase is "-i".
	IgnoreCase bool
}

// Matcher is a match method: it compiles the pattern words of one ACL
// line into a predicate over samples.
type Matcher struct {
	// Name is the method's name after "-m".
	Name string
	// Compile turns the pattern words into a predicate, which is true
	// when the sample matches any pattern.
	Compile func(patterns []string, opts MatchOptions) (func(Sample) bool, error)
}

type keyword struct{ fetch, match string }

var registry = struct {
	sync.RWMutex
	fetches  map[string]Fetch
	matchers map[string]Matcher
	keywords map[string]keyword
}{fetches: map[string]Fetch{}, matchers: map[string]Matcher{}, keywords: map[string]keyword{}}

// RegisterFetch adds a fetch. It panics if the name is taken or the
// description is incomplete: registration happens at start-up, from code,
// and a clash is a programming error.
func RegisterFetch(f Fetch) {
	if f.Name == "" || f.Compile == nil || f.Type == 0 {
		panic("acl: RegisterFetch: name, type and compile function are required")
	}
	registry.Lock()
	defer registry.Unlock()
	if _, ok := registry.fetches[f.Name]; ok {
		panic("acl: fetch " + f.Name + " registered twice")
	}
	registry.fetches[f.Name] = f
}

// RegisterMatch adds a match method. It panics if the name is taken.
func RegisterMatch(m Matcher) {
	if m.Name == "" || m.Compile == nil {
		panic("acl: RegisterMatch: name and compile function are required")
	}
	registry.Lock()
	defer registry.Unlock()
	if _, ok := registry.matchers[m.Name]; ok {
		panic("acl: match method " + m.Name + " registered twice")
	}
	registry.matchers[m.Name] = m
}

// RegisterKeyword adds an ACL keyword that is a fetch with a fixed match
// method, as HAProxy's path_beg is "path -m beg". It panics if the name is
// taken.
func RegisterKeyword(name, fetch, match string) {
	registry.Lock()
	defer registry.Unlock()
	if _, ok := registry.keywords[name]; ok {
		panic("acl: keyword " + name + " registered twice")
	}
	registry.keywords[name] = keyword{fetch: fetch, match: match}
}

// LookupFetch returns the fetch registered under name.
func LookupFetch(name string) (Fetch, bool) {
	registry.RLock()
	defer registry.RUnlock()
	f, ok := registry.fetches[name]
	return f, ok
}

// LookupMatch returns the match method registered under name.
func LookupMatch(name string) (Matcher, bool) {
	registry.RLock()
	defer registry.RUnlock()
	m, ok := registry.matchers[name]
	return m, ok
}

// CompileFetch resolves a fetch expression such as "src", "hdr(host)" or
// "src_conn_rate(tbl)" into its description and function, for callers
// that use fetches outside ACLs (track-sc0 src, stick on src).
func CompileFetch(expr string) (Fetch, FetchFunc, error) {
	return (*Refs)(nil).CompileFetch(expr)
}

// CompileFetch is the package's CompileFetch with the map converters'
// files taken from rs, so that runtime changes to them reach the fetch.
func (rs *Refs) CompileFetch(expr string) (Fetch, FetchFunc, error) {
	fexpr, convs, err := splitConverters(expr)
	if err != nil {
		return Fetch{}, nil, err
	}
	name, arg, hasArg, err := splitArg(fexpr)
	if err != nil {
		return Fetch{}, nil, err
	}
	f, ok := LookupFetch(name)
	var fn FetchFunc
	if sf, sfn, isScript := rs.scriptFetch(name, arg); isScript {
		f, fn, ok = sf, sfn, true
	}
	if !ok {
		return Fetch{}, nil, unknownFetch(name)
	}
	if fn == nil {
		if fn, err = compileFetch(f, arg, hasArg); err != nil {
			return f, nil, err
		}
	}
	conv, t, err := compileConverters(convs, f, rs)
	if err != nil {
		return f, nil, err
	}
	f.Type = t
	return f, withConverters(fn, conv), nil
}

func compileFetch(f Fetch, arg string, hasArg bool) (FetchFunc, error) {
	switch {
	case f.Arg == ArgNone && hasArg:
		return nil, fmt.Errorf("%w: fetch method '%s' takes no argument", ErrSyntax, f.Name)
	case f.Arg == ArgRequired && (!hasArg || arg == ""):
		return nil, fmt.Errorf("%w: fetch method '%s' expects an argument in parentheses", ErrSyntax, f.Name)
	}
	fn, err := f.Compile(arg)
	if err != nil {
		return nil, fmt.Errorf("fetch method '%s': %w", f.Name, err)
	}
	return fn, nil
}

// splitArg splits "name(arg)" into name and arg.
func splitArg(expr string) (name, arg string, hasArg bool, err error) {
	i := strings.IndexByte(expr, '(')
	if i < 0 {
		return expr, "", false, nil
	}
	if !strings.HasSuffix(expr, ")") {
		return "", "", false, fmt.Errorf("%w: missing closing parenthesis in '%s'", ErrSyntax, expr)
	}
	return expr[:i], expr[i+1 : len(expr)-1], true, nil
}

// Expr is one compiled ACL line: a fetch and the patterns it is matched
// against.
type Expr struct {
	text  string
	fetch FetchFunc
	each  EachFunc // when set, every sample is matched, not only fetch's
	match func(Sample) bool
	// reqOnly names the fetch when it reads the request's line,
	// headers, cookies or body, which a response rule's condition
	// cannot (see ResponseContext); "" otherwise.
	reqOnly string
	// l6 is set when the fetch reads the raw bytes of the request or
	// the response (a payload, its length, a TLS hello, an RDP cookie).
	l6 bool
	// kw is the fetch's keyword as written, fname the fetch it names.
	kw, fname string
	// noPattern is set when nothing follows the fetch, and its match
	// method needs patterns: the expression never matches.
	noPattern bool
}

// String returns the expression as written.
func (e *Expr) String() string { return e.text }

// Eval fetches the sample and matches it; no sample means no match.
func (e *Expr) Eval(ctx Context) bool {
	if e.reqOnly != "" {
		if rc, ok := ctx.(ResponseContext); ok && rc.InResponse() {
			return false
		}
	}
	if e.each != nil {
		return e.each(ctx, e.match)
	}
	s, ok := e.fetch(ctx)
	if !ok {
		return false
	}
	return e.match(s)
}

// ParseExpr compiles the words of an ACL after its name:
// "FETCH [-i] [-m METHOD] [--] [PATTERN...]".
func ParseExpr(words []string) (*Expr, error) { return parseExpr(words, nil) }

// parseExpr is ParseExpr with the pattern and map files taken from rs.
func parseExpr(words []string, rs *Refs) (*Expr, error) {
	if len(words) == 0 {
		return nil, fmt.Errorf("%w: missing fetch method", ErrSyntax)
	}
	fexpr, convs, err := splitConverters(words[0])
	if err != nil {
		return nil, err
	}
	name, arg, hasArg, err := splitArg(fexpr)
	if err != nil {
		return nil, err
	}
	registry.RLock()
	kw, isKw := registry.keywords[name]
	registry.RUnlock()
	fetchName, method := name, ""
	if isKw {
		fetchName, method = kw.fetch, kw.match
	}
	f, ok := LookupFetch(fetchName)
	var fn FetchFunc
	if sf, sfn, isScript := rs.scriptFetch(name, arg); isScript {
		f, fn, ok = sf, sfn, true
	}
	if !ok {
		return nil, unknownFetch(name)
	}
	if fn == nil {
		if fn, err = compileFetch(f, arg, hasArg); err != nil {
			return nil, err
		}
	}
	var each EachFunc
	if f.CompileEach != nil && len(convs) == 0 {
		if each, err = f.CompileEach(arg); err != nil {
			return nil, fmt.Errorf("fetch method '%s': %w", f.Name, err)
		}
	}
	conv, t, err := compileConverters(convs, f, rs)
	if err != nil {
		return nil, err
	}
	fn, f.Type = withConverters(fn, conv), t
	var opts MatchOptions
	var files []string
	mapFiles := false
	rest := words[1:]
flags:
	for len(rest) > 0 && strings.HasPrefix(rest[0], "-") {
		switch rest[0] {
		case "-i":
			opts.IgnoreCase = true
		case "-n":
		case "-m":
			if len(rest) < 2 {
				return nil, fmt.Errorf("%w: '-m' expects a match method", ErrSyntax)
			}
			// As in HAProxy, -m replaces the match method of an ACL
			// keyword too: "hdr_dir(x) -m dom" is "hdr(x) -m dom".
			method, rest = rest[1], rest[1:]
		case "--":
			rest = rest[1:]
			break flags
		case "-f":
			if len(rest) < 2 {
				return nil, fmt.Errorf("%w: '-f' expects a file name", ErrSyntax)
			}
			files, rest = append(files, rest[1]), rest[1:]
		case "-M":
			mapFiles = true
		case "-u":
			return nil, fmt.Errorf("%w: ACL flag '%s'", errUnsupported, rest[0])
		default:
			// A negative number is a pattern, not a flag.
			if _, err := strconv.ParseInt(rest[0], 10, 64); err == nil {
				break flags
			}
			return nil, fmt.Errorf("%w: unknown ACL flag '%s'", ErrSyntax, rest[0])
		}
		rest = rest[1:]
	}
	switch {
	case method != "":
	case f.Match == MatchRequired && len(convs) == 0:
		return nil, fmt.Errorf("%w: matching method must be specified first (using '-m') when using a sample fetch of this type ('%s')", ErrSyntax, f.Name)
	case f.Match != MatchRequired:
		// A fetch needing -m, behind converters, matches as the last
		// converter's type, as in HAProxy.
		method = f.Match
	}
	if method == "" {
		method = f.Type.String()
	}
	m, ok := LookupMatch(method)
	if !ok {
		return nil, fmt.Errorf("%w: '%s'", ErrUnknownMatch, method)
	}
	if len(rest) == 0 && len(files) == 0 && method != "bool" && method != "found" {
		// HAProxy warns that such an ACL never matches ("-m found" tests
		// existence, "-m bool" an integer's truth); it is accepted alike.
		return &Expr{text: strings.Join(words, " "), fetch: fn, match: func(Sample) bool { return false }, reqOnly: requestOnly(fetchName), l6: layer6Fetch(fetchName), kw: name, fname: fetchName,
			noPattern: len(words) == 1}, nil
	}
	var inline func(Sample) bool
	if len(rest) > 0 || len(files) == 0 {
		if inline, err = m.Compile(rest, opts); err != nil {
			return nil, fmt.Errorf("'%s' with match method '%s': %w", name, method, err)
		}
	}
	var users []*aclUser
	for _, f := range files {
		ref, err := rs.load(f, mapFiles, RefACL)
		if err != nil {
			return nil, err
		}
		u := &aclUser{file: f, method: method, m: m, opts: opts, indexed: newPatternIndex(method, opts) != nil}
		if err := ref.addUser(u); err != nil {
			return nil, fmt.Errorf("'%s' with match method '%s': %w", name, method, err)
		}
		users = append(users, u)
	}
	match := inline
	if len(users) > 0 {
		match = func(s Sample) bool {
			if inline != nil && inline(s) {
				return true
			}
			for _, u := range users {
				if u.match(s) {
					return true
				}
			}
			return false
		}
	}
	return &Expr{text: strings.Join(words, " "), fetch: fn, each: each, match: match, reqOnly: requestOnly(fetchName), l6: layer6Fetch(fetchName), kw: name, fname: fetchName}, nil
}

var errUnsupported = errors.New("not supported")

// aclUser is an ACL expression's index of a pattern file ("-f"; with
// "-M" a map file, whose keys are the patterns). The str and ip methods,
// those of the long lists that change at run time (hosts, paths,
// blocked addresses), keep an index that an entry changes in place;
// the others compile the file's current patterns as one predicate,
// again on each change.
type aclUser struct {
	file   string
	method string
	m      Matcher
	opts   MatchOptions
	pred   atomic.Pointer[func(Sample) bool]
	cur    []*RefEntry

	// indexed tells a method with an index (newPatternIndex); it never
	// changes, while idx is replaced, under mu, by each reset.
	indexed bool
	mu      sync.RWMutex
	idx     patternIndex
}

// patternIndex is a set of patterns that takes one more or one less in
// place.
type patternIndex interface {
	add(p string) error
	del(p string)
	match(s Sample) bool
}

// newPatternIndex returns an empty index for the method, nil for a
// method without one.
func newPatternIndex(method string, opts MatchOptions) patternIndex {
	switch method {
	case "ip":
		return &ipSet{}
	case "str":
		return &strSet{fold: opts.IgnoreCase, n: map[string]int{}}
	}
	return nil
}

// match tells whether the sample matches one of the file's patterns.
func (u *aclUser) match(s Sample) bool {
	if !u.indexed {
		return (*u.pred.Load())(s)
	}
	u.mu.RLock()
	ok := u.idx.match(s)
	u.mu.RUnlock()
	return ok
}

func never(Sample) bool { return false }

func (*aclUser) checkValue(string) error { return nil } // no value

func (u *aclUser) check(e *RefEntry) error {
	_, err := u.m.Compile([]string{e.Key}, u.opts)
	return err
}

func (u *aclUser) reset(entries []*RefEntry) error {
	u.cur = slices.Clone(entries)
	if idx := newPatternIndex(u.method, u.opts); idx != nil {
		for _, e := range entries {
			if err := idx.add(e.Key); err != nil {
				if e.line > 0 {
					return fmt.Errorf("pattern file <%s> line %d: %w", u.file, e.line, err)
				}
				return fmt.Errorf("pattern file <%s>: %w", u.file, err)
			}
		}
		u.mu.Lock()
		u.idx = idx
		u.mu.Unlock()
		return nil
	}
	return u.compile()
}

// compile builds the predicate over u.cur; an empty file never matches.
func (u *aclUser) compile() error {
	pred := never
	if len(u.cur) > 0 {
		pats := make([]string, len(u.cur))
		for i, e := range u.cur {
			pats[i] = e.Key
		}
		p, err := u.m.Compile(pats, u.opts)
		if err != nil {
			// Name the line at fault, as a file is read.
			for _, e := range u.cur {
				if err := u.check(e); err != nil && e.line > 0 {
					return fmt.Errorf("pattern file <%s> line %d: %w", u.file, e.line, err)
				}
			}
			return fmt.Errorf("pattern file <%s>: %w", u.file, err)
		}
		pred = p
	}
	u.pred.Store(&pred)
	return nil
}

func (u *aclUser) add(e *RefEntry) {
	u.cur = append(u.cur, e)
	if !u.indexed {
		_ = u.compile()
		return
	}
	u.mu.Lock()
	_ = u.idx.add(e.Key) // checked before
	u.mu.Unlock()
}

func (u *aclUser) del(e *RefEntry) {
	u.cur = slices.DeleteFunc(u.cur, func(x *RefEntry) bool { return x == e })
	if !u.indexed {
		_ = u.compile()
		return
	}
	u.mu.Lock()
	u.idx.del(e.Key)
	u.mu.Unlock()
}

func (*aclUser) set(*RefEntry) {} // a pattern has no value

func (u *aclUser) describe(value string) string {
	c := "sensitive"
	if u.opts.IgnoreCase {
		c = "insensitive"
	}
	head := "type=" + u.method + ", case=" + c
	s := cliSample(u.method, value)
	for _, e := range u.cur {
		if p, err := u.m.Compile([]string{e.Key}, u.opts); err == nil && p(s) {
			idx := "list"
			if !u.opts.IgnoreCase && (u.method == "str" || u.method == "beg" || u.method == "ip") {
				idx = "tree"
			}
			return fmt.Sprintf("%s, match=yes, idx=%s, pattern=%q", head, idx, e.Key)
		}
	}
	return head + ", match=no"
}

// ACL is a named test: the expressions of every "acl" line with its name,
// ORed.
type ACL struct {
	Name  string
	exprs []*Expr
}

// Add ORs one more expression into the ACL.
func (a *ACL) Add(e *Expr) { a.exprs = append(a.exprs, e) }

// Eval reports whether any of the ACL's expressions matches.
func (a *ACL) Eval(ctx Context) bool {
	for _, e := range a.exprs {
		if e.Eval(ctx) {
			return true
		}
	}
	return false
}

// Set holds a proxy's named ACLs.
type Set struct {
	// Refs gives the pattern and map files the set's ACLs read (nil:
	// each reads its own, unchangeable copy).
	Refs *Refs
	// OnCond, when set, is given each condition ParseCond builds on the
	// set, for checks that need every condition of a proxy.
	OnCond func(*Cond)
	// OnNoPattern, when set, is given the fetch, as written, of each
	// expression of an acl line or an anonymous ACL that is written
	// without any pattern nor flag where its match method needs
	// patterns, so that it never matches (HAProxy warns of it).
	OnNoPattern func(fetch string)
	m           map[string]*ACL
}

// Add parses an "acl NAME FETCH ..." line's words after "acl" and adds it
// to the set, ORing it with earlier lines of the same name.
func (s *Set) Add(words []string) error {
	if len(words) < 2 {
		return fmt.Errorf("%w: expects 'acl <name> <fetch> [flags] [patterns]'", ErrSyntax)
	}
	name := words[0]
	if err := checkACLName(name); err != nil {
		return err
	}
	e, err := parseExpr(words[1:], s.Refs)
	if err != nil {
		return fmt.Errorf("acl '%s': %w", name, err)
	}
	if e.noPattern && s.OnNoPattern != nil {
		s.OnNoPattern(words[1])
	}
	if s.m == nil {
		s.m = map[string]*ACL{}
	}
	a := s.m[name]
	if a == nil {
		a = &ACL{Name: name}
		s.m[name] = a
	}
	a.Add(e)
	return nil
}

// Get returns the ACL named name, or nil. Names not declared in the set
// fall back to HAProxy 2.6's predefined ACLs (TRUE, FALSE, LOCALHOST,
// HTTP, HTTP_1.0, HTTP_1.1, HTTP_2.0, HTTP_CONTENT, HTTP_URL_ABS,
// HTTP_URL_SLASH, HTTP_URL_STAR, METH_CONNECT, METH_DELETE, METH_GET,
// METH_HEAD, METH_OPTIONS, METH_POST, METH_PUT, METH_TRACE, RDP_COOKIE,
// REQ_CONTENT, WAIT_END).
func (s *Set) Get(name string) *ACL {
	if s != nil {
		if a := s.m[name]; a != nil {
			return a
		}
	}
	return predefined()[name]
}

// predefined builds HAProxy's predefined ACLs once, after the fetches
// and match methods they use are registered.
var predefined = sync.OnceValue(func() map[string]*ACL {
	m := map[string]*ACL{}
	for name, words := range map[string][]string{
		"TRUE":      {"always_true"},
		"FALSE":     {"always_false"},
		"LOCALHOST": {"src", "127.0.0.1/8", "::1"},
		"HTTP_1.0":  {"req.ver", "1.0"},
		"HTTP_1.1":  {"req.ver", "1.1"},
		"HTTP_2.0":  {"req.ver", "2.0"},
		// METH_GET takes HEAD too, as in HAProxy.
		"METH_CONNECT":   {"method", "CONNECT"},
		"METH_DELETE":    {"method", "DELETE"},
		"METH_GET":       {"method", "GET", "HEAD"},
		"METH_HEAD":      {"method", "HEAD"},
		"METH_OPTIONS":   {"method", "OPTIONS"},
		"METH_POST":      {"method", "POST"},
		"METH_PUT":       {"method", "PUT"},
		"METH_TRACE":     {"method", "TRACE"},
		"HTTP_URL_ABS":   {"url_reg", "^[^/:]*://"},
		"HTTP_URL_SLASH": {"url_beg", "/"},
		"HTTP_URL_STAR":  {"url", "*"},
		// The TCP content ones: a client's RDP cookie, any byte at all,
		// the end of the inspect delay.
		"RDP_COOKIE":  {"req.rdp_cookie_cnt", "gt", "0"},
		"REQ_CONTENT": {"req.len", "gt", "0"},
		"WAIT_END":    {"wait_end"},
	} {
		e, err := ParseExpr(words)
		if err != nil {
			panic("acl: predefined ACL " + name + ": " + err.Error())
		}
		m[name] = &ACL{Name: name, exprs: []*Expr{e}}
	}
	for name, e := range predefinedPrivate() {
		m[name] = &ACL{Name: name, exprs: []*Expr{e}}
	}
	return m
})

// Len returns the number of named ACLs.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.m)
}

func checkACLName(n string) error {
	for _, c := range n {
		if !(c == '-' || c == '_' || c == '.' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
			return fmt.Errorf("%w: character '%c' not allowed in ACL name '%s'", ErrSyntax, c, n)
		}
	}
	return nil
}

type term struct {
	neg bool
	acl *ACL
}

// Cond is a compiled "if ..." or "unless ..." condition.
type Cond struct {
	text   string
	unless bool
	ors    [][]term // OR of ANDs
}

// String returns the condition as written.
func (c *Cond) String() string { return c.text }

// Eval reports whether the condition holds. Terms are evaluated left to
// right and stop as soon as the result is known, as HAProxy does, which
// matters for fetches with side effects such as sc0_inc_gpc0. A nil Cond
// always holds.
func (c *Cond) Eval(ctx Context) bool {
	if c == nil {
		return true
	}
	res := false
	for _, and := range c.ors {
		ok := true
		for _, t := range and {
			if t.acl.Eval(ctx) == t.neg {
				ok = false
				break
			}
		}
		if ok {
			res = true
			break
		}
	}
	return res != c.unless
}

// ParseCond compiles a condition from its words, starting with "if" or
// "unless". Named ACLs are looked up in set (which may be nil); anonymous
// ACLs are written "{ FETCH [flags] [patterns] }". Any of them may be
// negated by leading exclamation marks, a word of their own or stuck to
// the name or the opening brace ("!{ src 10.0.0.1 }").
func ParseCond(words []string, set *Set) (*Cond, error) {
	if len(words) == 0 || (words[0] != "if" && words[0] != "unless") {
		return nil, fmt.Errorf("%w: a condition starts with 'if' or 'unless'", ErrSyntax)
	}
	c := &Cond{text: strings.Join(words, " "), unless: words[0] == "unless"}
	var and []term
	// A bare "if" or "unless" is taken, as by haproxy: it has no ACL,
	// so the rule never applies ("if") or always does ("unless").
	rest := words[1:]
	neg := false
	for len(rest) > 0 {
		w := rest[0]
		rest = rest[1:]
		// Leading exclamation marks negate what follows, alone ("! a"),
		// stuck to a name ("!a") or to an anonymous ACL's brace ("!{"),
		// as haproxy reads them.
		for strings.HasPrefix(w, "!") {
			neg, w = !neg, w[1:]
		}
		if w == "" {
			continue
		}
		switch {
		case strings.EqualFold(w, "or") || w == "||":
			// As haproxy reads them: "or" in any case, dropping a
			// negation before it; an "or" with nothing before it
			// adds no alternative.
			if len(and) > 0 {
				c.ors = append(c.ors, and)
			}
			and, neg = nil, false
			continue
		case w == "{":
			end := -1
			for i, x := range rest {
				if x == "}" {
					end = i
					break
				}
			}
			if end < 0 {
				return nil, fmt.Errorf("%w: missing '}' after anonymous ACL", ErrSyntax)
			}
			var rs *Refs
			if set != nil {
				rs = set.Refs
			}
			e, err := parseExpr(rest[:end], rs)
			if err != nil {
				return nil, fmt.Errorf("anonymous ACL '{ %s }': %w", strings.Join(rest[:end], " "), err)
			}
			if e.noPattern && set != nil && set.OnNoPattern != nil {
				set.OnNoPattern(rest[0])
			}
			rest = rest[end+1:]
			and = append(and, term{neg: neg, acl: &ACL{Name: "anonymous", exprs: []*Expr{e}}})
		case w == "}":
			return nil, fmt.Errorf("%w: unexpected '}'", ErrSyntax)
		default:
			a := set.Get(w)
			if a == nil {
				return nil, fmt.Errorf("%w: '%s'", ErrUnknownACL, w)
			}
			and = append(and, term{neg: neg, acl: a})
		}
		neg = false
	}
	// A trailing "!" or "or" is dropped, as by haproxy; a condition
	// left without any ACL never holds (an "unless" one always does).
	if len(and) > 0 {
		c.ors = append(c.ors, and)
	}
	if set != nil && set.OnCond != nil {
		set.OnCond(c)
	}
	return c, nil
}

// SplitCond splits a rule's words at "if" or "unless": the words before,
// and the condition (nil when there is none).
func SplitCond(words []string, set *Set) (before []string, c *Cond, err error) {
	for i, w := range words {
		if w == "if" || w == "unless" {
			c, err = ParseCond(words[i:], set)
			return words[:i], c, err
		}
	}
	return words, nil, nil
}

// SampleEnd returns the index in s of the ']' that closes a "%[...]"
// sample whose "[" starts s, -1 when there is none: brackets within a
// fetch's or converter's parentheses ("json_query($.a[1])") do not
// close it, as in HAProxy.
func SampleEnd(s string) int {
	depth := 0
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			if depth > 0 {
				depth--
			}
		case ']':
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}
