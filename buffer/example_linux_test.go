//go:build linux && !proxyblocks_nosplice

package buffer_test

import (
	"fmt"

	"github.com/proxyblocks/proxyblocks/buffer"
)

// A pipe pool caps the pipes in use; at the cap the caller falls back to
// a buffer.
func ExamplePipePool() {
	pipes, err := buffer.NewPipePool(buffer.PipePoolConfig{Max: 1})
	if err != nil {
		panic(err)
	}
	defer pipes.Close()
	p, _ := pipes.Get()
	_, err = pipes.Get()
	fmt.Println(err)
	p.Release()
	fmt.Printf("%+v\n", pipes.Stats())
	// Output:
	// buffer: pipe limit reached: 1 pipes in use (maxpipes 1)
	// {InUse:0 Idle:1 Created:1 Killed:0 Refused:1}
}
