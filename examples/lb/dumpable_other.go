//go:build !linux

package main

import "errors"

// setDumpable is Linux only.
func setDumpable() error { return errors.New("only supported on Linux") }
