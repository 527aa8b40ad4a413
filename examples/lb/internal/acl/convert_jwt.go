package acl

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"math/big"
	"os"
	"strings"
)

// jwt_verify(ALG,KEY) checks a JSON Web Token's signature, as HAProxy
// 2.6's: 1 when it holds, 0 when it does not, -3 for a token that is not
// three base64url parts (or lacks a signature its algorithm needs), -5
// when the key file could not be read as a public key. ALG is HS256,
// HS384, HS512 (KEY is the secret), RS256, RS384, RS512, ES256, ES384,
// ES512 (KEY is a PEM public key file, read at start) or none (an empty
// signature holds); the token's own "alg" is not consulted, as in
// HAProxy. PS256, PS384 and PS512 are refused, as HAProxy 2.6 refuses
// them.

const (
	jwtValid      = 1
	jwtInvalid    = 0
	jwtBadToken   = -3
	jwtUnknownKey = -5
)

// jwtAlg is a verification method.
type jwtAlg struct {
	kind byte // 'H', 'R', 'E' or 'n' (none)
	hash crypto.Hash
	newH func() hash.Hash
	size int // an ECDSA signature's half length
}

var jwtAlgs = map[string]jwtAlg{
	"HS256": {'H', crypto.SHA256, sha256.New, 0}, "HS384": {'H', crypto.SHA384, sha512.New384, 0}, "HS512": {'H', crypto.SHA512, sha512.New, 0},
	"RS256": {'R', crypto.SHA256, sha256.New, 0}, "RS384": {'R', crypto.SHA384, sha512.New384, 0}, "RS512": {'R', crypto.SHA512, sha512.New, 0},
	"ES256": {'E', crypto.SHA256, sha256.New, 32}, "ES384": {'E', crypto.SHA384, sha512.New384, 48}, "ES512": {'E', crypto.SHA512, sha512.New, 66},
	"none": {kind: 'n'},
}

// loadJWTKey reads a PEM public key (or a certificate's) file; nil when
// it holds none.
func loadJWTKey(path string) crypto.PublicKey {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil
		}
		if k, err := x509.ParsePKIXPublicKey(b.Bytes); err == nil {
			return k
		}
	}
}

func jwtVerify(alg jwtAlg, secret []byte, key crypto.PublicKey, tok string) int64 {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return jwtBadToken
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return jwtBadToken
	}
	if alg.kind == 'n' {
		if len(sig) == 0 {
			return jwtValid
		}
		return jwtInvalid
	}
	if len(sig) == 0 {
		return jwtBadToken
	}
	signed := tok[:len(parts[0])+1+len(parts[1])]
	if alg.kind == 'H' {
		m := hmac.New(alg.newH, secret)
		m.Write([]byte(signed))
		if hmac.Equal(m.Sum(nil), sig) {
			return jwtValid
		}
		return jwtInvalid
	}
	if key == nil {
		return jwtUnknownKey
	}
	h := alg.newH()
	h.Write([]byte(signed))
	digest := h.Sum(nil)
	switch k := key.(type) {
	case *rsa.PublicKey:
		if alg.kind == 'R' && rsa.VerifyPKCS1v15(k, alg.hash, digest, sig) == nil {
			return jwtValid
		}
	case *ecdsa.PublicKey:
		if alg.kind == 'E' && len(sig) == 2*alg.size {
			r, s := new(big.Int).SetBytes(sig[:alg.size]), new(big.Int).SetBytes(sig[alg.size:])
			if ecdsa.Verify(k, digest, r, s) {
				return jwtValid
			}
		}
	}
	return jwtInvalid
}

func init() {
	converters["jwt_verify"] = converter{ArgRequired, TypeInt, func(a []string) (ConvFunc, error) {
		if len(a) != 2 {
			return nil, errors.New("expects 2 arguments: <alg> and <key>")
		}
		name, keyArg := strings.TrimSpace(a[0]), strings.TrimSpace(a[1])
		for _, v := range []string{name, keyArg} {
			if scope, _, ok := strings.Cut(v, "."); ok && VarScopes[scope] {
				return nil, fmt.Errorf("'%s': %w", v, errVarArg)
			}
		}
		if strings.HasPrefix(name, "PS") {
			return nil, errors.New("RSASSA-PSS JWS signing not managed yet")
		}
		alg, ok := jwtAlgs[name]
		if !ok {
			return nil, fmt.Errorf("unknown JWT algorithm: %s", name)
		}
		var key crypto.PublicKey
		if alg.kind == 'R' || alg.kind == 'E' {
			key = loadJWTKey(keyArg)
		}
		secret := []byte(keyArg)
		return func(s Sample) (Sample, bool) {
			return Int(jwtVerify(alg, secret, key, s.String())), true
		}, nil
	}}
}
