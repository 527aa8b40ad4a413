//go:build !linux || proxyblocks_nosplice

package buffer

import (
	"errors"
	"fmt"
)

// errNoSplice says why there are no pipes here: splice(2) is Linux only.
var errNoSplice = fmt.Errorf("kernel pipes for splice are only available on Linux: %w", errors.ErrUnsupported)

func sysPipe(int) (int, int, error)        { return -1, -1, errNoSplice }
func sysPipeSize(int) (int, error)         { return 0, errNoSplice }
func sysSplice(int, int, int) (int, error) { return 0, errNoSplice }
func sysWrite(int, []byte) (int, error)    { return 0, errNoSplice }
func sysRead(int, []byte) (int, error)     { return 0, errNoSplice }
func sysClose(int) error                   { return errNoSplice }

// SpliceSupported reports whether this build has kernel pipes for
// splice(2): false outside Linux, and with the proxyblocks_nosplice tag.
const SpliceSupported = false
