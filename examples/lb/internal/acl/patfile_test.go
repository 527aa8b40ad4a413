package acl

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPatternFile checks "-f FILE": patterns one per line, '#' lines and
// empty ones skipped, leading blanks dropped and trailing ones kept, CR
// LF endings, added to the line's own patterns, and with -M a map's
// keys; a missing file is an error naming it.
func TestPatternFile(t *testing.T) {
	dir := t.TempDir()
	nets := filepath.Join(dir, "nets.lst")
	require.NoError(t, os.WriteFile(nets, []byte("# allowed\n10.0.0.0/8\r\n\n  192.168.1.0/24\n"), 0o600))
	words := filepath.Join(dir, "words.lst")
	require.NoError(t, os.WriteFile(words, []byte("\tadmin\nfoo bar \n #x\n"), 0o600))
	c := newCtx("192.168.1.7:1000")
	checkExprs(t, c, []exprCase{
		{"src -f " + nets, true},
		{"src -f " + nets + " 172.16.0.1", true},
		{"str(admin) -f " + words, true},
		{"str(foo) -f " + words, false},
	})
	checkExprs(t, newCtx("172.16.0.1:1000"), []exprCase{
		{"src -f " + nets, false},
		{"src -f " + nets + " 172.16.0.1", true},
		{"src -f " + nets + " -f " + nets, false},
	})
	keys := func(twoCols bool) []string {
		r, err := (*Refs)(nil).load(words, twoCols, RefACL)
		require.NoError(t, err)
		var out []string
		for _, e := range r.Entries(0) {
			out = append(out, e.Key)
		}
		return out
	}
	assert.Equal(t, []string{"admin", "foo bar ", "#x"}, keys(false))
	assert.Equal(t, []string{"admin", "foo", "#x"}, keys(true), "a map's keys")
	checkExprs(t, c, []exprCase{
		{"str(foo) -M -f " + words, true},
		{"str(foo) -f " + words, false},
	})
	_, err := ParseExpr(strings.Fields("src -f " + filepath.Join(dir, "none.lst")))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "failed to open pattern file <"+filepath.Join(dir, "none.lst")+">")
	_, err = ParseExpr([]string{"src", "-f"})
	require.Error(t, err)
}
