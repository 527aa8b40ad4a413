package buffer_test

import (
	"fmt"

	"github.com/proxyblocks/proxyblocks/buffer"
)

// A pooled buffer is borrowed while bytes are in flight and given back
// once they have left; a warm pool reuses it without allocating.
func ExamplePool() {
	pool, err := buffer.NewPool(buffer.PoolConfig{Size: 16, Reserve: 4})
	if err != nil {
		panic(err)
	}
	b, _ := pool.Get()
	_, _ = b.Write([]byte("hello, "))
	_ = b.Del(5) // "hello" sent
	_, _ = b.Write([]byte("wrapped world"))
	first, second := b.Data()
	fmt.Printf("%q %q\n", first, second)

	_ = b.Replace(0, 9, []byte("ring"))
	first, second = b.Data()
	fmt.Printf("%q %q\n", first, second)

	b.Release()
	fmt.Printf("%+v\n", pool.Stats())
	// Output:
	// ", wrapped w" "orld"
	// "ring world" ""
	// {InUse:0 Idle:1 Allocated:1 Waiting:0}
}

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
