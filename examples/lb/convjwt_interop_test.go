package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestInteropJWTVerifyMatchesHAProxy: jwt_verify gives haproxy's codes
// for tokens signed with a shared secret, an RSA key and an EC key, for
// a wrong key or signature, a token that is not one, "none", and a key
// file that holds no public key.
func TestInteropJWTVerifyMatchesHAProxy(t *testing.T) {
	b64 := base64.RawURLEncoding.EncodeToString
	head := func(alg string) string {
		return b64([]byte(`{"alg":"`+alg+`","typ":"JWT"}`)) + "." + b64([]byte(`{"sub":"alice"}`))
	}
	mac := hmac.New(sha256.New, []byte("secret"))
	mac.Write([]byte(head("HS256")))
	hs := head("HS256") + "." + b64(mac.Sum(nil))

	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	d := sha256.Sum256([]byte(head("RS256")))
	rsig, err := rsa.SignPKCS1v15(rand.Reader, rk, crypto.SHA256, d[:])
	require.NoError(t, err)
	rs := head("RS256") + "." + b64(rsig)

	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	d = sha256.Sum256([]byte(head("ES256")))
	r, s, err := ecdsa.Sign(rand.Reader, ek, d[:])
	require.NoError(t, err)
	esig := make([]byte, 64)
	r.FillBytes(esig[:32])
	s.FillBytes(esig[32:])
	es := head("ES256") + "." + b64(esig)

	pub := func(name string, k any) string {
		der, err := x509.MarshalPKIXPublicKey(k)
		require.NoError(t, err)
		return writeFile(t, name, string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))
	}
	rpub, epub := pub("rsa.pem", &rk.PublicKey), pub("ec.pem", &ek.PublicKey)
	notKey := writeFile(t, "notkey.pem", "not a key\n")

	var cases []convCase
	for _, c := range [][2]string{
		{"jwt_verify(HS256,secret)", hs}, {"jwt_verify(HS256,wrong)", hs}, {"jwt_verify(HS512,secret)", hs},
		{"jwt_verify(HS256,secret)", "garbage"}, {"jwt_verify(HS256,secret)", head("HS256") + "."},
		{"jwt_verify(HS256,secret)", head("HS256") + ".AAAA"},
		{"jwt_verify(RS256," + rpub + ")", rs}, {"jwt_verify(RS256," + rpub + ")", hs}, {"jwt_verify(RS512," + rpub + ")", rs},
		{"jwt_verify(RS256," + notKey + ")", rs}, {"jwt_verify(ES256," + epub + ")", es}, {"jwt_verify(ES256," + epub + ")", rs},
		{"jwt_verify(none,x)", head("none") + "."}, {"jwt_verify(none,x)", hs},
	} {
		cases = append(cases, convCase{expr: "req.fhdr(x-in)," + c[0], in: c[1]})
	}
	want, got := convAnswers(t, cases, "")
	require.Equal(t, want, got, "haproxy's answers, then lb's")
	require.Equal(t, "req.fhdr(x-in),jwt_verify(HS256,secret) => [1]", got[0])
	require.Equal(t, "req.fhdr(x-in),jwt_verify(HS256,secret) => [-3]", got[3])
	require.Equal(t, "req.fhdr(x-in),jwt_verify(RS256,"+rpub+") => [1]", got[6])
	require.Equal(t, "req.fhdr(x-in),jwt_verify(ES256,"+epub+") => [1]", got[10])
	for _, err := range convRefused(t, []string{"req.fhdr(x-in),jwt_verify(XX256,k)", "req.fhdr(x-in),jwt_verify(PS256,k)"}) {
		require.NotEmpty(t, err)
	}
}
