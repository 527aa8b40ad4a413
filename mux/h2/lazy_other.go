//go:build !unix

package h2

import "errors"

// rawRecvSupported is false where the socket cannot be read directly:
// lazyReader reads through the transport and keeps its buffer.
const rawRecvSupported = false

var errAgain = errors.New("h2: nothing to receive")

func rawRecv(uintptr, []byte) (int, error) { return 0, errAgain }
