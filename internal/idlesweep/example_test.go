package idlesweep_test

import (
	"fmt"
	"time"

	"github.com/proxyblocks/proxyblocks/internal/idlesweep"
)

// A test that must see a parked wait end by Wake alone turns the sweep
// off for its duration.
func ExampleSet() {
	restore := idlesweep.Set(time.Hour)
	fmt.Println(idlesweep.Every())
	restore()
	fmt.Println(idlesweep.Every())
	// Output:
	// 1h0m0s
	// 2s
}
