package acl

// CacheContext is a Context that knows whether a cache answered the
// request: name is the cache's name, "" when a server did.
type CacheContext interface {
	CacheHit() (name string)
}

func init() {
	// res.cache_hit: true when the response came from a cache.
	RegisterFetch(Fetch{Name: "res.cache_hit", Type: TypeBool, Compile: noArg(func(c Context) (Sample, bool) {
		cc, ok := c.(CacheContext)
		return Bool(ok && cc.CacheHit() != ""), true
	})})
	// res.cache_name: the name of the cache the response came from; no
	// sample when it came from a server.
	RegisterFetch(Fetch{Name: "res.cache_name", Type: TypeStr, Compile: noArg(func(c Context) (Sample, bool) {
		cc, ok := c.(CacheContext)
		if !ok {
			return Sample{}, false
		}
		name := cc.CacheHit()
		return Str(name), name != ""
	})})
}
