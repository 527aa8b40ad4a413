package lua

import (
	"io"
	"sort"
	"strings"

	glua "github.com/yuin/gopher-lua"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
)

// Commands scripts add to the runtime API (core.register_cli): a line
// whose first words are a command's path runs its function with an
// applet that reads the command's payload and writes the answer.

// cliCommand is a command core.register_cli added.
type cliCommand struct {
	path  []string
	usage string
	fn    fnRef
}

// registerCLI is core.register_cli({words}, usage, fn).
func (v *vm) registerCLI(L *glua.LState) int {
	tbl, usage, fn := L.CheckTable(1), L.CheckString(2), L.CheckFunction(3)
	var path []string
	for i := 1; i <= tbl.Len(); i++ {
		w, ok := tbl.RawGetInt(i).(glua.LString)
		if !ok {
			L.ArgError(1, "1st argument must be a table of strings")
		}
		path = append(path, string(w))
	}
	if len(path) == 0 || len(path) > 5 {
		L.ArgError(1, "1st argument must be a table of 1 to 5 words")
	}
	v.rt.mu.Lock()
	v.rt.clis = append(v.rt.clis, cliCommand{path: path, usage: usage, fn: fnRef{v, fn}})
	v.rt.mu.Unlock()
	return 0
}

// CLIUsages returns the usage texts of the commands scripts added, in
// the order help lists them.
func (rt *Runtime) CLIUsages() []string {
	if rt == nil {
		return nil
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	out := make([]string, 0, len(rt.clis))
	for _, c := range rt.clis {
		out = append(out, c.usage)
	}
	sort.Strings(out)
	return out
}

// cliFor returns the command whose path starts words, the longest one
// when several do.
func (rt *Runtime) cliFor(words []string) (cliCommand, bool) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	var best cliCommand
	found := false
	for _, c := range rt.clis {
		if len(c.path) > len(words) || (found && len(c.path) <= len(best.path)) {
			continue
		}
		match := true
		for i, w := range c.path {
			if words[i] != w {
				match = false
				break
			}
		}
		if match {
			best, found = c, true
		}
	}
	return best, found
}

// cliStream is a runtime API command's input and answer.
type cliStream struct {
	acl.Context
	in  io.Reader
	out io.Writer
}

func (s *cliStream) Read(p []byte) (int, error)  { return s.in.Read(p) }
func (s *cliStream) Write(p []byte) (int, error) { return s.out.Write(p) }

// RunCLI runs the script command whose path starts words, if any: its
// function gets the applet, then every word of the line; the applet's
// getline reads payload, its send writes to out. It reports whether a
// command ran. An error ends the command, logged as haproxy logs it;
// what it sent stays.
func (rt *Runtime) RunCLI(words []string, payload string, out io.Writer) bool {
	if rt == nil {
		return false
	}
	cmd, ok := rt.cliFor(words)
	if !ok {
		return false
	}
	s := &cliStream{in: strings.NewReader(payload), out: out}
	_, err := rt.runCall(cmd.fn, nil, rt.ServiceTimeout, func(c *callState) []glua.LValue {
		t := c.L.NewTable()
		c.L.SetMetatable(t, c.vm.cliMT)
		args := []glua.LValue{t}
		for _, w := range words {
			args = append(args, glua.LString(w))
		}
		return args
	}, func(c *callState) { c.tcp = s })
	if err != nil {
		rt.logFailure(nil, "Lua cli '<lua.cli."+strings.Join(cmd.path, ".")+">': "+err.Error()+".")
	}
	return true
}

// cliAppletMethods are the methods of a runtime API command's applet.
func cliAppletMethods(v *vm) map[string]glua.LGFunction {
	all := tcpAppletMethods(v)
	m := map[string]glua.LGFunction{}
	for _, name := range []string{"getline", "receive", "send"} {
		m[name] = all[name]
	}
	return m
}
