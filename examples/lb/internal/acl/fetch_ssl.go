package acl

import (
	"github.com/proxyblocks/proxyblocks/xprt"
	"github.com/proxyblocks/proxyblocks/xprt/tls"
)

// The TLS fetches beyond ssl_fc and ssl_fc_sni (fetch_http.go): what the
// front connection's handshake negotiated, read through TLSContext. On a
// Context without it they find no sample (ssl_c_used: false).

func init() {
	tlsFetch := func(name string, t Type, fn func(i xprt.Info) (Sample, bool)) {
		RegisterFetch(Fetch{Name: name, Type: t, Compile: noArg(func(c Context) (Sample, bool) {
			tc, ok := c.(TLSContext)
			if !ok {
				return Sample{}, false
			}
			return fn(tc.TLSInfo())
		})})
	}
	// ssl_c_used exists on every TLS-aware connection (false when plain);
	// the string fetches have no sample when plain or when empty, as in
	// HAProxy.
	tlsFetch("ssl_c_used", TypeBool, func(i xprt.Info) (Sample, bool) {
		return Bool(i.TLS && len(i.PeerCertificates) > 0), true
	})
	str := func(s string, ok bool) (Sample, bool) { return Str(s), ok && s != "" }
	tlsFetch("ssl_fc_alpn", TypeStr, func(i xprt.Info) (Sample, bool) { return str(i.ALPN, i.TLS) })
	tlsFetch("ssl_fc_protocol", TypeStr, func(i xprt.Info) (Sample, bool) { return str(tls.VersionName(i.Version), i.TLS) })
	tlsFetch("ssl_fc_cipher", TypeStr, func(i xprt.Info) (Sample, bool) { return str(tls.CipherName(i.CipherSuite), i.TLS) })
	tlsFetch("ssl_fc_is_resumed", TypeBool, func(i xprt.Info) (Sample, bool) { return Bool(i.Resumed), i.TLS })
	tlsFetch("ssl_c_verify", TypeInt, func(i xprt.Info) (Sample, bool) {
		// 0 when the certificate was verified (or none was sent), as
		// OpenSSL's X509_V_OK; crypto/tls refuses the handshake otherwise
		// unless verify is none, where no check ran.
		if i.TLS && len(i.PeerCertificates) > 0 && !i.Verified {
			return Int(1), true
		}
		return Int(0), i.TLS
	})
	// ssl_c_s_dn: fetch_tls_more.go.
}
