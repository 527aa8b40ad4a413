package platforms_test

import (
	"fmt"

	"github.com/proxyblocks/proxyblocks/internal/platforms"
)

// The systems the module is checked to build on besides linux/amd64.
func ExampleTargets() {
	for _, t := range platforms.Targets {
		fmt.Println(t)
	}
	// Output:
	// darwin/arm64
	// freebsd/amd64
	// linux/386
}
