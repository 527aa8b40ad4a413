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
