package config

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestServerStateFile checks the state file's keywords and reading: the
// global file or a backend's own below server-state-base, lines matched
// by backend and server name, init-addr last taking the kept address
// and the kept port replacing the configured one, and bad lines, a
// missing file or an unknown version as warnings.
func TestServerStateFile(t *testing.T) {
	dir := t.TempDir()
	const header = "1\n# be_id be_name srv_id srv_name srv_addr ...\n"
	write := func(name, text string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600))
	}
	write("global.state", header+
		"2 web 1 a 10.0.0.9 0 1 7 1 12 6 3 0 14 0 0 0 - 8081 - 0 9000 - - 0\n"+
		"2 web 2 b - 2 8 5 10 3 1 0 4 6 0 0 0 - 80 - 0 0 - - 0\n"+
		"2 web 3 c 10.0.0.1 2 0 x 1 0 1 0 4 6 0 0 0 - 80 - 0 0 - - 0\n"+
		"2 web 4 short\n")
	write("api", header+"3 api 1 a 10.1.1.1 2 0 1 1 0 6 3 4 6 0 0 0 - 9090 -\n")
	write("v2.state", "2\n")
	c, err := Parse(Source{Name: "lb.cfg", Data: []byte(`global
    server-state-base ` + dir + `
    server-state-file global.state
backend web
    load-server-state-from-file global
    server a host.invalid:80 init-addr last
    server b 127.0.0.1:80
    server c 127.0.0.1:80
backend api
    load-server-state-from-file local
    server-state-file-name use-backend-name
    server a 127.0.0.1:9000
backend none
    load-server-state-from-file none
    server a 127.0.0.1:9000
backend missing
    load-server-state-from-file local
    server a 127.0.0.1:9000
`)})
	require.NoError(t, err)
	require.NoError(t, c.Resolve(context.Background(), func(context.Context, string) ([]netip.Addr, error) {
		t.Fatal("init-addr last found its address in the file")
		return nil, nil
	}))
	web := c.Proxy("web", KindBackend)
	a, b, cc := web.Servers[0], web.Servers[1], web.Servers[2]
	require.NotNil(t, a.State)
	assert.Equal(t, "10.0.0.9:8081", a.Addr, "the kept address and port")
	assert.Equal(t, ServerState{Addr: "10.0.0.9", Port: 8081, OpState: 0, AdminState: 1, UWeight: 7, IWeight: 1, SinceChange: 12,
		CheckStatus: 6, CheckResult: 3, CheckHealth: 0, CheckState: 14, CheckPort: 9000, CheckAddr: "-", AgentAddr: "-"}, *a.State)
	require.NotNil(t, b.State)
	assert.Equal(t, StateAdminFDrain, b.State.AdminState)
	assert.Nil(t, cc.State, "a line that does not read is left out")
	api := c.Proxy("api", KindBackend).Servers[0]
	require.NotNil(t, api.State, "a line with the first 20 fields is enough")
	assert.Equal(t, "127.0.0.1:9090", api.Addr)
	assert.Nil(t, c.Proxy("none", KindBackend).Servers[0].State)
	assert.Nil(t, c.Proxy("missing", KindBackend).Servers[0].State)
	warnings := ""
	for _, w := range c.Warnings {
		warnings += w + "\n"
	}
	assert.Contains(t, warnings, "global.state:5: invalid field 8 value 'x': line ignored")
	assert.Contains(t, warnings, "global.state:6: 4 fields, at least 20 expected: line ignored")
	assert.Contains(t, warnings, "Proxy 'missing': Can't open server state file '"+filepath.Join(dir, "missing")+"': No such file or directory.")

	c2 := mustParse(t, "global\n    server-state-file "+filepath.Join(dir, "v2.state")+"\nbackend b\n    load-server-state-from-file global\n    server s 127.0.0.1:1\n")
	require.NoError(t, c2.Resolve(context.Background(), SystemLookup))
	assert.Contains(t, c2.Warnings[len(c2.Warnings)-1], "unknown version '2': file ignored")

	_, err = parse(t, "backend b\n    load-server-state-from-file all\n")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "lb.cfg:2: ")
	assert.Contains(t, err.Error(), "expects 'global', 'local' or 'none'")
}
