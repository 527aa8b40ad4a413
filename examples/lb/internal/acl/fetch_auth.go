package acl

import (
	"bytes"
	"encoding/base64"

	"github.com/proxyblocks/proxyblocks/mux/htx"
)

// The HTTP authentication fetches: http_auth(userlist) is true when the
// request's basic credentials are a user of the userlist with its
// password; http_auth_group(userlist) offers that user's groups to the
// ACL's patterns (group names); http_auth_user and http_auth_pass are
// the credentials the request carries, checked or not.

// AuthContext is a context that checks a request's basic credentials
// against a configured userlist.
type AuthContext interface {
	// CheckAuth checks the request's credentials against the userlist
	// and returns the groups of the user they name.
	CheckAuth(userlist string) (groups []string, ok bool)
}

// BasicAuth returns the user and password of the request's
// "Authorization: Basic" field.
func BasicAuth(m *htx.Message) (user, password string, ok bool) {
	if m == nil {
		return "", "", false
	}
	v, found := m.Get("Authorization")
	if !found {
		return "", "", false
	}
	v = bytes.TrimSpace(v)
	if len(v) < 6 || !bytes.EqualFold(v[:6], []byte("Basic ")) {
		return "", "", false
	}
	raw, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(v[6:])))
	if err != nil {
		return "", "", false
	}
	u, p, found := bytes.Cut(raw, []byte(":"))
	if !found {
		return "", "", false
	}
	return string(u), string(p), true
}

func init() {
	RegisterFetch(Fetch{Name: "http_auth", Type: TypeBool, Arg: ArgRequired, Compile: func(list string) (FetchFunc, error) {
		return func(c Context) (Sample, bool) {
			a, ok := c.(AuthContext)
			if !ok || request(c) == nil {
				return Sample{}, false
			}
			_, good := a.CheckAuth(list)
			return Bool(good), true
		}, nil
	}})
	groups := func(list string) func(c Context) ([]string, bool) {
		return func(c Context) ([]string, bool) {
			a, ok := c.(AuthContext)
			if !ok || request(c) == nil {
				return nil, false
			}
			return a.CheckAuth(list)
		}
	}
	RegisterFetch(Fetch{Name: "http_auth_group", Type: TypeStr, Arg: ArgRequired,
		Compile: func(list string) (FetchFunc, error) {
			get := groups(list)
			return func(c Context) (Sample, bool) {
				g, ok := get(c)
				if !ok || len(g) == 0 {
					return Sample{}, false
				}
				return Str(g[0]), true
			}, nil
		},
		CompileEach: func(list string) (EachFunc, error) {
			get := groups(list)
			return func(c Context, match func(Sample) bool) bool {
				g, ok := get(c)
				if !ok {
					return false
				}
				for _, name := range g {
					if match(Str(name)) {
						return true
					}
				}
				return false
			}, nil
		},
	})
	for _, name := range []string{"http_auth_user", "http_auth_pass"} {
		pass := name == "http_auth_pass"
		RegisterFetch(Fetch{Name: name, Type: TypeStr, Arg: ArgNone, Compile: func(string) (FetchFunc, error) {
			return func(c Context) (Sample, bool) {
				u, p, ok := BasicAuth(request(c))
				if !ok {
					return Sample{}, false
				}
				if pass {
					return Str(p), true
				}
				return Str(u), true
			}, nil
		}})
	}
}
