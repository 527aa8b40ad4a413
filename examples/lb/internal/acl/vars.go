package acl

import (
	"fmt"
	"strings"
	"sync"
)

// Variables, as HAProxy keeps them: "http-request set-var(SCOPE.NAME)
// EXPR" stores a sample that var(SCOPE.NAME) fetches later. The scope
// says how long it lives: proc (the process), sess (the client
// connection), txn (the request and its response), req and res.

// VarContext is a Context that holds variables, named in full
// ("txn.host"), as ParseVarName checks them.
type VarContext interface {
	Context
	// Var returns the variable; ok is false when unset.
	Var(name string) (Sample, bool)
	// SetVar stores s in the variable.
	SetVar(name string, s Sample)
	// UnsetVar removes the variable.
	UnsetVar(name string)
}

// VarScopes are the variable scopes.
var VarScopes = map[string]bool{"proc": true, "sess": true, "txn": true, "req": true, "res": true}

// knownVars are the variable names ParseVarName has read: those the
// configuration names, which an agent (SPOE) may set.
var knownVars sync.Map

// VarKnown reports whether a configuration read by this process names
// the variable (scope included), as HAProxy registers every variable
// name it parses.
func VarKnown(name string) bool {
	_, ok := knownVars.Load(name)
	return ok
}

// ParseVarName splits "SCOPE.NAME" into its scope and name, and notes
// the name as known (VarKnown).
func ParseVarName(v string) (scope, name string, err error) {
	defer func() {
		if err == nil {
			knownVars.Store(v, true)
		}
	}()
	scope, name, ok := strings.Cut(v, ".")
	if !ok || !VarScopes[scope] {
		return "", "", fmt.Errorf("invalid variable name '%s'. Expected 'proc', 'sess', 'txn', 'req' or 'res' scope", v)
	}
	if name == "" {
		return "", "", fmt.Errorf("empty variable name in '%s'", v)
	}
	for _, c := range name {
		if !(c == '_' || c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return "", "", fmt.Errorf("invalid character '%c' in variable name '%s'", c, v)
		}
	}
	return scope, name, nil
}

func init() {
	RegisterFetch(Fetch{Name: "var", Type: TypeStr, Arg: ArgRequired, Match: MatchRequired, Compile: func(a string) (FetchFunc, error) {
		name := strings.TrimSpace(a)
		if _, _, err := ParseVarName(name); err != nil {
			return nil, err
		}
		return func(c Context) (Sample, bool) {
			vc, ok := c.(VarContext)
			if !ok {
				return Sample{}, false
			}
			// A sample of no type is a variable that exists
			// unset (see set-var's conditions).
			s, ok := vc.Var(name)
			return s, ok && s.Type != 0
		}, nil
	}})
}
