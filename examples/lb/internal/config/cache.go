package config

import (
	"errors"
	"fmt"
	"strconv"
)

// CacheSection is a "cache" section: a store of HTTP responses that
// "http-response cache-store" fills and "http-request cache-use" serves
// from, as HAProxy's cache does.
type CacheSection struct {
	Pos
	Name string
	// TotalMaxSize is the store's size in bytes ("total-max-size", given
	// in megabytes), cut in blocks of 1 KiB.
	TotalMaxSize int64
	// MaxObjectSize is the largest response kept, head and body
	// ("max-object-size" in bytes; a 256th of TotalMaxSize by default).
	MaxObjectSize int64
	// MaxAge is how long a response is kept at most ("max-age", 60
	// seconds by default); a shorter max-age, s-maxage or Expires of the
	// response wins.
	MaxAge int64
	// ProcessVary keeps the variants of responses whose Vary names
	// Accept-Encoding or Referer ("process-vary on"); without it a
	// response with a Vary header is not kept.
	ProcessVary bool
	// MaxSecondaryEntries bounds the variants kept of one URL
	// ("max-secondary-entries", 10 by default).
	MaxSecondaryEntries int
	sizeSet             bool
}

// CacheBlockSize is the size of a cache's blocks, HAProxy's
// CACHE_BLOCKSIZE: total-max-size is counted in them.
const CacheBlockSize = 1024

// maxCacheMB is the largest total-max-size, in megabytes, HAProxy
// accepts: a size in bytes must fit 32 bits.
const maxCacheMB = 4095

// Cache returns the cache section with that name, or nil.
func (c *Config) Cache(name string) *CacheSection {
	for _, s := range c.Caches {
		if s.Name == name {
			return s
		}
	}
	return nil
}

func init() {
	finishers = append(finishers, (*parser).checkCaches)
}

// startCache opens a "cache NAME" section.
func (p *parser) startCache(args []string) {
	p.section, p.cur, p.cache = "cache", nil, nil
	if len(args) != 1 {
		p.errorf("cache", ErrBadValue, "'cache' expects <name>")
		return
	}
	if len(args[0]) > 32 {
		// HAProxy cuts the name with a warning; two caches could then
		// share a name, so lb refuses it.
		p.errorf("cache", ErrBadValue, "cache name '%s' is longer than 32 characters", args[0])
		return
	}
	if prev := p.cfg.Cache(args[0]); prev != nil {
		p.errorf("cache", ErrReference, "duplicate cache name '%s' (first declared at %s)", args[0], prev.Pos)
		return
	}
	p.cache = &CacheSection{Pos: p.pos, Name: args[0], MaxAge: 60, MaxSecondaryEntries: 10}
	p.cfg.Caches = append(p.cfg.Caches, p.cache)
}

// cacheLine reads one line of the current cache section.
func (p *parser) cacheLine(words []string) {
	c := p.cache
	if c == nil {
		return // the section's own line failed
	}
	kw, a := words[0], words[1:]
	switch kw {
	case "total-max-size", "max-object-size", "max-age", "process-vary", "max-secondary-entries":
	default:
		p.errorf(kw, ErrUnknownKeyword, "unknown keyword '%s' in 'cache' section", kw)
		return
	}
	if err := cacheKeyword(c, kw, a); err != nil {
		p.fail(kw, fmt.Sprintf("'%s' in 'cache' section", kw), err)
	}
}

func cacheKeyword(c *CacheSection, kw string, a []string) error {
	if len(a) != 1 {
		return errors.New("expects one value")
	}
	num := func(max uint64) (uint64, error) {
		n, err := strconv.ParseUint(a[0], 10, 64)
		if err != nil || n > max {
			return 0, fmt.Errorf("wrong value '%s' (expects an integer from 0 to %d)", a[0], max)
		}
		return n, nil
	}
	switch kw {
	case "total-max-size":
		n, err := num(maxCacheMB)
		if err != nil {
			return err
		}
		c.TotalMaxSize, c.sizeSet = int64(n)<<20, true
	case "max-object-size":
		n, err := num(1<<32 - 1)
		if err != nil {
			return err
		}
		c.MaxObjectSize = int64(n)
	case "max-age":
		n, err := num(1<<31 - 1)
		if err != nil {
			return err
		}
		c.MaxAge = int64(n)
	case "process-vary":
		switch a[0] {
		case "on":
			c.ProcessVary = true
		case "off":
			c.ProcessVary = false
		default:
			return fmt.Errorf("expects 'on' or 'off', not '%s'", a[0])
		}
	case "max-secondary-entries":
		n, err := num(1<<31 - 1)
		if err != nil || n == 0 {
			return fmt.Errorf("wrong value '%s' (expects a strictly positive integer)", a[0])
		}
		c.MaxSecondaryEntries = int(n)
	}
	return nil
}

// checkCaches settles each cache's sizes, as HAProxy does once a section
// ends, and checks that the caches the rules name exist.
func (p *parser) checkCaches() {
	for _, c := range p.cfg.Caches {
		p.pos = c.Pos
		switch {
		case !c.sizeSet || c.TotalMaxSize == 0:
			p.errorf("cache", ErrBadValue, "cache '%s': size not specified (expects 'total-max-size <megabytes>', at least 1)", c.Name)
		case c.MaxObjectSize == 0:
			c.MaxObjectSize = c.TotalMaxSize >> 8
		case c.MaxObjectSize > c.TotalMaxSize/2:
			p.errorf("max-object-size", ErrBadValue, "cache '%s': 'max-object-size' is limited to half of 'total-max-size' (%d)", c.Name, c.TotalMaxSize/2)
		}
	}
	for _, px := range p.cfg.Proxies {
		for _, rules := range [][]HTTPRule{px.HTTP.RequestRules, px.HTTP.ResponseRules} {
			for _, r := range rules {
				if (r.Action == "cache-use" || r.Action == "cache-store") && p.cfg.Cache(r.Name) == nil {
					p.pos = r.Pos
					p.errorf(r.Action, ErrReference, "%s '%s': unable to find the cache '%s'", px.Kind, px.Name, r.Name)
				}
			}
		}
	}
}

// parseCacheRule reads "http-request cache-use NAME" and "http-response
// cache-store NAME"; the cache is looked up once every section is read.
func parseCacheRule(px *Proxy, r HTTPRule, a []string) (HTTPRule, error) {
	if len(a) != 1 {
		return r, fmt.Errorf("'%s' expects a cache name", r.Action)
	}
	r.Name = a[0]
	implicitCacheFilter(r.Pos, px, r.Name)
	return r, nil
}
