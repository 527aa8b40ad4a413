package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func writeKey(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "sync.key")
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

func TestSessionCacheKeywordsModel(t *testing.T) {
	dir := t.TempDir()
	key := writeKey(t, "  0123456789abcdef0123  \n")
	c := mustParse(t, `global
    tune.ssl.cachesize 500
    ssl-session-cache shm `+filepath.Join(dir, "ssl.cache")+`
    ssl-session-sync bind 127.0.0.2:7001 peer 127.0.0.3:7001 peer [::1]:7001 wait 5ms window 30s key-file `+key+`
`)
	require.Equal(t, &SSLSessionCache{Pos: Pos{File: "lb.cfg", Line: 3}, Path: filepath.Join(dir, "ssl.cache")}, c.Global.SessionCache)
	ss := c.Global.SessionSync
	require.NotNil(t, ss)
	require.Equal(t, Pos{File: "lb.cfg", Line: 4}, ss.Pos)
	require.Equal(t, "127.0.0.2:7001", ss.Config.Bind)
	require.Equal(t, []string{"127.0.0.3:7001", "[::1]:7001"}, ss.Config.Peers)
	require.Equal(t, key, ss.Config.KeyFile)
	require.Equal(t, "0123456789abcdef0123", string(ss.Config.Key), "the key file is read, white space trimmed")
	require.Empty(t, c.Warnings)

	// Without the keywords nothing changes.
	c = mustParse(t, "global\n    tune.ssl.cachesize 500\n")
	require.Nil(t, c.Global.SessionCache)
	require.Nil(t, c.Global.SessionSync)
}

func TestSessionCacheWarnings(t *testing.T) {
	dir := t.TempDir()
	key := writeKey(t, "0123456789abcdef")
	c := mustParse(t, "global\n    tune.ssl.cachesize 0\n    ssl-session-cache shm "+filepath.Join(dir, "c")+"\n")
	require.Len(t, c.Warnings, 1)
	require.Contains(t, c.Warnings[0], "lb.cfg:3: 'ssl-session-cache' ignored: tune.ssl.cachesize is 0")

	c = mustParse(t, "global\n    ssl-session-sync bind 127.0.0.1:7001 multicast 239.1.2.3 key-file "+key+"\n")
	require.Len(t, c.Warnings, 1)
	require.Contains(t, c.Warnings[0], "lb.cfg:2: 'ssl-session-sync': bind 127.0.0.1:7001 with multicast")
	c = mustParse(t, "global\n    ssl-session-sync bind :7001 multicast 239.1.2.3 key-file "+key+"\n")
	require.Empty(t, c.Warnings)
}

func TestSessionCacheKeywordErrors(t *testing.T) {
	dir := t.TempDir()
	key := writeKey(t, "0123456789abcdef")
	short := writeKey(t, "tooshort\n")
	missing := filepath.Join(dir, "none.key")
	notDir := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(notDir, nil, 0o600))
	sync := "    ssl-session-sync "
	for _, tc := range []struct {
		name, text string
		sentinel   error
		want       []string
	}{
		{"cache without args", "    ssl-session-cache\n", ErrBadValue, []string{"lb.cfg:2: ", "expects 'shm PATH'"}},
		{"cache without path", "    ssl-session-cache shm\n", ErrBadValue, []string{"lb.cfg:2: ", "expects 'shm PATH'"}},
		{"cache extra word", "    ssl-session-cache shm /dev/shm/x more\n", ErrBadValue, []string{"lb.cfg:2: ", "expects 'shm PATH'"}},
		{"cache other type", "    ssl-session-cache file /tmp/x\n", ErrUnsupported, []string{"lb.cfg:2: ", "cache type 'file'"}},
		{"cache twice", "    ssl-session-cache shm " + dir + "/a\n    ssl-session-cache shm " + dir + "/b\n", ErrBadValue, []string{"lb.cfg:3: ", "already given at lb.cfg:2"}},
		{"cache dir missing", "    ssl-session-cache shm " + dir + "/nodir/c\n", ErrBadValue, []string{"lb.cfg:2: ", "directory of"}},
		{"cache dir is a file", "    ssl-session-cache shm " + notDir + "/c\n", ErrBadValue, []string{"lb.cfg:2: ", "is not a directory"}},
		{"cache path is a directory", "    ssl-session-cache shm " + dir + "\n", ErrBadValue, []string{"lb.cfg:2: ", "is not a regular file"}},
		{"cache in proxy", "frontend fe\n    ssl-session-cache shm /dev/shm/x\n", ErrMisplaced, []string{"lb.cfg:3: ", "global only"}},
		{"sync no bind", sync + "peer 127.0.0.3:7001 key-file " + key + "\n", ErrBadValue, []string{"lb.cfg:2: ", "missing 'bind ADDR:PORT'"}},
		{"sync bind without port", sync + "bind 127.0.0.2 peer 127.0.0.3:7001 key-file " + key + "\n", ErrBadValue, []string{"lb.cfg:2: ", "bind \"127.0.0.2\": want ADDR:PORT"}},
		{"sync bind bad address", sync + "bind 127.0.0.300:7001 peer 127.0.0.3:7001 key-file " + key + "\n", ErrBadValue, []string{"lb.cfg:2: ", "bind '127.0.0.300:7001': '127.0.0.300' is not an IP address"}},
		{"sync bad port", sync + "bind 127.0.0.2:70000 peer 127.0.0.3:7001 key-file " + key + "\n", ErrBadValue, []string{"lb.cfg:2: ", "port \"70000\""}},
		{"sync peer port 0", sync + "bind 127.0.0.2:7001 peer 127.0.0.3:0 key-file " + key + "\n", ErrBadValue, []string{"lb.cfg:2: ", "peer \"127.0.0.3:0\""}},
		{"sync peer no address", sync + "bind 127.0.0.2:7001 peer :7001 key-file " + key + "\n", ErrBadValue, []string{"lb.cfg:2: ", "peer ':7001': no address"}},
		{"sync peer unresolvable", sync + "bind 127.0.0.2:7001 peer no-such-host.invalid:7001 key-file " + key + "\n", ErrBadValue, []string{"lb.cfg:2: ", "peer 'no-such-host.invalid:7001'"}},
		{"sync not multicast", sync + "bind :7001 multicast 10.0.0.1 key-file " + key + "\n", ErrBadValue, []string{"lb.cfg:2: ", "is not a multicast address"}},
		{"sync nobody", sync + "bind 127.0.0.2:7001 key-file " + key + "\n", ErrBadValue, []string{"lb.cfg:2: ", "nobody to share sessions with"}},
		{"sync no key", sync + "bind 127.0.0.2:7001 peer 127.0.0.3:7001\n", ErrBadValue, []string{"lb.cfg:2: ", "missing 'key-file FILE'"}},
		{"sync missing key file", sync + "bind 127.0.0.2:7001 peer 127.0.0.3:7001 key-file " + missing + "\n", ErrBadValue, []string{"lb.cfg:2: ", "key-file", "none.key", "no such file"}},
		{"sync short key file", sync + "bind 127.0.0.2:7001 peer 127.0.0.3:7001 key-file " + short + "\n", ErrBadValue, []string{"lb.cfg:2: ", "8 bytes, want at least 16"}},
		{"sync unknown word", sync + "bind 127.0.0.2:7001 peers 127.0.0.3:7001 key-file " + key + "\n", ErrBadValue, []string{"lb.cfg:2: ", "unknown word \"peers\""}},
		{"sync dangling word", sync + "bind 127.0.0.2:7001 peer\n", ErrBadValue, []string{"lb.cfg:2: ", "\"peer\" needs a value"}},
		{"sync bad wait", sync + "bind 127.0.0.2:7001 peer 127.0.0.3:7001 wait soon key-file " + key + "\n", ErrBadValue, []string{"lb.cfg:2: ", "wait \"soon\""}},
		{"sync twice", sync + "bind 127.0.0.2:7001 peer 127.0.0.3:7001 key-file " + key + "\n" + sync + "bind 127.0.0.2:7002 peer 127.0.0.3:7002 key-file " + key + "\n", ErrBadValue, []string{"lb.cfg:3: ", "already given at lb.cfg:2"}},
		{"sync without cache", "    tune.ssl.cachesize 0\n" + sync + "bind 127.0.0.2:7001 peer 127.0.0.3:7001 key-file " + key + "\n", ErrBadValue, []string{"lb.cfg:3: ", "needs a session cache, and tune.ssl.cachesize is 0"}},
		{"sync in proxy", "backend be\n" + sync + "bind 127.0.0.2:7001 peer 127.0.0.3:7001 key-file " + key + "\n", ErrMisplaced, []string{"lb.cfg:3: ", "global only"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(t, "global\n"+tc.text)
			require.Error(t, err)
			require.True(t, errors.Is(err, tc.sentinel), "%v is not %v", err, tc.sentinel)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
			require.False(t, strings.Contains(err.Error(), "ssl-session-sync: ssl-session-sync"), "keyword said twice: %v", err)
		})
	}
}
