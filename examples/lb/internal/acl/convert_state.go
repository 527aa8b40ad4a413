package acl

import "strings"

// The converters nbsrv and srv_queue, as HAProxy 2.6 has them: the
// sample names a backend ("BACKEND") or a server ("[BACKEND/]SERVER",
// of the proxy running the rule when no backend is named), and they
// give its usable servers or its queue. A name that finds nothing
// leaves no sample.

func init() {
	ctxConverters["nbsrv"] = ctxConverter{ArgNone, TypeInt, func([]string) (CtxConvFunc, error) {
		return func(c Context, s Sample) (Sample, bool) {
			bc, ok := c.(BackendContext)
			name := s.String()
			if !ok || name == "" {
				return Sample{}, false
			}
			n, ok := bc.UsableServers(name)
			return Int(int64(n)), ok
		}, nil
	}}
	ctxConverters["srv_queue"] = ctxConverter{ArgNone, TypeInt, func([]string) (CtxConvFunc, error) {
		return func(c Context, s Sample) (Sample, bool) {
			sc, ok := c.(StateContext)
			if !ok {
				return Sample{}, false
			}
			name := s.String()
			be, srv := SplitServerRef(name)
			if srv == "" || be == "" && strings.IndexByte(name, '/') >= 0 {
				return Sample{}, false
			}
			n, ok := sc.State(StatSrvQueue, be, srv)
			return Int(n), ok
		}, nil
	}}
}
