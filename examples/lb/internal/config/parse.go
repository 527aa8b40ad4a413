package config

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
)

// Source is one configuration file's name and content.
type Source struct {
	Name string
	Data []byte
}

// ParseFiles reads and parses the files in order, as HAProxy does with
// several -f options: sections continue across files only in the sense that
// defaults declared in an earlier file apply to proxies in a later one.
func ParseFiles(paths ...string) (*Config, error) {
	srcs := make([]Source, 0, len(paths))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("config: reading %s: %w", p, err)
		}
		srcs = append(srcs, Source{Name: p, Data: b})
	}
	return Parse(srcs...)
}

// Parse parses the sources in order. It returns every error it finds, joined,
// each an *Error with the file and line, rather than stopping at the first.
func Parse(srcs ...Source) (*Config, error) {
	p := &parser{
		cfg:      &Config{Global: Global{BufSize: DefaultBufSize, UnixBind: UnixBind{Mode: -1, UID: -1, GID: -1}}, Patterns: acl.NewRefs()},
		defaults: newDefaults(),
		named:    map[string]*Proxy{},
	}
	for _, s := range srcs {
		if p.stopped {
			break
		}
		p.parseSource(s)
	}
	// What is read from here on is relative to the working directory,
	// as HAProxy goes back to it once the files are read.
	p.setBaseDir("")
	// Conditions built from here on are no line's (noteCond).
	p.words = nil
	// Reported with the other errors, as haproxy resolves them.
	p.checkFetchRefs()
	p.checkConvRefs()
	if len(p.errs) == 0 {
		p.validate()
		for _, f := range finishers {
			f(p)
		}
	}
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	return p.cfg, nil
}

// finishers run once every file is parsed and validated, for features
// that need the whole configuration (a global default a later bind line
// inherits) or load files the configuration names. They report through
// p.errs like any keyword.
var finishers []func(p *parser)

type parser struct {
	// defaultPath is the global default-path ("current" when unset, or
	// "config", "parent", "origin"), origin its directory for origin,
	// and baseDir what a relative file path on the lines being read is
	// relative to ("" for the working directory).
	defaultPath, origin, baseDir string
	// file is the name of the file being read.
	file     string
	cfg      *Config
	defaults *Proxy
	named    map[string]*Proxy
	// section is "global" or the current proxy's kind; cur is the proxy
	// being filled, nil in global or before any section.
	section string
	cur     *Proxy
	// sectionName is the current section's name, or its keyword when it
	// has none, for $.SECTION.
	sectionName string
	// userlist is the userlist section being read; pendingGroups its
	// "group ... users" lines, resolved at the end.
	userlist      *Userlist
	pendingGroups []pendingGroup
	// resolvers is the resolvers section being read.
	resolvers *Resolvers
	// peers is the peers section being read.
	peers *PeersSection
	// cache is the cache section being read.
	cache *CacheSection
	// prog is the "program" section being read, nil after a failed
	// section line.
	prog *Program
	// ring is the ring section being read, nil after a failed
	// section line.
	ring *RingSection
	// httpErrors is the http-errors section being read.
	httpErrors *HTTPErrorsSection
	// userlistRefs are the userlists the http_auth fetches name, with
	// the line naming each, checked once every section is read.
	userlistRefs []userlistRef
	// fetchRefs are the state fetches' proxy names (fetchrefs.go).
	fetchRefs []fetchRef
	// convRefs are the stick-table converters' tables (convrefs.go).
	convRefs []convRef
	// conds are the proxies' conditions, with their lines (proxywarn.go),
	// and words the words of the line being read.
	conds []condAt
	words []string
	pos   Pos
	errs  []error
	// h1CaseFile is the last h1-case-adjust-file, read once the
	// configuration is, and h1CaseFilePos its line.
	h1CaseFile    string
	h1CaseFilePos Pos
	// stopped is set when a directive stopped the parse (.alert, a bad
	// .if block or condition), as HAProxy reads no further.
	stopped bool
	// condOpenAtStop is set when the stop still reports the file's
	// open .if blocks.
	condOpenAtStop bool
}

func (p *parser) errorf(kw string, sentinel error, format string, a ...any) {
	p.errs = append(p.errs, &Error{Pos: p.pos, Keyword: kw, Err: fmt.Errorf("%w: "+format, append([]any{sentinel}, a...)...)})
}

// maxLine bounds one line, as HAProxy's LINESIZE does, so hostile input
// cannot make the parser buffer without limit.
const maxLine = 64 * 1024

func (p *parser) parseSource(s Source) {
	p.file = s.Name
	p.setBaseDir(p.defaultDir())
	sc := bufio.NewScanner(bytes.NewReader(s.Data))
	sc.Buffer(make([]byte, 4096), maxLine)
	line := 0
	var conds condBlocks
	for sc.Scan() {
		line++
		p.pos = Pos{File: s.Name, Line: line}
		words, err := splitLine(sc.Text(), lineCtx{file: s.Name, line: line, section: p.sectionName})
		if err != nil {
			p.errs = append(p.errs, &Error{Pos: p.pos, Err: fmt.Errorf("%w: %w", ErrBadValue, err)})
			continue
		}
		if len(words) == 0 {
			continue
		}
		if strings.HasPrefix(words[0], ".") {
			if !p.directive(words, &conds) {
				p.stopped = true
				if !p.condOpenAtStop {
					return
				}
				break
			}
			continue
		}
		if conds.skipping() {
			// As in HAProxy, a line in a branch not taken is split
			// (a quote error still counts) but not read.
			continue
		}
		if sectionKeywords[words[0]] {
			p.sectionName = words[0]
			if len(words) > 1 {
				p.sectionName = words[1]
			}
		}
		noteKeyFetches(p, words)
		p.parseLineNoting(words)
	}
	if len(conds) > 0 {
		p.pos = Pos{File: s.Name, Line: line}
		p.errorf(".if", ErrBadValue, "non-terminated '.if' block")
		p.stopped = true
	}
	if err := sc.Err(); err != nil {
		p.pos = Pos{File: s.Name, Line: line + 1}
		p.errs = append(p.errs, &Error{Pos: p.pos, Err: fmt.Errorf("%w: %w", ErrBadValue, err)})
	}
}

// sectionKeywords start HAProxy's sections; the name after one (or the
// keyword itself) is what $.SECTION reads until the next.
var sectionKeywords = map[string]bool{
	"global": true, "defaults": true, "frontend": true, "backend": true, "listen": true,
	"userlist": true, "resolvers": true, "peers": true, "cache": true, "http-errors": true,
	"mailers": true, "program": true, "ring": true, "log-forward": true, "fcgi-app": true,
}

// unsupportedSections are HAProxy's section keywords lb refuses: the
// start stops at the section's first line, its body is skipped.
var unsupportedSections = map[string]bool{
	"mailers": true, "log-forward": true, "fcgi-app": true,
}

func (p *parser) parseLine(words []string) {
	kw := words[0]
	switch kw {
	case "global":
		p.section, p.cur = "global", nil
		if len(words) > 1 {
			p.errorf(kw, ErrBadValue, "'global' takes no argument")
		}
		return
	case "defaults", "frontend", "backend", "listen":
		p.startProxy(kw, words[1:])
		return
	case "userlist":
		p.startUserlist(words[1:])
		return
	case "resolvers":
		p.startResolvers(words[1:])
		return
	case "peers":
		p.startPeers(words[1:])
		return
	case "cache":
		p.startCache(words[1:])
		return
	case "http-errors":
		p.startHTTPErrors(words[1:])
		return
	case "program":
		p.startProgram(words[1:])
		return
	case "ring":
		p.startRing(words[1:])
		return
	}
	if unsupportedSections[kw] {
		// One error for the section, none for each of its lines, which
		// would otherwise read as misplaced keywords of the section
		// before it.
		p.section, p.cur = kw, nil
		p.errorf(kw, ErrUnsupported, "'%s' sections (HAProxy's %s section is not implemented by lb)", kw, kw)
		return
	}
	if unsupportedSections[p.section] {
		return
	}
	if p.section == "" {
		p.errorf(kw, ErrUnknownKeyword, "unknown keyword '%s' out of section", kw)
		return
	}
	if p.section == "userlist" {
		p.userlistLine(words)
		return
	}
	if p.section == "resolvers" {
		p.resolversLine(words)
		return
	}
	if p.section == "peers" {
		p.peersLine(words)
		return
	}
	if p.section == "cache" {
		p.cacheLine(words)
		return
	}
	if p.section == "http-errors" {
		p.httpErrorsLine(words)
		return
	}
	if p.section == "program" {
		p.programLine(words)
		return
	}
	if p.section == "ring" {
		p.ringLine(words)
		return
	}
	if p.section == "global" {
		if f, ok := globalKeywords[kw]; ok {
			if err := f(p, words[1:]); err != nil {
				p.fail(kw, fmt.Sprintf("'%s' in 'global' section", kw), err)
			}
			return
		}
		if _, ok := proxyKeywords[kw]; ok {
			p.errorf(kw, ErrMisplaced, "'%s' not allowed in 'global' section", kw)
			return
		}
		p.errorf(kw, ErrUnknownKeyword, "unknown keyword '%s' in 'global' section", kw)
		return
	}
	neg := false
	if kw == "no" && len(words) > 1 && words[1] == "option" {
		neg, words = true, words[1:]
		kw = "option"
	}
	if kw == "no" && len(words) == 2 && words[1] == "log" {
		// "no log": the section logs nothing, whatever its defaults
		// said, as in haproxy.
		p.cur.Logs, p.cur.LogGlobal = nil, false
		return
	}
	p.noteUserlistRefs(words)
	p.noteFetchRefs(words)
	p.noteConvRefs(words)
	k, ok := proxyKeywords[kw]
	if !ok {
		if _, g := globalKeywords[kw]; g {
			p.errorf(kw, ErrMisplaced, "'%s' not allowed in '%s' section (global only)", kw, p.section)
			return
		}
		p.errorf(kw, ErrUnknownKeyword, "unknown keyword '%s' in '%s' section", kw, p.section)
		return
	}
	if k.kinds&p.cur.Kind == 0 {
		if kw == "log-format" && p.cur.Kind == KindBackend {
			p.ignoreBackendLogFormat(words[1:])
			return
		}
		if p.ignoreMisplaced(kw, false) {
			return
		}
		p.errorf(kw, ErrMisplaced, "'%s' not allowed in '%s' section", kw, p.section)
		return
	}
	if kw == "option" {
		p.parseOption(words[1:], neg)
		return
	}
	later := p.laterRule(kw, words)
	if err := k.parse(p, p.cur, words[1:]); err != nil {
		p.fail(kw, fmt.Sprintf("'%s' in '%s' section", kw, p.section), err)
	} else if later != "" {
		p.cfg.Warnings = append(p.cfg.Warnings, later)
	} else if kw == "balance" {
		p.cur.BalanceSet = true
	}
}

// fail records a keyword's error, keeping the sentinel it wraps if any and
// classing it as a bad value otherwise.
func (p *parser) fail(kw, what string, err error) {
	for _, s := range []error{ErrUnknownKeyword, ErrMisplaced, ErrUnsupported, ErrReference} {
		if errors.Is(err, s) {
			p.errs = append(p.errs, &Error{Pos: p.pos, Keyword: kw, Err: fmt.Errorf("%s: %w", what, err)})
			return
		}
	}
	p.errorf(kw, ErrBadValue, "%s: %v", what, err)
}

func (p *parser) startProxy(kw string, args []string) {
	kind := map[string]Kind{"defaults": KindDefaults, "frontend": KindFrontend, "backend": KindBackend, "listen": KindListen}[kw]
	p.section = kw
	name := ""
	if len(args) > 0 && args[0] != "from" {
		name, args = args[0], args[1:]
	}
	base := p.defaults
	if len(args) > 0 {
		if args[0] != "from" || len(args) != 2 {
			p.errorf(kw, ErrBadValue, "'%s %s': unexpected '%s' (expected 'from <defaults>')", kw, name, strings.Join(args, " "))
		} else if d, ok := p.named[args[1]]; ok {
			base = d
		} else {
			p.errorf(kw, ErrReference, "'%s %s' uses unknown defaults section '%s'", kw, name, args[1])
		}
	}
	if kind == KindDefaults {
		// A new defaults section starts again from the built-in values,
		// unless it names one to inherit from.
		if base == p.defaults {
			base = newDefaults()
		}
		d := inherit(base, KindDefaults, name, p.pos)
		d.ACLs.Refs = p.cfg.Patterns
		p.defaults, p.cur = d, d
		if name != "" {
			p.named[name] = d
		}
		return
	}
	if name == "" {
		p.errorf(kw, ErrBadValue, "'%s' needs a name", kw)
		name = "?"
	}
	if err := checkName(name); err != nil {
		p.errorf(kw, ErrBadValue, "'%s %s': %v", kw, name, err)
	}
	if prev := p.cfg.Proxy(name, kind); prev != nil {
		p.errorf(kw, ErrReference, "%s '%s' has the same name as %s '%s' declared at %s", kw, name, prev.Kind, prev.Name, prev.Pos)
	}
	p.cur = inherit(base, kind, name, p.pos)
	// The ACLs of every section read their files from one registry.
	p.cur.ACLs.Refs = p.cfg.Patterns
	p.cur.ACLs.OnCond, p.cur.ACLs.OnNoPattern = p.noteCond, p.noteNoPattern
	p.cfg.Proxies = append(p.cfg.Proxies, p.cur)
}

// envAddr expands the environment variables of an address, $NAME or
// ${NAME}: HAProxy expands them in every address (bind, server, source,
// log, stats socket, peer), quoted or not, where other words see them
// only within double quotes.
func envAddr(s string) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' {
			b.WriteByte(s[i])
			continue
		}
		v, n := expandEnv(s[i:])
		b.WriteString(v)
		i += n - 1
	}
	return b.String(), nil
}

func checkName(s string) error {
	for _, c := range s {
		if !(c == '-' || c == '_' || c == '.' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
			return fmt.Errorf("character '%c' not allowed in a name", c)
		}
	}
	return nil
}

// noNegation are the options HAProxy refuses after "no", which lb's
// parsers would otherwise take.
var noNegation = map[string]bool{"httpchk": true, "httplog": true, "httpslog": true, "tcplog": true}

func (p *parser) parseOption(args []string, neg bool) {
	if len(args) == 0 {
		p.errorf("option", ErrBadValue, "'option' needs an option name")
		return
	}
	name := args[0]
	o, ok := optionKeywords[name]
	if !ok {
		p.errorf("option", ErrUnknownKeyword, "unknown option '%s' in '%s' section", name, p.section)
		return
	}
	if o.kinds&p.cur.Kind == 0 && p.cur.Kind != KindDefaults {
		if len(args) > 1 && argless(name) {
			// HAProxy counts the arguments before it looks at the side.
			p.errorf("option", ErrBadValue, "'option %s' cannot handle unexpected argument '%s'", name, args[1])
			return
		}
		if p.ignoreMisplaced(name, true) {
			return
		}
		p.errorf("option", ErrMisplaced, "'option %s' not allowed in '%s' section", name, p.section)
		return
	}
	if neg && noNegation[name] {
		p.errorf("option", ErrBadValue, "negation/default is not supported for option '%s'.", name)
		return
	}
	if err := o.parse(p.cur, args[1:], !neg); err != nil {
		p.fail("option", fmt.Sprintf("'option %s' in '%s' section", name, p.section), err)
		return
	}
	if (name == "httplog" || name == "httpslog") && !neg {
		p.cur.HTTP.LogPos = p.pos
	}
}

// validate checks what needs the whole file: references between proxies
// and duplicate names.
func (p *parser) validate() {
	proxyIDs := map[int]*Proxy{}
	for _, px := range p.cfg.Proxies {
		if px.ID != 0 {
			if prev, ok := proxyIDs[px.ID]; ok {
				p.pos = px.IDPos
				p.errorf("id", ErrReference, "proxy %s reuses same custom id as proxy %s (declared at %s)", px.Name, prev.Name, prev.Pos)
			}
			proxyIDs[px.ID] = px
		}
	}
	for _, px := range p.cfg.Proxies {
		p.pos = px.Pos
		if px.Kind.IsFrontend() {
			if len(px.Binds) == 0 {
				p.cfg.Warnings = append(p.cfg.Warnings, fmt.Sprintf("%s '%s' has no 'bind' directive. Please declare it as a backend if this was intended.", px.Kind, px.Name))
			}
			if px.DefaultBackend != "" {
				if p.cfg.Proxy(px.DefaultBackend, KindBackend) == nil {
					p.pos = px.DefaultBackendPos
					p.errorf("default_backend", ErrReference, "%s '%s': unable to find required default_backend '%s'", px.Kind, px.Name, px.DefaultBackend)
				}
			}
		}
		if px.Kind.IsBackend() {
			// Servers without an explicit id get the lowest free one, in
			// declaration order, once every explicit id is known.
			for _, s := range px.Servers {
				if s.ID == 0 {
					s.ID = nextID(px.Servers)
				}
			}
			seen := map[string]*Server{}
			ids := map[int]*Server{}
			for _, s := range px.Servers {
				p.pos = s.Pos
				if prev, ok := seen[s.Name]; ok {
					p.errorf("server", ErrReference, "%s '%s': server '%s' already declared at %s", px.Kind, px.Name, s.Name, prev.Pos)
				}
				seen[s.Name] = s
				if prev, ok := ids[s.ID]; ok {
					p.errorf("server", ErrReference, "%s '%s': server '%s' has the same id %d as server '%s'", px.Kind, px.Name, s.Name, s.ID, prev.Name)
				}
				ids[s.ID] = s
			}
		}
	}
}

// ---- value parsers ----

// ParseTime parses a HAProxy time: a non-negative integer with an optional
// unit among us, ms, s, m, h, d (ms when none). As HAProxy 2.6 does, it
// reads a unit followed by more characters ("15min", "10sec") as that
// unit, and the configuration being parsed warns of it (noteTime).
func ParseTime(s string) (time.Duration, error) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("invalid time %q: expected a number with an optional unit (us, ms, s, m, h, d)", s)
	}
	n, err := strconv.ParseUint(s[:i], 10, 63)
	if err != nil {
		return 0, fmt.Errorf("invalid time %q: %w", s, err)
	}
	units := map[string]time.Duration{"": time.Millisecond, "us": time.Microsecond, "ms": time.Millisecond, "s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour}
	unit := timeUnit(s[i:])
	u, ok := units[unit]
	if !ok {
		return 0, fmt.Errorf("invalid time %q: unknown unit %q (us, ms, s, m, h, d)", s, s[i:])
	}
	if extra := s[i+len(unit):]; extra != "" {
		noteTime(fmt.Sprintf("unexpected character '%c' after the timer value '%s', only (us=microseconds,ms=milliseconds,s=seconds,m=minutes,h=hours,d=days) are supported. This will be reported as an error in next versions.", extra[0], s))
	}
	// HAProxy keeps times as 32-bit milliseconds; beyond that it refuses.
	if n > uint64(math.MaxInt32)*uint64(time.Millisecond)/uint64(u) {
		return 0, fmt.Errorf("invalid time %q: too large (at most %d ms)", s, math.MaxInt32)
	}
	return time.Duration(n) * u, nil
}

func parseInt(s string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("invalid number %q", s)
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("%d out of range [%d..%d]", n, lo, hi)
	}
	return n, nil
}

// ParseSize parses a size with an optional k, m or g suffix (powers of 1024).
func ParseSize(s string) (int, error) {
	mult := 1
	switch {
	case strings.HasSuffix(s, "k"), strings.HasSuffix(s, "K"):
		mult, s = 1<<10, s[:len(s)-1]
	case strings.HasSuffix(s, "m"), strings.HasSuffix(s, "M"):
		mult, s = 1<<20, s[:len(s)-1]
	case strings.HasSuffix(s, "g"), strings.HasSuffix(s, "G"):
		mult, s = 1<<30, s[:len(s)-1]
	}
	n, err := parseInt(s, 0, math.MaxInt32/mult)
	if err != nil {
		return 0, fmt.Errorf("invalid size: %w", err)
	}
	return n * mult, nil
}

// ParseAddr normalises a bind or server address: ADDR:PORT, :PORT,
// *:PORT, [v6]:PORT or v6 with a trailing :PORT (HAProxy splits at the last
// colon). The result is suitable for net.Listen and net.Dial; "*" and ""
// become "".
func ParseAddr(s string, needPort bool) (string, error) {
	s, err := envAddr(s)
	if err != nil {
		return "", err
	}
	s = strings.TrimPrefix(strings.TrimPrefix(s, "ipv4@"), "ipv6@")
	if strings.Contains(s, "@") {
		return "", fmt.Errorf("address %q: only ipv4@ and ipv6@ prefixes are supported", s)
	}
	colon := strings.LastIndexByte(s, ':')
	if colon < 0 {
		if needPort {
			return "", fmt.Errorf("address %q: missing port", s)
		}
		return s, nil
	}
	host, port := s[:colon], s[colon+1:]
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if host == "*" {
		host = ""
	}
	if port == "" {
		return "", fmt.Errorf("address %q: missing port", s)
	}
	if _, err := parseInt(port, 0, 65535); err != nil {
		return "", fmt.Errorf("address %q: port: %w", s, err)
	}
	if host != "" && net.ParseIP(host) == nil {
		if err := checkHostname(host); err != nil {
			return "", fmt.Errorf("address %q: %w", s, err)
		}
	}
	return net.JoinHostPort(host, port), nil
}

func checkHostname(h string) error {
	for _, c := range h {
		if !(c == '-' || c == '.' || c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
			return fmt.Errorf("invalid host name %q", h)
		}
	}
	return nil
}
