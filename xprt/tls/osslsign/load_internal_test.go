//go:build cgo && linux

package osslsign

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// A library that is not there is an error to report, not a crash; the
// loaded state (if any) is left as it was.
func TestMissingLibrary(t *testing.T) {
	err := loadLib("libcrypto-absent.so.3")
	require.ErrorContains(t, err, "libcrypto-absent.so.3")
}
