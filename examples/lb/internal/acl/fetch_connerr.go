package acl

import (
	stdtls "crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
)

// The connection error fetches: fc_err and bc_err (HAProxy's connection
// error codes) with their texts, and ssl_fc_err and ssl_bc_err (the TLS
// library's error, as OpenSSL numbers it) with theirs.
//
// A client connection whose handshake failed never reaches a rule or a
// log-format (HAProxy 2.6 logs it in a fixed format), so the front ones
// always see an established connection: no error. A server connection
// that could not be made is remembered (BackErrContext): a refused or
// timed out connect has no code, as in HAProxy, a failed TLS handshake
// is "SSL handshake failure" with the TLS error OpenSSL would have given.

// BackErrContext is a ConnContext that remembers why its last server
// connection could not be made.
type BackErrContext interface {
	// BackDialErr returns whether that server speaks TLS and the error,
	// nil when the last connection was made.
	BackDialErr() (tls bool, err error)
}

// The connection error codes HAProxy numbers, with their texts.
const (
	connErrNone         = 0
	connErrSSLHandshake = 34
)

var connErrText = map[int64]string{
	connErrNone:         "Success",
	connErrSSLHandshake: "SSL handshake failure",
}

func init() {
	// fc_err and ssl_fc_err: 0 on an established client connection;
	// ssl_fc_err has no sample on a plain one, and ssl_fc_err_str none
	// without an error.
	RegisterFetch(Fetch{Name: "fc_err", Type: TypeInt, Compile: noArg(func(c Context) (Sample, bool) {
		cc, ok := c.(ConnContext)
		return Int(connErrNone), ok && cc.FrontConn() != nil
	})})
	RegisterFetch(Fetch{Name: "fc_err_str", Type: TypeStr, Compile: noArg(func(c Context) (Sample, bool) {
		cc, ok := c.(ConnContext)
		return Str(connErrText[connErrNone]), ok && cc.FrontConn() != nil
	})})
	RegisterFetch(Fetch{Name: "ssl_fc_err", Type: TypeInt, Compile: noArg(func(c Context) (Sample, bool) {
		tc, ok := c.(TLSContext)
		return Int(0), ok && tc.TLSInfo().TLS
	})})
	RegisterFetch(Fetch{Name: "ssl_fc_err_str", Type: TypeStr, Compile: noArg(func(Context) (Sample, bool) {
		return Sample{}, false
	})})

	RegisterFetch(Fetch{Name: "bc_err", Type: TypeInt, Compile: noArg(func(c Context) (Sample, bool) {
		code, _, ok := backErr(c)
		return Int(code), ok
	})})
	RegisterFetch(Fetch{Name: "bc_err_str", Type: TypeStr, Compile: noArg(func(c Context) (Sample, bool) {
		code, _, ok := backErr(c)
		return Str(connErrText[code]), ok
	})})
	RegisterFetch(Fetch{Name: "ssl_bc_err", Type: TypeInt, Compile: noArg(func(c Context) (Sample, bool) {
		_, ssl, ok := backErr(c)
		return Int(int64(ssl)), ok && ssl >= 0
	})})
	RegisterFetch(Fetch{Name: "ssl_bc_err_str", Type: TypeStr, Compile: noArg(func(c Context) (Sample, bool) {
		_, ssl, ok := backErr(c)
		if !ok || ssl <= 0 {
			return Sample{}, false
		}
		return Str(OpenSSLErrorString(uint32(ssl))), true
	})})
}

// backErr is the server connection's error code and its TLS error (-1
// when the server connection is not TLS); ok is false when there is no
// code: no connection tried, or a connect that failed before any
// handshake.
func backErr(c Context) (code int64, ssl int64, ok bool) {
	if bc, isBC := c.(BackErrContext); isBC {
		if tls, err := bc.BackDialErr(); err != nil {
			var op *net.OpError
			if !tls || errors.As(err, &op) && op.Op == "dial" {
				return 0, 0, false
			}
			return connErrSSLHandshake, int64(OpenSSLError(err)), true
		}
	}
	cc, isCC := c.(ConnContext)
	if !isCC {
		return 0, 0, false
	}
	b, _ := cc.BackConn()
	if b == nil || b.Transport() == nil {
		return 0, 0, false
	}
	if !b.Transport().Info().TLS {
		return connErrNone, -1, true
	}
	return connErrNone, 0, true
}

// OpenSSL's library number for its SSL routines, and the offset of the
// reasons that are a received alert.
const (
	opensslLibSSL      = 20 << 23
	opensslAlertOffset = 1000
	opensslWrongVer    = 267 // SSL_R_WRONG_VERSION_NUMBER
	opensslVerifyFail  = 134 // SSL_R_CERTIFICATE_VERIFY_FAILED
)

// OpenSSLError returns the error code OpenSSL 3 would have queued for
// the TLS handshake error err, 0 when it would have none (the peer
// closed).
func OpenSSLError(err error) uint32 {
	var (
		rh    stdtls.RecordHeaderError
		alert stdtls.AlertError
		cv    *stdtls.CertificateVerificationError
		ua    x509.UnknownAuthorityError
		ci    x509.CertificateInvalidError
		he    x509.HostnameError
	)
	switch {
	case errors.As(err, &rh):
		return opensslLibSSL | opensslWrongVer
	case errors.As(err, &cv), errors.As(err, &ua), errors.As(err, &ci), errors.As(err, &he):
		return opensslLibSSL | opensslVerifyFail
	case errors.As(err, &alert):
		return opensslLibSSL | uint32(opensslAlertOffset+int(alert))
	}
	return 0
}

// opensslReasons are the words of the reasons OpenSSLError gives.
var opensslReasons = map[uint32]string{
	opensslWrongVer: "wrong version number", opensslVerifyFail: "certificate verify failed",
	1010: "sslv3 alert unexpected message", 1020: "sslv3 alert bad record mac",
	1021: "tlsv1 alert decryption failed", 1022: "tlsv1 alert record overflow",
	1030: "sslv3 alert decompression failure", 1040: "sslv3 alert handshake failure",
	1041: "sslv3 alert no certificate", 1042: "sslv3 alert bad certificate",
	1043: "sslv3 alert unsupported certificate", 1044: "sslv3 alert certificate revoked",
	1045: "sslv3 alert certificate expired", 1046: "sslv3 alert certificate unknown",
	1047: "sslv3 alert illegal parameter", 1048: "tlsv1 alert unknown ca",
	1049: "tlsv1 alert access denied", 1050: "tlsv1 alert decode error",
	1051: "tlsv1 alert decrypt error", 1060: "tlsv1 alert export restriction",
	1070: "tlsv1 alert protocol version", 1071: "tlsv1 alert insufficient security",
	1080: "tlsv1 alert internal error", 1086: "tlsv1 alert inappropriate fallback",
	1090: "tlsv1 alert user cancelled", 1100: "tlsv1 alert no renegotiation",
	1109: "tlsv13 alert missing extension", 1110: "tlsv1 unsupported extension",
	1111: "tlsv1 certificate unobtainable", 1112: "tlsv1 unrecognized name",
	1113: "tlsv1 bad certificate status response", 1114: "tlsv1 bad certificate hash value",
	1115: "tlsv1 alert unknown psk identity", 1116: "tlsv13 alert certificate required",
	1120: "tlsv1 alert no application protocol",
}

// OpenSSLErrorString renders code as OpenSSL's ERR_error_string_n does.
func OpenSSLErrorString(code uint32) string {
	reason := code & (1<<23 - 1)
	words, ok := opensslReasons[reason]
	if !ok {
		words = fmt.Sprintf("reason(%d)", reason)
	}
	return fmt.Sprintf("error:%08X:SSL routines::%s", code, words)
}
