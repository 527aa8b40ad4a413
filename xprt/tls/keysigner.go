package tls

import (
	"crypto"
	"crypto/fips140"
	"crypto/rsa"
	"errors"
	"os"
	"sync/atomic"

	"github.com/proxyblocks/proxyblocks/xprt/tls/osslsign"
)

// EnvOpenSSLSigner names the environment variable that, set to "0" when
// the process starts, turns the OpenSSL signer off as
// UseOpenSSLSigner(false) does. It lets a program built on this package
// (examples/lb) be run with crypto/rsa signatures without a code change.
const EnvOpenSSLSigner = "PROXYBLOCKS_OPENSSL_SIGNER"

// ErrOpenSSLSignerOff is what [OpenSSLSigner] reports after
// UseOpenSSLSigner(false) or with [EnvOpenSSLSigner]=0.
var ErrOpenSSLSignerOff = errors.New("tls: the OpenSSL signer is turned off")

var opensslSigner atomic.Bool

func init() { opensslSigner.Store(os.Getenv(EnvOpenSSLSigner) != "0") }

// UseOpenSSLSigner turns on (the default) or off the OpenSSL signer for
// the RSA keys that certificates are loaded with from then on
// ([LoadCertificate], and so every crt and crt-list).
//
// When it is on and the system's OpenSSL 3 libcrypto can be loaded (see
// package osslsign: Linux, cgo, libcrypto.so.3 at run time), an RSA key
// becomes an *osslsign.Signer in Certificate.Cert.PrivateKey, and the
// handshake's signature runs in libcrypto, several times faster than in
// crypto/rsa. Otherwise the key stays an *rsa.PrivateKey and nothing else
// changes: loading never fails for want of libcrypto, and in FIPS 140
// mode (crypto/fips140.Enabled) keys stay with Go's module. ECDSA and
// Ed25519 keys always stay Go keys: an ECDSA signature is a few percent
// of a handshake in either library.
//
// Certificates already loaded keep the signer they were loaded with.
func UseOpenSSLSigner(on bool) { opensslSigner.Store(on) }

// OpenSSLSigner reports whether RSA keys loaded now get the OpenSSL
// signer: nil when they do, otherwise why not ([ErrOpenSSLSignerOff], or
// an error wrapping [osslsign.ErrUnavailable]). A program may log it.
func OpenSSLSigner() error {
	if !opensslSigner.Load() {
		return ErrOpenSSLSignerOff
	}
	if fips140.Enabled() {
		return errors.New("tls: in FIPS 140 mode RSA keys stay with Go's module")
	}
	return osslsign.Available()
}

// fastSigner returns key backed by libcrypto when it is an RSA key and
// OpenSSLSigner says yes, key itself otherwise.
func fastSigner(key crypto.Signer) crypto.Signer {
	k, ok := key.(*rsa.PrivateKey)
	if !ok || OpenSSLSigner() != nil {
		return key
	}
	s, err := osslsign.New(k)
	if err != nil {
		return key
	}
	return s
}
