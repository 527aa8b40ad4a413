package osslsign_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/xprt/tls/osslsign"
)

// needLib skips when libcrypto cannot be used, unless CI=true.
func needLib(t testing.TB) {
	t.Helper()
	if err := osslsign.Available(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("libcrypto is required when CI=true: %v", err)
		}
		t.Skipf("SKIP: %v", err)
	}
}

var (
	keyOnce sync.Once
	rsaKey  *rsa.PrivateKey
)

// testRSAKey returns one RSA-2048 key for the whole run: generating them
// is slow.
func testRSAKey(t testing.TB) *rsa.PrivateKey {
	keyOnce.Do(func() {
		var err error
		rsaKey, err = rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
	})
	return rsaKey
}

func newSigner(t testing.TB, key crypto.Signer) *osslsign.Signer {
	t.Helper()
	s, err := osslsign.New(key)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func digest(h crypto.Hash, msg string) []byte {
	hh := h.New()
	hh.Write([]byte(msg))
	return hh.Sum(nil)
}

func TestUnavailable(t *testing.T) {
	err := osslsign.Available()
	if err == nil {
		t.Skip("libcrypto is available; the error path is not reachable here")
	}
	require.ErrorIs(t, err, osslsign.ErrUnavailable)
	_, err = osslsign.New(testRSAKey(t))
	require.ErrorIs(t, err, osslsign.ErrUnavailable)
}

func TestRSASignaturesVerifyInGo(t *testing.T) {
	needLib(t)
	key := testRSAKey(t)
	s := newSigner(t, key)
	require.True(t, key.PublicKey.Equal(s.Public()))
	for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		t.Run(h.String(), func(t *testing.T) {
			d := digest(h, "message")
			sig, err := s.Sign(rand.Reader, d, h)
			require.NoError(t, err)
			require.NoError(t, rsa.VerifyPKCS1v15(&key.PublicKey, h, d, sig))
			// PKCS #1 v1.5 is deterministic: libcrypto and Go agree byte for byte.
			goSig, err := key.Sign(rand.Reader, d, h)
			require.NoError(t, err)
			require.Equal(t, goSig, sig)
			require.Error(t, rsa.VerifyPKCS1v15(&key.PublicKey, h, digest(h, "other"), sig))

			for _, salt := range []int{rsa.PSSSaltLengthEqualsHash, h.Size()} {
				opts := &rsa.PSSOptions{SaltLength: salt, Hash: h}
				sig, err = s.Sign(rand.Reader, d, opts)
				require.NoError(t, err)
				// Verified with the exact salt length, as TLS 1.3 requires.
				require.NoError(t, rsa.VerifyPSS(&key.PublicKey, h, d, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}))
				require.Error(t, rsa.VerifyPSS(&key.PublicKey, h, digest(h, "other"), sig, opts))
			}
			_, err = s.Sign(rand.Reader, d[1:], h)
			require.Error(t, err, "a digest of the wrong length")
		})
	}
}

// The requests libcrypto is not asked to do still work, through the Go key.
func TestRSAFallbacks(t *testing.T) {
	needLib(t)
	key := testRSAKey(t)
	s := newSigner(t, key)
	d1 := sha1.Sum([]byte("m"))
	sig, err := s.Sign(rand.Reader, d1[:], crypto.SHA1)
	require.NoError(t, err)
	require.NoError(t, rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA1, d1[:], sig))

	d := sha256.Sum256([]byte("m"))
	sig, err = s.Sign(rand.Reader, d[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto, Hash: crypto.SHA256})
	require.NoError(t, err)
	require.NoError(t, rsa.VerifyPSS(&key.PublicKey, crypto.SHA256, d[:], sig, nil))

	ct, err := rsa.EncryptPKCS1v15(rand.Reader, &key.PublicKey, []byte("premaster"))
	require.NoError(t, err)
	pt, err := s.Decrypt(rand.Reader, ct, nil)
	require.NoError(t, err)
	require.Equal(t, "premaster", string(pt))
}

func TestECDSASignaturesVerifyInGo(t *testing.T) {
	needLib(t)
	for _, c := range []struct {
		curve elliptic.Curve
		h     crypto.Hash
	}{{elliptic.P256(), crypto.SHA256}, {elliptic.P384(), crypto.SHA384}, {elliptic.P521(), crypto.SHA512}} {
		t.Run(c.curve.Params().Name, func(t *testing.T) {
			key, err := ecdsa.GenerateKey(c.curve, rand.Reader)
			require.NoError(t, err)
			s := newSigner(t, key)
			d := digest(c.h, "message")
			sig, err := s.Sign(rand.Reader, d, c.h)
			require.NoError(t, err)
			require.True(t, ecdsa.VerifyASN1(&key.PublicKey, d, sig))
			require.False(t, ecdsa.VerifyASN1(&key.PublicKey, digest(c.h, "other"), sig))
		})
	}
}

func TestRejectsOtherKeys(t *testing.T) {
	needLib(t)
	_, err := osslsign.New(fakeSigner{})
	require.ErrorContains(t, err, "unsupported key type")
}

type fakeSigner struct{ crypto.Signer }

func TestClose(t *testing.T) {
	needLib(t)
	s, err := osslsign.New(testRSAKey(t))
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close())
	d := sha256.Sum256([]byte("m"))
	_, err = s.Sign(rand.Reader, d[:], crypto.SHA256)
	require.ErrorIs(t, err, osslsign.ErrClosed)
}

func TestConcurrentSignatures(t *testing.T) {
	needLib(t)
	key := testRSAKey(t)
	s := newSigner(t, key)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 25 {
				d := sha512.Sum512([]byte(strconv.Itoa(g*100 + i)))
				var opts crypto.SignerOpts = crypto.SHA512
				if i%2 == 1 {
					opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA512}
				}
				sig, err := s.Sign(rand.Reader, d[:], opts)
				if err == nil {
					if pss, ok := opts.(*rsa.PSSOptions); ok {
						err = rsa.VerifyPSS(&key.PublicKey, crypto.SHA512, d[:], sig, pss)
					} else {
						err = rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA512, d[:], sig)
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// rss returns the resident set size in bytes.
func rss(t *testing.T) int64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Skipf("SKIP: no /proc/self/statm: %v", err)
	}
	f := strings.Fields(string(data))
	pages, err := strconv.ParseInt(f[1], 10, 64)
	require.NoError(t, err)
	return pages * int64(os.Getpagesize())
}

// A signature allocates a context in C and frees it; so does every
// Signer's key once it is closed or garbage. 100,000 signatures and 2,000
// signers leave the resident size where it was: a leaked context (about a
// kilobyte) or key would add tens of megabytes.
func TestNoCLeak(t *testing.T) {
	needLib(t)
	if raceEnabled {
		t.Skip("SKIP: the resident size is not a leak measure under the race detector; run without -race")
	}
	// RSA-1024 only to keep the run short: the C objects are the same.
	key, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	s := newSigner(t, key)
	d := sha256.Sum256([]byte("m"))
	pss := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
	run := func(n int) {
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				for i := range n / 2 {
					var opts crypto.SignerOpts = crypto.SHA256
					if i%2 == 1 {
						opts = pss
					}
					if _, err := s.Sign(rand.Reader, d[:], opts); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		for i := range n / 50 {
			k, err := osslsign.New(key)
			if err != nil {
				t.Fatal(err)
			}
			if i%2 == 0 {
				_ = k.Close() // the others are left to the garbage collector
			}
		}
		runtime.GC()
		runtime.GC() // cleanups queued by the first run before the second
		debug.FreeOSMemory()
	}
	run(10_000) // warm up: thread stacks, OpenSSL's per-thread state, the heap
	before := rss(t)
	run(100_000)
	after := rss(t)
	t.Logf("RSS %d KiB before, %d KiB after", before>>10, after>>10)
	require.Less(t, after-before, int64(8<<20), "resident size grew by %d KiB", (after-before)>>10)
}

func BenchmarkSign(b *testing.B) {
	ec256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(b, err)
	ec384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(b, err)
	pss := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
	for _, bc := range []struct {
		name string
		key  crypto.Signer
		opts crypto.SignerOpts
	}{
		{"RSA-2048-PSS", testRSAKey(b), pss},
		{"RSA-2048-PKCS1", testRSAKey(b), crypto.SHA256},
		{"ECDSA-P256", ec256, crypto.SHA256},
		{"ECDSA-P384", ec384, crypto.SHA384},
	} {
		for _, impl := range []string{"go", "openssl"} {
			b.Run(bc.name+"/"+impl, func(b *testing.B) {
				signer := bc.key
				if impl == "openssl" {
					needLib(b)
					signer = newSigner(b, bc.key)
				}
				d := digest(bc.opts.HashFunc(), "transcript")
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := signer.Sign(rand.Reader, d, bc.opts); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
