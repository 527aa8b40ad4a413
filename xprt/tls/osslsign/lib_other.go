//go:build !(cgo && linux)

package osslsign

import (
	"errors"
	"unsafe"
)

func load() error {
	return errors.New("this build has no cgo on Linux, which loading libcrypto.so.3 needs")
}

// The functions below are never reached: New stops at Available.

func newKey([]byte) (unsafe.Pointer, int, error) { return nil, 0, ErrUnavailable }

func freeKey(unsafe.Pointer) {}

func sign(unsafe.Pointer, int, int, []byte, []byte) (int, error) { return 0, ErrUnavailable }
