package acl

import (
	"fmt"
	"os"
	"strconv"
)

// Constant and environment fetches, as HAProxy has them: str(TEXT),
// int(N), bool(0|1), env(NAME) and hostname. As in HAProxy, str and env
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
	RegisterFetch(Fetch{Name: "bool", Type: TypeBool, Arg: ArgRequired, Compile: func(a string) (FetchFunc, error) {
		n, err := strconv.ParseInt(a, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: '%s' is not an integer", ErrSyntax, a)
		}
		s := Bool(n != 0)
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
