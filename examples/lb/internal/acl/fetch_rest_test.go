package acl

import (
	stdtls "crypto/tls"
	"fmt"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBinFetch(t *testing.T) {
	_, fn, err := CompileFetch("bin(0a1B2c)")
	require.NoError(t, err)
	s, ok := fn(nil)
	assert.True(t, ok)
	assert.Equal(t, "\x0a\x1b\x2c", s.Str)
	_, _, err = CompileFetch("bin(0a1)")
	assert.ErrorContains(t, err, "an even number of hex digit is expected")
	_, _, err = CompileFetch("bin(0z)")
	assert.ErrorContains(t, err, "an hex digit is expected (found 'z')")
}

func TestOpenSSLError(t *testing.T) {
	assert.Equal(t, uint32(167772427), OpenSSLError(fmt.Errorf("dial: %w", stdtls.RecordHeaderError{Msg: "x"})))
	assert.Equal(t, uint32(0x0A000410), OpenSSLError(stdtls.AlertError(40)))
	assert.Equal(t, uint32(0), OpenSSLError(io.EOF))
	assert.Equal(t, "error:0A000086:SSL routines::certificate verify failed", OpenSSLErrorString(0x0A000086))
	assert.Equal(t, "error:0A000410:SSL routines::sslv3 alert handshake failure", OpenSSLErrorString(OpenSSLError(stdtls.AlertError(40))))
}

func TestHTXFetchesRefusedByName(t *testing.T) {
	_, _, err := CompileFetch("internal.htx.nbblks")
	assert.ErrorIs(t, err, ErrUnsupportedFetch)
	assert.ErrorContains(t, err, "HTX")
}
