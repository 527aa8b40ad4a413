package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// tune.ssl.keylog takes on or off; the key material fetches a
// configuration names, wherever, mark the side whose connections keep
// their keys, and nothing else does.
func TestSSLKeyLog(t *testing.T) {
	cfg := mustParse(t, "global\n    tune.ssl.keylog on\n")
	require.True(t, cfg.Global.SSLKeyLog)
	require.False(t, cfg.Global.SSLKeyFetches.Front || cfg.Global.SSLKeyFetches.Back)
	cfg = mustParse(t, "global\n    tune.ssl.keylog off\n")
	require.False(t, cfg.Global.SSLKeyLog)
	for _, v := range []string{"yes", "", "on off"} {
		_, err := parse(t, "global\n    tune.ssl.keylog "+v+"\n")
		require.Error(t, err, v)
	}
	cfg = mustParse(t, "defaults\n    mode http\nfrontend f\n    bind :8080\n    http-request set-header X %[ssl_fc_client_random,hex]\n")
	require.True(t, cfg.Global.SSLKeyFetches.Front)
	require.False(t, cfg.Global.SSLKeyFetches.Back)
	cfg = mustParse(t, "defaults\n    mode http\nfrontend f\n    bind :8080\n    log-format \"%{+Q}[ssl_bc_session_key,hex]\"\n")
	require.False(t, cfg.Global.SSLKeyFetches.Front)
	require.True(t, cfg.Global.SSLKeyFetches.Back)
	cfg = mustParse(t, "defaults\n    mode http\nfrontend f\n    bind :8080\n    http-request set-header X %[ssl_fc_sni]\n")
	require.False(t, cfg.Global.SSLKeyFetches.Front || cfg.Global.SSLKeyFetches.Back)
}
