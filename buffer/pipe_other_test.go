//go:build !linux || proxyblocks_nosplice

package buffer

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// Without splice(2) there are no pipes: both ways of asking for one say
// so with an error that wraps errors.ErrUnsupported, and the pool counts
// nothing as in use.
func TestPipeUnsupported(t *testing.T) {
	_, err := NewPipe(0)
	require.ErrorIs(t, err, errors.ErrUnsupported)
	pp, err := NewPipePool(PipePoolConfig{Max: 1})
	require.NoError(t, err)
	_, err = pp.Get()
	require.ErrorIs(t, err, errors.ErrUnsupported)
	require.Equal(t, PipeStats{}, pp.Stats())
	require.NoError(t, pp.Close())
}
