//go:build !(cgo && linux)

package osslsign

import (
	"errors"
	"unsafe"
)

func load() error {
	return errors.New("built without cgo or not for Linux; loading libcrypto.so.3 needs both")
}

// The functions below are never reached: New stops at Available.

func newKey([]byte) (unsafe.Pointer, int, error) { return nil, 0, ErrUnavailable }

func freeKey(unsafe.Pointer) {}

func sign(unsafe.Pointer, int, int, []byte, []byte) (int, error) { return 0, ErrUnavailable }
