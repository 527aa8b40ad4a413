package acl

import (
	"encoding/hex"

	"github.com/proxyblocks/proxyblocks/xprt"
)

// The key material fetches, for NSS key log lines (SSLKEYLOGFILE) in a
// log-format: the randoms of the hellos, the TLS 1.2 session id and
// master secret (ssl_fc_*, and ssl_bc_* on the server connection), as
// bytes, and the TLS 1.3 secrets, in lowercase hexadecimal, which only
// tune.ssl.keylog on gives. A connection keeps its key material when the
// configuration names one of them (config.Global.SSLKeyFetches).
//
// What crypto/tls does not hand out has no sample: the TLS 1.3 exporter
// secret (it keeps it for ExportKeyingMaterial and logs no line for it),
// the early secrets (it takes no early data), and, under TLS 1.3, the
// session id and key, which OpenSSL makes up for its own session (an
// internal id and the resumption secret) and the peer never sees.

// KeyLogContext is a context that tells whether tune.ssl.keylog is on.
type KeyLogContext interface {
	SSLKeyLog() bool
}

func init() {
	front := func(c Context) *xprt.TLSKeys {
		tc, ok := c.(TLSContext)
		if !ok {
			return nil
		}
		return tc.TLSInfo().Keys
	}
	back := func(c Context) *xprt.TLSKeys {
		cc, ok := c.(ConnContext)
		if !ok {
			return nil
		}
		bc, _ := cc.BackConn()
		if bc == nil || bc.Transport() == nil {
			return nil
		}
		return bc.Transport().Info().Keys
	}
	bin := func(name string, get func(Context) *xprt.TLSKeys, field func(*xprt.TLSKeys) []byte) {
		RegisterFetch(Fetch{Name: name, Type: TypeStr, Match: MatchRequired, Compile: noArg(func(c Context) (Sample, bool) {
			k := get(c)
			if k == nil {
				return Sample{}, false
			}
			b := field(k)
			return Str(string(b)), len(b) > 0
		})})
	}
	for _, s := range []struct {
		prefix string
		get    func(Context) *xprt.TLSKeys
	}{{"ssl_fc_", front}, {"ssl_bc_", back}} {
		bin(s.prefix+"client_random", s.get, func(k *xprt.TLSKeys) []byte { return k.ClientRandom })
		bin(s.prefix+"server_random", s.get, func(k *xprt.TLSKeys) []byte { return k.ServerRandom })
		bin(s.prefix+"session_id", s.get, func(k *xprt.TLSKeys) []byte { return k.SessionID })
		bin(s.prefix+"session_key", s.get, func(k *xprt.TLSKeys) []byte { return k.MasterSecret })
	}
	secret := func(name string, field func(*xprt.TLSKeys) []byte) {
		RegisterFetch(Fetch{Name: name, Type: TypeStr, Compile: noArg(func(c Context) (Sample, bool) {
			if kc, ok := c.(KeyLogContext); !ok || !kc.SSLKeyLog() {
				return Sample{}, false
			}
			var b []byte
			if k := front(c); k != nil && field != nil {
				b = field(k)
			}
			return Str(hex.EncodeToString(b)), len(b) > 0
		})})
	}
	secret("ssl_fc_client_handshake_traffic_secret", func(k *xprt.TLSKeys) []byte { return k.ClientHandshakeTrafficSecret })
	secret("ssl_fc_server_handshake_traffic_secret", func(k *xprt.TLSKeys) []byte { return k.ServerHandshakeTrafficSecret })
	secret("ssl_fc_client_traffic_secret_0", func(k *xprt.TLSKeys) []byte { return k.ClientTrafficSecret0 })
	secret("ssl_fc_server_traffic_secret_0", func(k *xprt.TLSKeys) []byte { return k.ServerTrafficSecret0 })
	secret("ssl_fc_exporter_secret", nil)
	secret("ssl_fc_client_early_traffic_secret", nil)
	secret("ssl_fc_early_exporter_secret", nil)
}
