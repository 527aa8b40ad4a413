package acl

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
)

// aes_gcm_dec(BITS,NONCE,KEY,TAG), as in HAProxy 2.6: the sample is
// decrypted with AES-GCM of BITS (128, 192 or 256) and checked against
// the authentication tag. NONCE, KEY and TAG are base64, each given
// as text or as a variable's name (read when the converter runs). A
// variable that is unset or not base64, a key shorter than BITS, or a
// tag that does not match leaves no sample. As with OpenSSL, a tag
// shorter than 16 bytes is checked against the start of the computed
// one, and a key longer than BITS is cut to it.

// ConvArg is a converter argument HAProxy lets name a variable: a
// constant, or a variable read when the converter runs.
type ConvArg struct {
	// Var is the variable's name ("txn.key"), "" for a constant.
	Var string
	// Value is the constant.
	Value string
}

// ParseConvArg reads an argument that may name a variable as HAProxy's
// converters do: a valid variable name is one, anything else is text.
func ParseConvArg(v string) ConvArg {
	if isVarName(v) {
		if _, _, err := ParseVarName(v); err == nil {
			return ConvArg{Var: v}
		}
	}
	return ConvArg{Value: v}
}

// Get returns the argument's value for ctx: the constant, or the
// variable as text; ok is false when the variable is not set.
func (a ConvArg) Get(ctx Context) (Sample, bool) {
	if a.Var == "" {
		return Str(a.Value), true
	}
	vc, ok := ctx.(VarContext)
	if !ok {
		return Sample{}, false
	}
	s, ok := vc.Var(a.Var)
	return s, ok && s.Type != 0
}

func init() {
	ctxConverters["aes_gcm_dec"] = ctxConverter{ArgRequired, TypeStr, func(a []string) (CtxConvFunc, error) {
		if len(a) == 0 || a[0] == "" {
			return nil, fmt.Errorf("expected type 'integer' at position 1, but got nothing")
		}
		if len(a) < 4 {
			return nil, fmt.Errorf("missing arguments (got %d/4), type 'string' expected", len(a))
		}
		if len(a) > 4 {
			return nil, fmt.Errorf("expected ')' before ',%s)'", a[4])
		}
		bits, err := strconv.Atoi(a[0])
		if err != nil {
			return nil, fmt.Errorf("failed to parse '%s' as type 'integer' at position 1", a[0])
		}
		if bits != 128 && bits != 192 && bits != 256 {
			return nil, fmt.Errorf("key size must be 128, 192 or 256 (bits)")
		}
		var args [3]ConvArg
		var consts [3][]byte
		for i, what := range []string{"nonce", "key", "aead_tag"} {
			args[i] = ParseConvArg(a[i+1])
			if args[i].Var == "" {
				if consts[i], err = base64.StdEncoding.DecodeString(args[i].Value); err != nil {
					return nil, fmt.Errorf("failed to parse %s : argument needs to be base64 encoded, and can either be a string or a variable", what)
				}
			}
		}
		return func(ctx Context, s Sample) (Sample, bool) {
			var vals [3][]byte
			for i, arg := range args {
				if arg.Var == "" {
					vals[i] = consts[i]
					continue
				}
				v, ok := arg.Get(ctx)
				if !ok {
					return Sample{}, false
				}
				if vals[i], err = base64.StdEncoding.DecodeString(v.String()); err != nil {
					return Sample{}, false
				}
			}
			pt, ok := AESGCMDecrypt(bits, vals[0], vals[1], vals[2], smpBin(s))
			if !ok {
				return Sample{}, false
			}
			return Str(string(pt)), true
		}, nil
	}}
}

// AESGCMDecrypt decrypts ct with AES-GCM of the given key size (the
// key's first bits/8 bytes), the nonce of any non-zero length, and
// checks tag (1 to 16 bytes) against the start of the computed tag.
func AESGCMDecrypt(bits int, nonce, key, tag, ct []byte) ([]byte, bool) {
	if len(key) < bits/8 || len(nonce) == 0 || len(tag) == 0 || len(tag) > 16 {
		return nil, false
	}
	block, err := aes.NewCipher(key[:bits/8])
	if err != nil {
		return nil, false
	}
	g, err := cipher.NewGCMWithNonceSize(block, len(nonce))
	if err != nil {
		return nil, false
	}
	// GCM encrypts by XOR with a key stream: sealing zeros gives the
	// stream, hence the plain text, and sealing that gives the tag.
	stream := g.Seal(nil, nonce, make([]byte, len(ct)), nil)[:len(ct)]
	pt := make([]byte, len(ct))
	subtle.XORBytes(pt, ct, stream)
	sealed := g.Seal(nil, nonce, pt, nil)
	if subtle.ConstantTimeCompare(sealed[len(ct):len(ct)+len(tag)], tag) != 1 {
		return nil, false
	}
	return pt, true
}
