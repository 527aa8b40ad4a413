package balancer

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMapCommands runs the map and ACL commands through RunCommand: a
// payload after "<<", entries by id, versions, and malformed commands,
// each answered with an error line rather than a panic.
func TestMapCommands(t *testing.T) {
	dir := t.TempDir()
	m := filepath.Join(dir, "a.map")
	l := filepath.Join(dir, "b.lst")
	require.NoError(t, os.WriteFile(m, []byte("k v\n"), 0o600))
	require.NoError(t, os.WriteFile(l, []byte("/x\n"), 0o600))
	cfg, err := config.Parse(config.Source{Name: "m.cfg", Data: []byte(`
frontend f
    mode http
    bind 127.0.0.1:0
    acl known path -f ` + l + `
    http-request set-var(txn.x) path,map(` + m + `) if known
`)})
	require.NoError(t, err)
	b, err := Start(context.Background(), cfg, Options{Stdout: &safeBuffer{}, Stderr: &safeBuffer{}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })

	run := func(line string) string { return b.RunCommand("user", line) }
	assert.Equal(t, "", run("add map "+m+" <<\na 1\nb  2 3\n\nignored after the empty line"))
	shown := run("show map " + m)
	lines := strings.Split(strings.TrimSuffix(shown, "\n"), "\n")
	require.Len(t, lines, 3, shown)
	for i, want := range []string{"k v", "a 1", "b 2 3"} {
		id, rest, _ := strings.Cut(lines[i], " ")
		assert.True(t, strings.HasPrefix(id, "0x"), lines[i])
		assert.Equal(t, want, rest)
	}
	id, _, _ := strings.Cut(lines[1], " ")
	assert.Equal(t, "", run("set map "+m+" #"+id+" one"))
	assert.Contains(t, run("get map "+m+" a"), `value="one"`)
	assert.Equal(t, "", run("del map "+m+" #"+id))
	assert.Equal(t, "Key not found.\n", run("del map "+m+" #"+id))
	assert.Equal(t, "type=str, case=sensitive, found=no\n", run("get map "+m+" a"))
	assert.Equal(t, "type=str, case=sensitive, match=yes, idx=tree, pattern=\"/x\"\n", run("get acl "+l+" /x"))
	assert.Equal(t, "New version created: 1\n", run("prepare acl "+l))
	assert.Equal(t, "", run("add acl @1 "+l+" /y"))
	assert.Equal(t, "", run("commit acl @1 "+l))
	assert.Regexp(t, `^0x[0-9a-f]+ /y\n$`, run("show acl "+l))
	assert.Regexp(t, `^# id \(file\) description\n0 \(.*b\.lst\) .* curr_ver=1 next_ver=1 entry_cnt=1\n$`, run("show acl"))

	for line, want := range map[string]string{
		"show map @ " + m:            "Malformed version number.\n",
		"add map @4294967296 " + m:   "Malformed version number.\n",
		"commit map @ " + m:          "Version number out of range.\n",
		"commit map @1":              "Missing map identifier.\n",
		"add map " + m + " <<\nlone": "Missing value for key 'lone'.\n",
		"set acl " + l + " x y":      "Unknown command.",
		"show map #99":               "Unknown map identifier. Please use #<id> or <file>.\n",
		"show map #x":                "Unknown map identifier. Please use #<id> or <file>.\n",
		"del acl " + l + " #0x":      "Malformed identifier. Please use #<id> or <file>.\n",
	} {
		assert.Contains(t, run(line), want, line)
	}
}
