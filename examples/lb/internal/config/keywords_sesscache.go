package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/proxyblocks/proxyblocks/shctx/sslsync"
)

// The two lb-only global keywords that share TLS sessions beyond one
// process: ssl-session-cache puts them in a file that several lb
// processes map (package shctx/sslcache), ssl-session-sync sends them to
// other hosts (package shctx/sslsync). HAProxy has neither keyword: its
// cache is shared by the processes it forks itself, and it has no
// cross-host session sync.

// SSLSessionCache is the "ssl-session-cache shm PATH" line.
type SSLSessionCache struct {
	Pos
	// Path is the shared-memory file every lb process naming it maps.
	Path string
}

// SSLSessionSync is the "ssl-session-sync ..." line.
type SSLSessionSync struct {
	Pos
	// Config is the line's settings. Its Key holds the key file's
	// content once parsing ends, so a missing or short key file is
	// reported with the line.
	Config sslsync.Config
}

func init() {
	globalKeywords["ssl-session-cache"] = parseSSLSessionCache
	globalKeywords[sslsync.Keyword] = parseSSLSessionSync
	finishers = append(finishers, finishSessionCache)
}

func parseSSLSessionCache(p *parser, a []string) error {
	if prev := p.cfg.Global.SessionCache; prev != nil {
		return fmt.Errorf("already given at %s", prev.Pos)
	}
	if len(a) == 0 {
		return errors.New("expects 'shm PATH'")
	}
	if a[0] != "shm" {
		return fmt.Errorf("%w: cache type '%s' (supported: shm PATH)", ErrUnsupported, a[0])
	}
	if len(a) != 2 || a[1] == "" {
		return errors.New("expects 'shm PATH'")
	}
	p.cfg.Global.SessionCache = &SSLSessionCache{Pos: p.pos, Path: a[1]}
	return nil
}

func parseSSLSessionSync(p *parser, a []string) error {
	if prev := p.cfg.Global.SessionSync; prev != nil {
		return fmt.Errorf("already given at %s", prev.Pos)
	}
	cfg, err := sslsync.ParseArgs(a)
	if err != nil {
		return syncErr(err)
	}
	// ParseArgs checks the shape of ADDR:PORT; the addresses themselves
	// are checked here so that -c reports them.
	if err := checkSyncAddr("bind", cfg.Bind, false); err != nil {
		return err
	}
	for _, peer := range cfg.Peers {
		if err := checkSyncAddr("peer", peer, true); err != nil {
			return err
		}
	}
	p.cfg.Global.SessionSync = &SSLSessionSync{Pos: p.pos, Config: cfg}
	return nil
}

// syncErr drops the keyword sslsync puts in front of its messages: the
// configuration error already names it.
func syncErr(err error) error {
	return errors.New(strings.TrimPrefix(err.Error(), sslsync.Keyword+": "))
}

// checkSyncAddr checks the host of an ADDR:PORT: an IP address, empty
// (any address) for bind, or a name that resolves for a peer.
func checkSyncAddr(word, v string, resolve bool) error {
	host, _, _ := net.SplitHostPort(v)
	if host == "" {
		if resolve {
			return fmt.Errorf("%s '%s': no address", word, v)
		}
		return nil
	}
	if net.ParseIP(host) != nil {
		return nil
	}
	if !resolve {
		return fmt.Errorf("%s '%s': '%s' is not an IP address", word, v, host)
	}
	if _, err := net.ResolveUDPAddr("udp", v); err != nil {
		return fmt.Errorf("%s '%s': %v", word, v, err)
	}
	return nil
}

// finishSessionCache reads the sync key file and checks the two lines
// against tune.ssl.cachesize once the whole global section is known.
func finishSessionCache(p *parser) {
	g := &p.cfg.Global
	size := -1
	if g.SSL != nil {
		size = g.SSL.CacheSize
	}
	if sc := g.SessionCache; sc != nil {
		p.pos = sc.Pos
		if size == 0 {
			p.cfg.Warnings = append(p.cfg.Warnings, fmt.Sprintf("%s: 'ssl-session-cache' ignored: tune.ssl.cachesize is 0 (no session cache)", sc.Pos))
		} else if err := checkCachePath(sc.Path); err != nil {
			p.fail("ssl-session-cache", "'ssl-session-cache' in 'global' section", err)
		}
	}
	ss := g.SessionSync
	if ss == nil {
		return
	}
	p.pos = ss.Pos
	const what = "'ssl-session-sync' in 'global' section"
	if size == 0 {
		p.fail(sslsync.Keyword, what, errors.New("needs a session cache, and tune.ssl.cachesize is 0"))
		return
	}
	if ss.Config.Multicast != "" {
		if host, _, _ := net.SplitHostPort(ss.Config.Bind); host != "" && !net.ParseIP(host).IsUnspecified() {
			p.cfg.Warnings = append(p.cfg.Warnings, fmt.Sprintf("%s: 'ssl-session-sync': bind %s with multicast: group traffic only reaches a socket bound to the wildcard address (bind :PORT)", ss.Pos, ss.Config.Bind))
		}
	}
	if len(ss.Config.Key) > 0 {
		return
	}
	key, err := sslsync.LoadKey(ss.Config.KeyFile)
	if err != nil {
		p.fail(sslsync.Keyword, what, syncErr(err))
		return
	}
	ss.Config.Key = key
}

// checkCachePath checks what can be known of a cache file before it is
// mapped: its directory exists, and the file, if already there, is a
// regular file (another lb's cache, or one left by an earlier run).
func checkCachePath(path string) error {
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("directory of '%s': %v", path, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("'%s' is not a directory", dir)
	}
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		return fmt.Errorf("'%s' exists and is not a regular file", path)
	}
	return nil
}
