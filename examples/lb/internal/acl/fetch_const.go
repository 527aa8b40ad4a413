package acl

import (
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// Constant and environment fetches, as HAProxy has them: str(TEXT),
// int(N), bool(0|1|true|false), ipv4(ADDR), ipv6(ADDR), env(NAME) and hostname. As in HAProxy, str and env
// may go without their argument: str() is the empty string, and env()
// names no variable.
func init() {
	RegisterFetch(Fetch{Name: "str", Type: TypeStr, Arg: ArgOptional, Compile: func(a string) (FetchFunc, error) {
		s := Str(a)
		return func(Context) (Sample, bool) { return s, true }, nil
	}})
	RegisterFetch(Fetch{Name: "int", Type: TypeInt, Arg: ArgRequired, Compile: func(a string) (FetchFunc, error) {
		n, err := strconv.ParseInt(a, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: '%s' is not an integer", ErrSyntax, a)
		}
		s := Int(n)
		return func(Context) (Sample, bool) { return s, true }, nil
	}})
	// ipv4(ADDR) and ipv6(ADDR): a constant address of that family.
	for _, fam := range []struct {
		name string
		ok   func(netip.Addr) bool
	}{{"ipv4", netip.Addr.Is4}, {"ipv6", netip.Addr.Is6}} {
		RegisterFetch(Fetch{Name: fam.name, Type: TypeIP, Arg: ArgRequired, Compile: func(a string) (FetchFunc, error) {
			ip, err := netip.ParseAddr(a)
			if err != nil || !fam.ok(ip) {
				return nil, fmt.Errorf("%w: '%s' is not an %s address", ErrSyntax, a, "IP"+fam.name[2:])
			}
			s := IP(ip)
			return func(Context) (Sample, bool) { return s, true }, nil
		}})
	}
	RegisterFetch(Fetch{Name: "bool", Type: TypeBool, Arg: ArgRequired, Compile: func(a string) (FetchFunc, error) {
		// As HAProxy: "true" or "1", "false" or "0", any case.
		var s Sample
		switch strings.ToLower(a) {
		case "true", "1":
			s = Bool(true)
		case "false", "0":
			s = Bool(false)
		default:
			return nil, fmt.Errorf("%w: Expects 'true', 'false', '0' or '1'", ErrSyntax)
		}
		return func(Context) (Sample, bool) { return s, true }, nil
	}})
	RegisterFetch(Fetch{Name: "env", Type: TypeStr, Arg: ArgOptional, Compile: func(a string) (FetchFunc, error) {
		return func(Context) (Sample, bool) {
			v, ok := os.LookupEnv(a)
			return Str(v), ok
		}, nil
	}})
	RegisterFetch(Fetch{Name: "hostname", Type: TypeStr, Compile: noArg(func(Context) (Sample, bool) {
		h, err := os.Hostname()
		return Str(h), err == nil
	})})
}
