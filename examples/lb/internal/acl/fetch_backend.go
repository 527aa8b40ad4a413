package acl

// BackendContext is a Context that knows the balancer's backends.
type BackendContext interface {
	// UsableServers returns how many servers of the backend called
	// name ("" for the request's own) may take traffic, as haproxy's
	// nbsrv counts them; ok is false when there is no such backend.
	UsableServers(name string) (n int, ok bool)
}

func init() {
	// nbsrv([BACKEND]): the usable servers of the backend, or of the
	// request's own.
	RegisterFetch(Fetch{Name: "nbsrv", Type: TypeInt, Arg: ArgOptional, Compile: func(name string) (FetchFunc, error) {
		return func(c Context) (Sample, bool) {
			bc, ok := c.(BackendContext)
			if !ok {
				return Sample{}, false
			}
			n, ok := bc.UsableServers(name)
			return Int(int64(n)), ok
		}, nil
	}})
}
