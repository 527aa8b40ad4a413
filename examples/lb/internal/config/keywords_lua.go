package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/lua"
)

// The global keywords of Lua: lua-load runs a file at once, so that what
// it registers (services, actions, fetches, converters) is known to the
// lines after it, as in HAProxy.

// lua returns the configuration's Lua runtime, made on first use.
func (p *parser) lua() *lua.Runtime {
	if p.cfg.Global.Lua == nil {
		p.cfg.Global.Lua = lua.New(p.cfg.Patterns)
		p.cfg.Patterns.SetScripts(p.cfg.Global.Lua)
	}
	return p.cfg.Global.Lua
}

func init() {
	load := func(perThread bool) func(p *parser, a []string) error {
		return func(p *parser, a []string) error {
			if len(a) < 1 {
				return errors.New("expects a file name as parameter")
			}
			// HAProxy 2.6 reads the words after the file name and
			// gives the chunk none of them.
			return p.lua().Load(inDir(p.baseDir, a[0]), perThread)
		}
	}
	globalKeywords["lua-load"] = load(false)
	globalKeywords["lua-load-per-thread"] = load(true)
	globalKeywords["lua-prepend-path"] = func(p *parser, a []string) error {
		if len(a) < 1 || len(a) > 2 {
			return errors.New("expects a path as parameter, and optionally 'path' or 'cpath'")
		}
		kind := "path"
		if len(a) == 2 {
			kind = a[1]
		}
		return p.lua().PrependPath(a[0], kind)
	}
	luaTime := func(set func(rt *lua.Runtime, d time.Duration)) func(p *parser, a []string) error {
		return func(p *parser, a []string) error {
			if len(a) != 1 {
				return errors.New("expects a timeout value as parameter")
			}
			d, err := ParseTime(a[0])
			if err != nil {
				return err
			}
			set(p.lua(), d)
			return nil
		}
	}
	globalKeywords["tune.lua.session-timeout"] = luaTime(func(rt *lua.Runtime, d time.Duration) { rt.SessionTimeout = d })
	globalKeywords["tune.lua.service-timeout"] = luaTime(func(rt *lua.Runtime, d time.Duration) { rt.ServiceTimeout = d })
	globalKeywords["tune.lua.task-timeout"] = luaTime(func(rt *lua.Runtime, d time.Duration) { rt.TaskTimeout = d })
	// tune.lua.forced-yield and tune.lua.maxmem are read and checked,
	// and change nothing: a callback runs until it returns or waits
	// (the runtime cannot interrupt one to run another), and the
	// interpreter does not meter its memory.
	for _, kw := range []string{"tune.lua.forced-yield", "tune.lua.maxmem"} {
		globalKeywords[kw] = func(_ *parser, a []string) error {
			if len(a) != 1 {
				return fmt.Errorf("'%s' expects one numeric value", kw)
			}
			if _, err := strconv.ParseUint(a[0], 10, 31); err != nil {
				return fmt.Errorf("'%s' expects one numeric value", kw)
			}
			return nil
		}
	}
}

// luaService resolves "use-service lua.NAME": an HTTP service in
// http-request (http true), a TCP one in tcp-request content.
func (p *parser) luaService(name string, http bool) error {
	rt := p.cfg.Global.Lua
	ok, isHTTP := rt.HasService(strings.TrimPrefix(name, "lua."))
	switch {
	case rt == nil || !ok:
		return fmt.Errorf("'%s' unknown service name", name)
	case http && !isHTTP:
		return errors.New("TCP applets are forbidden from 'http-request' rulesets")
	case !http && isHTTP:
		return errors.New("HTTP applets are forbidden from 'tcp-request' rulesets")
	}
	return nil
}

// luaAction checks "lua.NAME [args]" against the actions the scripts
// registered for stage.
func (p *parser) luaAction(action, stage string, args []string) error {
	name := strings.TrimPrefix(action, "lua.")
	rt := p.cfg.Global.Lua
	ok, nargs := rt.HasAction(name, stage)
	if !ok {
		if rt.ActionRegistered(name) {
			return fmt.Errorf("%w: action '%s' is not registered for '%s'", ErrUnknownKeyword, action, stage)
		}
		return fmt.Errorf("%w: unknown action '%s'", ErrUnknownKeyword, action)
	}
	if len(args) < nargs {
		return fmt.Errorf("'%s' expects %d arguments", action, nargs)
	}
	if len(args) > nargs {
		return fmt.Errorf("'%s': unexpected '%s' (expects 'if' or 'unless' followed by a condition)", action, strings.Join(args[nargs:], " "))
	}
	return nil
}

// checkLuaRule checks an http-request or http-response rule that names
// a script's action or service.
func (p *parser) checkLuaRule(r HTTPRule, stage string) error {
	switch {
	case r.Action == "lua":
		return p.luaAction("lua."+r.Name, stage, r.Args)
	case r.Action == "use-service" && strings.HasPrefix(r.Name, "lua."):
		return p.luaService(r.Name, true)
	}
	return nil
}
