package osslsign_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"

	"github.com/proxyblocks/proxyblocks/xprt/tls/osslsign"
)

// An RSA key handed to libcrypto signs as crypto/rsa would; where
// libcrypto cannot be loaded, the Go key keeps signing.
func Example() {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	var signer crypto.Signer = key
	if s, err := osslsign.New(key); err == nil {
		defer s.Close()
		signer = s // the certificate's PrivateKey in a tls.Certificate
	}
	digest := sha256.Sum256([]byte("hello"))
	opts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
	sig, err := signer.Sign(rand.Reader, digest[:], opts)
	if err != nil {
		panic(err)
	}
	fmt.Println(rsa.VerifyPSS(&key.PublicKey, crypto.SHA256, digest[:], sig, opts) == nil)
	// Output: true
}
