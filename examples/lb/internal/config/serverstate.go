package config

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// ServerState is a server's line of a state file, as "show servers
// state" writes it (HAProxy's version 1): what a previous process knew
// of the server, applied when the new one starts.
type ServerState struct {
	// Addr is the address the server had ("-": none), Port its port (-1:
	// none given).
	Addr string
	Port int
	// OpState is 0 stopped, 1 starting, 2 running, 3 stopping; AdminState
	// the forced maintenance (1), configured maintenance (4) and drain (8)
	// bits.
	OpState, AdminState int
	// UWeight is the weight in force, IWeight the configured one then.
	UWeight, IWeight int
	// SinceChange is how many seconds the state had lasted.
	SinceChange int64
	// CheckStatus, CheckResult and CheckHealth are the health check's
	// last status code, result and health; CheckState and AgentState the
	// checks' bits (2 configured, 4 enabled, 8 paused).
	CheckStatus, CheckResult, CheckHealth int
	CheckState, AgentState                int
	// CheckPort, CheckAddr, AgentAddr and AgentPort are where the checks
	// went (0 or "-": the configured place).
	CheckPort, AgentPort int
	CheckAddr, AgentAddr string
}

// State file bits, as HAProxy's.
const (
	StateAdminFMaint = 0x01 // forced maintenance (runtime API, agent)
	StateAdminCMaint = 0x04 // maintenance from the configuration ("disabled")
	StateAdminFDrain = 0x08 // forced drain
	StateCheckConfig = 0x02 // a check is configured
	StateCheckOn     = 0x04 // and enabled
)

// serverStateFile is the path of the state file px loads, "" for none.
func (c *Config) serverStateFile(px *Proxy) string {
	var name string
	switch px.LoadServerState {
	case "global":
		name = c.Global.ServerStateFile
	case "local":
		name = px.ServerStateFileName
		if name == "" || name == "use-backend-name" {
			name = px.Name
		}
	}
	if name == "" || filepath.IsAbs(name) || c.Global.ServerStateBase == "" {
		return name
	}
	return filepath.Join(c.Global.ServerStateBase, name)
}

// loadServerStates reads the state files the backends name and gives
// each server its line (by backend and server name), as HAProxy does
// before it resolves addresses: a missing file is a warning, a line
// that does not read is a warning naming it, and an unknown version
// leaves the file unused.
func (c *Config) loadServerStates() {
	files := map[string]map[string]*ServerState{}
	// The global file is read whether a backend loads it or not, as
	// HAProxy reads it.
	var global map[string]*ServerState
	if c.Global.ServerStateFile != "" {
		global = c.readServerStates(c.globalStateFile(), "config: Can't open global server state file '%s': %s")
	}
	for _, px := range c.Proxies {
		if px.Kind&KindBackend == 0 {
			continue
		}
		if px.LoadServerState == "global" {
			if c.Global.ServerStateFile == "" {
				c.Warnings = append(c.Warnings, fmt.Sprintf("backend '%s' configured to load server state file from global section 'server-state-file' directive. Unfortunately, 'server-state-file' is not set!", px.Name))
				continue
			}
			for _, s := range px.Servers {
				s.State = global[px.Name+"/"+s.Name]
			}
			continue
		}
		path := c.serverStateFile(px)
		if path == "" {
			continue
		}
		states, ok := files[path]
		if !ok {
			states = c.readServerStates(path, "Proxy '"+strings.ReplaceAll(px.Name, "%", "%%")+"': Can't open server state file '%s': %s.")
			files[path] = states
		}
		for _, s := range px.Servers {
			s.State = states[px.Name+"/"+s.Name]
		}
	}
}

// globalStateFile is the path of the global server-state-file.
func (c *Config) globalStateFile() string {
	name := c.Global.ServerStateFile
	if filepath.IsAbs(name) || c.Global.ServerStateBase == "" {
		return name
	}
	return filepath.Join(c.Global.ServerStateBase, name)
}

// readServerStates reads one state file into lines keyed "backend/server";
// a file that does not open is warned of with cantOpen (the path, then
// the system's reason).
func (c *Config) readServerStates(path, cantOpen string) map[string]*ServerState {
	data, err := os.ReadFile(path)
	if err != nil {
		c.Warnings = append(c.Warnings, fmt.Sprintf(cantOpen, path, sysReason(err)))
		return nil
	}
	states := map[string]*ServerState{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if line == 1 {
			if text != "1" {
				c.Warnings = append(c.Warnings, fmt.Sprintf("server-state: %s: unknown version '%s': file ignored", path, text))
				return nil
			}
			continue
		}
		if text == "" || text[0] == '#' {
			continue
		}
		key, st, err := parseServerState(strings.Fields(text))
		if err != nil {
			c.Warnings = append(c.Warnings, fmt.Sprintf("server-state: %s:%d: %v: line ignored", path, line, err))
			continue
		}
		states[key] = st
	}
	return states
}

// parseServerState reads a line's fields: be_id be_name srv_id srv_name
// srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight
// srv_time_since_last_change srv_check_status srv_check_result
// srv_check_health srv_check_state srv_agent_state bk_f_forced_id
// srv_f_forced_id srv_fqdn srv_port srvrecord, then, when present,
// srv_use_ssl srv_check_port srv_check_addr srv_agent_addr
// srv_agent_port.
func parseServerState(f []string) (string, *ServerState, error) {
	if len(f) < 20 {
		return "", nil, fmt.Errorf("%d fields, at least 20 expected", len(f))
	}
	num := func(i int, lo, hi int64) (int64, error) {
		n, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil || n < lo || n > hi {
			return 0, fmt.Errorf("invalid field %d value '%s'", i+1, f[i])
		}
		return n, nil
	}
	st := &ServerState{Addr: f[4], Port: -1, CheckAddr: "-", AgentAddr: "-"}
	ints := []struct {
		i      int
		lo, hi int64
		dst    *int
	}{
		{5, 0, 3, &st.OpState}, {6, 0, 0xff, &st.AdminState}, {7, 0, MaxWeight, &st.UWeight}, {8, 0, MaxWeight, &st.IWeight},
		{10, 0, 255, &st.CheckStatus}, {11, 0, 4, &st.CheckResult}, {12, -1 << 31, 1<<31 - 1, &st.CheckHealth},
		{13, 0, 0x3f, &st.CheckState}, {14, 0, 0x3f, &st.AgentState},
	}
	for _, x := range ints {
		n, err := num(x.i, x.lo, x.hi)
		if err != nil {
			return "", nil, err
		}
		*x.dst = int(n)
	}
	since, err := num(9, -1<<62, 1<<62)
	if err != nil {
		return "", nil, err
	}
	st.SinceChange = since
	if p, err := strconv.ParseUint(f[18], 10, 16); err == nil {
		st.Port = int(p)
	}
	if len(f) >= 25 {
		if p, err := strconv.ParseUint(f[21], 10, 16); err == nil {
			st.CheckPort = int(p)
		}
		st.CheckAddr = f[22]
		st.AgentAddr = f[23]
		if p, err := strconv.ParseUint(f[24], 10, 16); err == nil {
			st.AgentPort = int(p)
		}
	}
	return f[1] + "/" + f[3], st, nil
}

// sysReason is the reason an operation failed as the C library words it:
// the system's error with a capital, "No such file or directory" say.
func sysReason(err error) string {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return err.Error()
	}
	msg := errno.Error()
	if msg == "" {
		return msg
	}
	return strings.ToUpper(msg[:1]) + msg[1:]
}
