package config

import (
	"fmt"
	"strings"
)

func init() {
	globalKeywords["tune.ssl.keylog"] = func(p *parser, a []string) error {
		if len(a) != 1 || (a[0] != "on" && a[0] != "off") {
			got := ""
			if len(a) > 0 {
				got = a[0]
			}
			return fmt.Errorf("expects either 'on' or 'off' but got '%s'", got)
		}
		p.cfg.Global.SSLKeyLog = a[0] == "on"
		return nil
	}
}

// frontKeyFetches and backKeyFetches are the fetches that read a TLS
// connection's key material, which the connection keeps only when the
// configuration names one of them (the early and exporter secrets have
// no sample, and need nothing kept).
var (
	frontKeyFetches = []string{
		"ssl_fc_client_random", "ssl_fc_server_random", "ssl_fc_session_id", "ssl_fc_session_key",
		"ssl_fc_client_handshake_traffic_secret", "ssl_fc_server_handshake_traffic_secret",
		"ssl_fc_client_traffic_secret_0", "ssl_fc_server_traffic_secret_0",
	}
	backKeyFetches = []string{"ssl_bc_client_random", "ssl_bc_server_random", "ssl_bc_session_id", "ssl_bc_session_key"}
)

// noteKeyFetches records in the configuration that a line's words name a
// key material fetch, wherever it is (a log-format, a rule, an ACL).
func noteKeyFetches(p *parser, words []string) {
	k := &p.cfg.Global.SSLKeyFetches
	for _, w := range words {
		if !k.Front && strings.Contains(w, "ssl_fc_") && containsAny(w, frontKeyFetches) {
			k.Front = true
		}
		if !k.Back && strings.Contains(w, "ssl_bc_") && containsAny(w, backKeyFetches) {
			k.Back = true
		}
	}
}

func containsAny(s string, names []string) bool {
	for _, n := range names {
		if strings.Contains(s, n) {
			return true
		}
	}
	return false
}
