package acl

import (
	"fmt"
	"strings"
	"sync/atomic"
)

// The converters set-var(SCOPE.NAME[,COND...]) and unset-var(SCOPE.NAME),
// as HAProxy 2.6 has them: the sample passes on unchanged, the variable
// is set (or unset) on the way. set-var's conditions, up to four, must
// all hold for the variable to be set; when one does not, the sample
// stops there (no sample), as in HAProxy.
//
// HAProxy tells a variable that exists from one that is set: a set-var
// whose conditions fail after the existence checks leaves the variable
// existing but unset (proc variables all exist from the start, set or
// not). lb keeps such a variable as a sample of no type, which var()
// does not return.

// varCond is a set of set-var conditions.
type varCond uint8

const (
	condIfExists varCond = 1 << iota
	condIfNotExists
	condIfEmpty
	condIfNotEmpty
	condIfSet
	condIfNotSet
	condIfGT
	condIfLT
)

var varConds = map[string]varCond{
	"ifexists": condIfExists, "ifnotexists": condIfNotExists,
	"ifempty": condIfEmpty, "ifnotempty": condIfNotEmpty,
	"ifset": condIfSet, "ifnotset": condIfNotSet,
	"ifgt": condIfGT, "iflt": condIfLT,
}

// maxVarConds is how many conditions set-var takes, as in HAProxy.
const maxVarConds = 4

// VarScopeContext is a VarContext that may lack some scopes for now:
// before a connection's stream exists (tcp-request connection and
// session rules) only proc and sess variables live. set-var and
// unset-var of a scope it lacks give no sample, as in HAProxy.
type VarScopeContext interface {
	HasVarScope(scope string) bool
}

// varScope returns c as a VarContext when it holds variables of scope.
func varScope(c Context, scope string) (VarContext, bool) {
	vc, ok := c.(VarContext)
	if !ok {
		return nil, false
	}
	if vs, ok := c.(VarScopeContext); ok && !vs.HasVarScope(scope) {
		return nil, false
	}
	return vc, true
}

// sessVarConv is set once a set-var converter of scope sess is
// compiled, for SessVarConverters.
var sessVarConv atomic.Bool

// SessVarConverters reports whether a configuration read by this process
// sets sess variables from a converter, which a connection must then
// drop when it ends.
func SessVarConverters() bool { return sessVarConv.Load() }

func init() {
	ctxConverters["set-var"] = ctxConverter{ArgRequired, 0, func(a []string) (CtxConvFunc, error) {
		name, scope, err := convVarName(a)
		if err != nil {
			return nil, err
		}
		if len(a) > 1+maxVarConds {
			return nil, fmt.Errorf("expects <var>[,<cond>...] with at most %d conditions", maxVarConds)
		}
		var conds varCond
		for _, c := range a[1:] {
			c = strings.TrimSpace(c)
			v, ok := varConds[c]
			if !ok {
				return nil, fmt.Errorf("unknown condition \"%s\" (ifexists, ifnotexists, ifempty, ifnotempty, ifset, ifnotset, ifgt, iflt)", c)
			}
			conds |= v
		}
		if scope == "sess" {
			sessVarConv.Store(true)
		}
		proc := scope == "proc"
		return func(c Context, s Sample) (Sample, bool) {
			vc, ok := varScope(c, scope)
			if !ok {
				return Sample{}, false
			}
			if conds == 0 {
				vc.SetVar(name, s)
				return s, true
			}
			return s, setVarIf(vc, name, proc, conds, s)
		}, nil
	}}
	ctxConverters["unset-var"] = ctxConverter{ArgRequired, 0, func(a []string) (CtxConvFunc, error) {
		name, scope, err := convVarName(a)
		if err != nil {
			return nil, err
		}
		if len(a) > 1 {
			return nil, fmt.Errorf("expects only <var>")
		}
		return func(c Context, s Sample) (Sample, bool) {
			vc, ok := varScope(c, scope)
			if !ok {
				return Sample{}, false
			}
			vc.UnsetVar(name)
			return s, true
		}, nil
	}}
}

// convVarName reads the variable a set-var or unset-var converter names.
func convVarName(a []string) (name, scope string, err error) {
	if len(a) == 0 || strings.TrimSpace(a[0]) == "" {
		return "", "", fmt.Errorf("empty variable name")
	}
	name = strings.TrimSpace(a[0])
	scope, _, err = ParseVarName(name)
	return name, scope, err
}

// setVarIf sets the variable to s when every condition holds, as
// HAProxy's var_set checks them: existence first (a proc variable always
// exists), then whether it is set, whether s is empty (only strings can
// be) and how its integer compares with s's (when both are integers).
// A variable created for the check stays, unset, when a later condition
// fails.
func setVarIf(vc VarContext, name string, proc bool, conds varCond, s Sample) bool {
	cur, found := vc.Var(name)
	exists := found || proc
	if exists && conds&condIfNotExists != 0 || !exists && conds&condIfExists != 0 {
		return false
	}
	set := found && cur.Type != 0
	empty := s.Type == TypeStr && s.Str == ""
	ints := cur.Type == TypeInt && s.Type == TypeInt
	switch {
	case conds&condIfSet != 0 && !set,
		conds&condIfNotSet != 0 && set,
		conds&condIfEmpty != 0 && !empty,
		conds&condIfNotEmpty != 0 && empty,
		conds&condIfGT != 0 && ints && cur.Int <= s.Int,
		conds&condIfLT != 0 && ints && cur.Int >= s.Int:
		if !exists {
			vc.SetVar(name, Sample{})
		}
		return false
	}
	vc.SetVar(name, s)
	return true
}
