package lua

import (
	"sort"

	glua "github.com/yuin/gopher-lua"
)

// ProxyInfo describes a proxy to the scripts (core.proxies,
// core.frontends, core.backends).
type ProxyInfo struct {
	// Name and UUID are the proxy's name and numeric id.
	Name string
	UUID int
	// Mode is "http" or "tcp".
	Mode string
	// Frontend and Backend are its capabilities.
	Frontend, Backend bool
	// Servers are a backend's servers.
	Servers []ServerInfo
}

// ServerInfo describes a server to the scripts; the functions read its
// state when a script asks.
type ServerInfo struct {
	// Name and PUID are the server's name and numeric id in its
	// backend.
	Name string
	PUID int
	// Addr returns "IP:PORT"; Weight the current weight; Draining
	// whether it is draining.
	Addr     func() string
	Weight   func() int
	Draining func() bool
	// SetWeight sets the weight as "set server B/S weight" takes it;
	// SetState sets the administrative state: "ready", "drain" or
	// "maint". Nil when the server cannot change.
	SetWeight func(w string) error
	SetState  func(state string) error
	// MaxConn returns the connection limit; SetMaxConn sets it from a
	// number's text and returns haproxy's complaint ("" when taken).
	MaxConn    func() int
	SetMaxConn func(v string) string
	// SetAddr changes the address (and, withPort, the port) and returns
	// the message the runtime API would give, said of a Lua script.
	SetAddr func(addr, port string, withPort bool) string
	// Admin runs a runtime API command on the server: words, where
	// "%s" stands for its "backend/server".
	Admin func(words ...string)
}

// SetProxies gives the scripts the configuration's proxies, before
// Start: init functions, tasks and callbacks find them in core.proxies,
// core.frontends and core.backends.
func (rt *Runtime) SetProxies(ps []ProxyInfo) {
	for _, v := range []*vm{rt.shared, rt.per} {
		if v != nil {
			v.setProxies(ps)
		}
	}
}

func (v *vm) setProxies(ps []ProxyInfo) {
	v.mu.Lock()
	defer v.mu.Unlock()
	L := v.L
	core, ok := L.GetGlobal("core").(*glua.LTable)
	if !ok {
		return
	}
	pxMT, srvMT := v.class(proxyMethods()), v.class(serverMethods())
	all, fes, bes := L.NewTable(), L.NewTable(), L.NewTable()
	sorted := append([]ProxyInfo(nil), ps...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].UUID < sorted[j].UUID })
	for _, p := range sorted {
		t := L.NewTable()
		t.RawSetString("name", glua.LString(p.Name))
		t.RawSetString("uuid", glua.LNumber(p.UUID))
		cap := "proxy"
		switch {
		case p.Frontend && !p.Backend:
			cap = "frontend"
		case p.Backend && !p.Frontend:
			cap = "backend"
		}
		t.RawSetString("__cap", glua.LString(cap))
		t.RawSetString("__mode", glua.LString(p.Mode))
		servers := L.NewTable()
		for _, s := range p.Servers {
			st := L.NewTable()
			st.RawSetString("name", glua.LString(s.Name))
			st.RawSetString("puid", glua.LNumber(s.PUID))
			ud := L.NewUserData()
			ud.Value = s
			st.RawSetString("__srv", ud)
			L.SetMetatable(st, srvMT)
			servers.RawSetString(s.Name, st)
		}
		t.RawSetString("servers", servers)
		L.SetMetatable(t, pxMT)
		all.RawSetString(p.Name, t)
		if p.Frontend {
			fes.RawSetString(p.Name, t)
		}
		if p.Backend {
			bes.RawSetString(p.Name, t)
		}
	}
	core.RawSetString("proxies", all)
	core.RawSetString("frontends", fes)
	core.RawSetString("backends", bes)
}

func proxyMethods() map[string]glua.LGFunction {
	field := func(name string) glua.LGFunction {
		return func(L *glua.LState) int {
			L.Push(L.CheckTable(1).RawGetString(name))
			return 1
		}
	}
	return map[string]glua.LGFunction{
		"get_name": field("name"),
		"get_cap":  field("__cap"),
		"get_mode": field("__mode"),
	}
}

// setState is a server method setting its administrative state.
func setState(srv func(*glua.LState) ServerInfo, state string) glua.LGFunction {
	return func(L *glua.LState) int {
		if s := srv(L); s.SetState != nil {
			_ = s.SetState(state)
		}
		return 0
	}
}

// admin is a server method running a runtime API command on it.
func admin(srv func(*glua.LState) ServerInfo, words ...string) glua.LGFunction {
	return func(L *glua.LState) int {
		if s := srv(L); s.Admin != nil {
			s.Admin(words...)
		}
		return 0
	}
}

func serverMethods() map[string]glua.LGFunction {
	srv := func(L *glua.LState) ServerInfo {
		ud, ok := L.CheckTable(1).RawGetString("__srv").(*glua.LUserData)
		if !ok {
			L.ArgError(1, "server expected")
		}
		s, _ := ud.Value.(ServerInfo)
		return s
	}
	return map[string]glua.LGFunction{
		"get_addr": func(L *glua.LState) int {
			s := srv(L)
			addr := ""
			if s.Addr != nil {
				addr = s.Addr()
			}
			L.Push(glua.LString(addr))
			return 1
		},
		"get_weight": func(L *glua.LState) int {
			s := srv(L)
			w := 0
			if s.Weight != nil {
				w = s.Weight()
			}
			L.Push(glua.LNumber(w))
			return 1
		},
		"set_weight": func(L *glua.LState) int {
			s := srv(L)
			if s.SetWeight != nil {
				if err := s.SetWeight(L.CheckString(2)); err != nil {
					L.Push(glua.LString(err.Error()))
					return 1
				}
			}
			L.Push(glua.LNil)
			return 1
		},
		"get_maxconn": func(L *glua.LState) int {
			n := 0
			if s := srv(L); s.MaxConn != nil {
				n = s.MaxConn()
			}
			L.Push(glua.LNumber(n))
			return 1
		},
		"set_maxconn": func(L *glua.LState) int {
			s := srv(L)
			v := L.CheckString(2)
			if s.SetMaxConn != nil {
				if msg := s.SetMaxConn(v); msg != "" {
					L.Push(glua.LString(msg))
					return 1
				}
			}
			L.Push(glua.LNil)
			return 1
		},
		"set_addr": func(L *glua.LState) int {
			s := srv(L)
			addr := L.CheckString(2)
			port, withPort := "", L.GetTop() >= 3 && L.Get(3) != glua.LNil
			if withPort {
				port = L.CheckString(3)
			}
			msg := ""
			if s.SetAddr != nil {
				msg = s.SetAddr(addr, port, withPort)
			}
			L.Push(glua.LString(msg))
			return 1
		},
		"shut_sess":        admin(srv, "shutdown", "sessions", "server", "%s"),
		"check_enable":     admin(srv, "enable", "health", "%s"),
		"check_disable":    admin(srv, "disable", "health", "%s"),
		"agent_enable":     admin(srv, "enable", "agent", "%s"),
		"agent_disable":    admin(srv, "disable", "agent", "%s"),
		"check_force_up":   admin(srv, "set", "server", "%s", "health", "up"),
		"check_force_nolb": admin(srv, "set", "server", "%s", "health", "stopping"),
		"check_force_down": admin(srv, "set", "server", "%s", "health", "down"),
		"agent_force_up":   admin(srv, "set", "server", "%s", "agent", "up"),
		"agent_force_down": admin(srv, "set", "server", "%s", "agent", "down"),
		"set_drain":        setState(srv, "drain"),
		"set_maint":        setState(srv, "maint"),
		"set_ready":        setState(srv, "ready"),
		"is_draining": func(L *glua.LState) int {
			// HAProxy 2.6 gives 0 or 1.
			s := srv(L)
			d := 0
			if s.Draining != nil && s.Draining() {
				d = 1
			}
			L.Push(glua.LNumber(d))
			return 1
		},
	}
}
