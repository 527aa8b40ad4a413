//go:build cgo && linux

package osslsign

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

// libcrypto is opened at run time; these are the few entry points used,
// declared here with opaque pointers so that no OpenSSL header is needed.
typedef void *(*d2i_auto_fn)(void **out, const unsigned char **in, long len);
typedef void (*free_fn)(void *p);
typedef int (*size_fn)(const void *pkey);
typedef void *(*ctx_new_fn)(void *pkey, void *engine);
typedef int (*ctx_fn)(void *ctx);
typedef int (*ctx_int_fn)(void *ctx, int v);
typedef int (*ctx_md_fn)(void *ctx, const void *md);
typedef int (*sign_fn)(void *ctx, unsigned char *sig, size_t *siglen,
                       const unsigned char *tbs, size_t tbslen);
typedef const void *(*md_fn)(void);
typedef unsigned long (*ulong_fn)(void);
typedef void (*void_fn)(void);
typedef void (*errstr_fn)(unsigned long e, char *buf, size_t len);

static struct {
	d2i_auto_fn d2i_auto_private_key;
	free_fn pkey_free;
	size_fn pkey_get_size;
	ctx_new_fn ctx_new;
	free_fn ctx_free;
	ctx_fn sign_init;
	ctx_int_fn set_rsa_padding;
	ctx_int_fn set_rsa_pss_saltlen;
	ctx_md_fn set_signature_md;
	sign_fn sign;
	ulong_fn version_num;
	ulong_fn err_get;
	void_fn err_clear;
	errstr_fn err_string;
	const void *md[4];
} ossl;

// ossl_load opens the library (libcrypto.so.3) and resolves every symbol.
// It returns 0, or -1 with a message in err.
static int ossl_load(const char *name, char *err, size_t errlen) {
	void *lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (lib == NULL) {
		const char *e = dlerror();
		strncpy(err, e ? e : "dlopen failed", errlen - 1);
		return -1;
	}
	struct { void **dst; const char *name; } syms[] = {
		{(void **)&ossl.d2i_auto_private_key, "d2i_AutoPrivateKey"},
		{(void **)&ossl.pkey_free, "EVP_PKEY_free"},
		{(void **)&ossl.pkey_get_size, "EVP_PKEY_get_size"},
		{(void **)&ossl.ctx_new, "EVP_PKEY_CTX_new"},
		{(void **)&ossl.ctx_free, "EVP_PKEY_CTX_free"},
		{(void **)&ossl.sign_init, "EVP_PKEY_sign_init"},
		{(void **)&ossl.set_rsa_padding, "EVP_PKEY_CTX_set_rsa_padding"},
		{(void **)&ossl.set_rsa_pss_saltlen, "EVP_PKEY_CTX_set_rsa_pss_saltlen"},
		{(void **)&ossl.set_signature_md, "EVP_PKEY_CTX_set_signature_md"},
		{(void **)&ossl.sign, "EVP_PKEY_sign"},
		{(void **)&ossl.version_num, "OpenSSL_version_num"},
		{(void **)&ossl.err_get, "ERR_get_error"},
		{(void **)&ossl.err_clear, "ERR_clear_error"},
		{(void **)&ossl.err_string, "ERR_error_string_n"},
	};
	for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		*syms[i].dst = dlsym(lib, syms[i].name);
		if (*syms[i].dst == NULL) {
			strncpy(err, "libcrypto.so.3 has no ", errlen - 1);
			strncat(err, syms[i].name, errlen - strlen(err) - 1);
			return -1;
		}
	}
	if (ossl.version_num() < 0x30000000UL) {
		strncpy(err, "libcrypto.so.3 is older than OpenSSL 3.0", errlen - 1);
		return -1;
	}
	const char *mds[] = {NULL, "EVP_sha256", "EVP_sha384", "EVP_sha512"};
	for (int i = 1; i < 4; i++) {
		md_fn f = (md_fn)dlsym(lib, mds[i]);
		if (f == NULL || (ossl.md[i] = f()) == NULL) {
			strncpy(err, "libcrypto.so.3 has no ", errlen - 1);
			strncat(err, mds[i], errlen - strlen(err) - 1);
			return -1;
		}
	}
	return 0;
}

// ossl_error takes the oldest error of this thread's queue into err and
// clears the queue. Callers run it in the same cgo call as the failing
// function: the queue is per thread.
static void ossl_error(char *err, size_t errlen) {
	unsigned long e = ossl.err_get();
	if (e != 0) {
		ossl.err_string(e, err, errlen);
	}
	ossl.err_clear();
}

// ossl_new_key parses a PKCS #8 DER private key. It returns the EVP_PKEY
// and its maximum signature size, or NULL with a message in err.
static void *ossl_new_key(const unsigned char *der, long len, int *size,
                          char *err, size_t errlen) {
	const unsigned char *p = der;
	void *pkey = ossl.d2i_auto_private_key(NULL, &p, len);
	if (pkey == NULL) {
		ossl_error(err, errlen);
		return NULL;
	}
	*size = ossl.pkey_get_size(pkey);
	return pkey;
}

// ossl_sign signs a digest with a fresh EVP_PKEY_CTX, freed before it
// returns. pad is 0 for ECDSA, else the RSA padding mode; PSS uses a salt
// as long as the digest. It returns 0, or -1 with a message in err.
static int ossl_sign(void *pkey, int md, int pad, const unsigned char *dg,
                     size_t dglen, unsigned char *sig, size_t *siglen,
                     char *err, size_t errlen) {
	void *ctx = ossl.ctx_new(pkey, NULL);
	int ok = ctx != NULL && ossl.sign_init(ctx) > 0;
	if (ok && pad != 0) {
		ok = ossl.set_rsa_padding(ctx, pad) > 0;
	}
	if (ok && pad == 6) {
		ok = ossl.set_rsa_pss_saltlen(ctx, -1) > 0; // RSA_PSS_SALTLEN_DIGEST
	}
	if (ok) {
		ok = ossl.set_signature_md(ctx, ossl.md[md]) > 0;
	}
	if (ok) {
		ok = ossl.sign(ctx, sig, siglen, dg, dglen) > 0;
	}
	if (!ok) {
		ossl_error(err, errlen);
	}
	if (ctx != NULL) {
		ossl.ctx_free(ctx);
	}
	return ok ? 0 : -1;
}

static void ossl_free_key(void *pkey) { ossl.pkey_free(pkey); }
*/
import "C"

import (
	"errors"
	"unsafe"
)

const errLen = 256

func cError(what string, buf []C.char) error {
	msg := C.GoString(&buf[0])
	if msg == "" {
		msg = "no detail from libcrypto"
	}
	return errors.New("osslsign: " + what + ": " + msg)
}

func load() error { return loadLib("libcrypto.so.3") }

// loadLib is load with the library's name as a parameter, so that tests
// can see a missing library fail cleanly.
func loadLib(name string) error {
	var buf [errLen]C.char
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	if C.ossl_load(cname, &buf[0], errLen) != 0 {
		return errors.New(C.GoString(&buf[0]))
	}
	return nil
}

// newKey gives libcrypto its own copy of the key; der may be cleared
// once it returns. Go memory is only lent for the call.
func newKey(der []byte) (unsafe.Pointer, int, error) {
	var (
		buf  [errLen]C.char
		size C.int
	)
	pkey := C.ossl_new_key((*C.uchar)(unsafe.Pointer(&der[0])), C.long(len(der)), &size, &buf[0], errLen)
	if pkey == nil {
		return nil, 0, cError("libcrypto does not take the key", buf[:])
	}
	if size <= 0 {
		C.ossl_free_key(pkey)
		return nil, 0, errors.New("osslsign: libcrypto reports no signature size for the key")
	}
	return pkey, int(size), nil
}

func freeKey(pkey unsafe.Pointer) { C.ossl_free_key(pkey) }

// sign writes the signature into sig, which holds the key's maximum
// signature size, and returns its length.
func sign(pkey unsafe.Pointer, md, pad int, digest, sig []byte) (int, error) {
	var buf [errLen]C.char
	n := C.size_t(len(sig))
	if C.ossl_sign(pkey, C.int(md), C.int(pad),
		(*C.uchar)(unsafe.Pointer(&digest[0])), C.size_t(len(digest)),
		(*C.uchar)(unsafe.Pointer(&sig[0])), &n, &buf[0], errLen) != 0 {
		return 0, cError("signature failed", buf[:])
	}
	return int(n), nil
}
