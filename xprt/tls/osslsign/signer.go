// Package osslsign provides a [crypto.Signer] whose private-key operation
// runs in the system's OpenSSL 3 libcrypto (libcrypto.so.3) instead of Go.
//
// crypto/rsa computes RSA signatures with constant-time big-number code
// that is several times slower than OpenSSL's assembly, and a TLS server
// with an RSA certificate spends most of a full handshake in that one
// signature. A [Signer] keeps the Go key for everything but the signature
// and hands the key to libcrypto once, when it is created.
//
// The library is loaded at run time with dlopen, so building needs neither
// OpenSSL headers nor a link-time dependency, and a build without cgo (or
// not on Linux) still compiles: there [Available] reports why the signer
// cannot be used and [New] returns that error. Callers are expected to
// keep the Go key when New fails.
//
// What runs in libcrypto: RSA PKCS #1 v1.5 and RSA-PSS (salt length equal
// to the hash length, as TLS 1.3 and crypto/tls use it) with SHA-256,
// SHA-384 or SHA-512, and ECDSA with the same hashes. Any other request
// (another hash, MD5+SHA1 for TLS 1.0 and 1.1, another PSS salt length)
// is passed to the Go key, as is RSA decryption ([Signer.Decrypt]).
package osslsign

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"unsafe"
)

// ErrUnavailable is wrapped by the error [Available] and [New] return
// when libcrypto cannot be used: no cgo, not Linux, or libcrypto.so.3
// missing or not OpenSSL 3.
var ErrUnavailable = errors.New("osslsign: OpenSSL libcrypto is not available")

// ErrClosed is returned by [Signer.Sign] after [Signer.Close].
var ErrClosed = errors.New("osslsign: signer is closed")

var (
	loadOnce sync.Once
	loadErr  error
)

// Available loads libcrypto.so.3 the first time it is called and reports
// whether it can be used: nil, or an error wrapping [ErrUnavailable] that
// says why not. It is safe to call from several goroutines.
func Available() error {
	loadOnce.Do(func() {
		if err := load(); err != nil {
			loadErr = fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
	})
	return loadErr
}

// Signer is an RSA or ECDSA private key whose signatures are computed by
// libcrypto. It is safe for concurrent use. The libcrypto copy of the key
// is freed by [Signer.Close] or, failing that, once the Signer is garbage.
type Signer struct {
	key     crypto.Signer // the Go key: public half and fallback
	rsa     bool
	h       *handle
	cleanup runtime.Cleanup
}

// handle owns the libcrypto EVP_PKEY. The lock keeps it alive during a
// signature: Close and the cleanup take it exclusively before freeing.
type handle struct {
	mu   sync.RWMutex
	pkey unsafe.Pointer // EVP_PKEY*, nil once freed
	size int            // maximum signature length
}

func (h *handle) free() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.pkey != nil {
		freeKey(h.pkey)
		h.pkey = nil
	}
}

// New hands key to libcrypto and returns a Signer for it. key must be an
// *rsa.PrivateKey or an *ecdsa.PrivateKey (P-256, P-384 or P-521). New
// signs one digest and checks it with the Go public key before returning,
// so a Signer that exists produces signatures Go verifies.
func New(key crypto.Signer) (*Signer, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	s := &Signer{key: key}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		s.rsa = true
	case *ecdsa.PrivateKey:
		if k.Curve == nil || k.Curve.Params().BitSize < 256 {
			return nil, fmt.Errorf("osslsign: unsupported ECDSA curve")
		}
	default:
		return nil, fmt.Errorf("osslsign: unsupported key type %T", key)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("osslsign: %w", err)
	}
	pkey, size, err := newKey(der)
	clear(der)
	if err != nil {
		return nil, err
	}
	s.h = &handle{pkey: pkey, size: size}
	s.cleanup = runtime.AddCleanup(s, func(h *handle) { h.free() }, s.h)
	if err := s.selfTest(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// selfTest signs a digest in libcrypto and verifies it in Go.
func (s *Signer) selfTest() error {
	digest := sha256.Sum256([]byte("osslsign self test"))
	sig, err := s.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		return err
	}
	switch pub := s.key.Public().(type) {
	case *rsa.PublicKey:
		err = rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig)
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(pub, digest[:], sig) {
			err = errors.New("ECDSA signature does not verify")
		}
	}
	if err != nil {
		return fmt.Errorf("osslsign: libcrypto's signature does not verify in Go: %w", err)
	}
	return nil
}

// Public returns the public key.
func (s *Signer) Public() crypto.PublicKey { return s.key.Public() }

// Key returns the Go private key the Signer was made from.
func (s *Signer) Key() crypto.Signer { return s.key }

// Hash identifiers shared with the C side.
const (
	mdSHA256 = 1
	mdSHA384 = 2
	mdSHA512 = 3
)

// Padding identifiers shared with the C side (OpenSSL's values).
const (
	padNone  = 0 // ECDSA
	padPKCS1 = 1 // RSA_PKCS1_PADDING
	padPSS   = 6 // RSA_PKCS1_PSS_PADDING
)

// Sign signs digest, the hash of a message made with opts.HashFunc(). For
// RSA, opts may be a *rsa.PSSOptions. rand is not used for what runs in
// libcrypto (PSS salts come from OpenSSL's own generator); it is passed to
// the Go key for the requests libcrypto does not handle.
func (s *Signer) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	md, pad, ok := s.mode(opts)
	if !ok {
		return s.key.Sign(rand, digest, opts)
	}
	if len(digest) != opts.HashFunc().Size() {
		return nil, errors.New("osslsign: digest length does not match the hash")
	}
	s.h.mu.RLock()
	defer s.h.mu.RUnlock()
	if s.h.pkey == nil {
		return nil, ErrClosed
	}
	sig := make([]byte, s.h.size)
	n, err := sign(s.h.pkey, md, pad, digest, sig)
	if err != nil {
		return nil, err
	}
	return sig[:n], nil
}

// mode says how libcrypto signs for opts, or ok=false to use the Go key.
func (s *Signer) mode(opts crypto.SignerOpts) (md, pad int, ok bool) {
	switch opts.HashFunc() {
	case crypto.SHA256:
		md = mdSHA256
	case crypto.SHA384:
		md = mdSHA384
	case crypto.SHA512:
		md = mdSHA512
	default:
		return 0, 0, false
	}
	if !s.rsa {
		return md, padNone, true
	}
	if pss, isPSS := opts.(*rsa.PSSOptions); isPSS {
		if pss.SaltLength != rsa.PSSSaltLengthEqualsHash && pss.SaltLength != opts.HashFunc().Size() {
			return 0, 0, false
		}
		return md, padPSS, true
	}
	return md, padPKCS1, true
}

// Decrypt decrypts with the Go RSA key; crypto/tls needs it for the
// TLS 1.2 RSA key exchange suites. It fails for ECDSA keys.
func (s *Signer) Decrypt(rand io.Reader, msg []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	d, ok := s.key.(crypto.Decrypter)
	if !ok {
		return nil, fmt.Errorf("osslsign: a %T key cannot decrypt", s.key)
	}
	return d.Decrypt(rand, msg, opts)
}

// Close frees libcrypto's copy of the key; later signatures fail with
// [ErrClosed]. It waits for signatures in progress and may be called more
// than once.
func (s *Signer) Close() error {
	s.cleanup.Stop()
	s.h.free()
	return nil
}
