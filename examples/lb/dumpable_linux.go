package main

import "golang.org/x/sys/unix"

// setDumpable lets the process dump core after it changed its user, as
// HAProxy's set-dumpable does (PR_SET_DUMPABLE).
func setDumpable() error { return unix.Prctl(unix.PR_SET_DUMPABLE, 1, 0, 0, 0) }
