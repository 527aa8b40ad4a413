//go:build !linux

package main

import "fmt"

// setFileLimit reports that ulimit-n is applied on Linux only: the limit
// is left as the process was given it.
func setFileLimit(n int) error {
	return fmt.Errorf("ulimit-n %d: the open file limit is only set on Linux; it is left as it is", n)
}

// bindCPUs reports that cpu-map is applied on Linux only.
func bindCPUs(cpus []int) error {
	return fmt.Errorf("cpu-map: binding to CPUs %v is only done on Linux; the process runs where the system places it", cpus)
}
