// Package platforms lists the systems besides linux/amd64 that the module
// is checked to build on, with its tests, and runs that check.
//
// Linux is where every feature exists. Elsewhere among Unix systems the
// packages build and work without the Linux-only parts: buffer has no
// pipes (the channel moves bytes through buffers instead of splice(2)),
// the channel does not park idle directions in its own epoll poller, conn
// refuses SO_REUSEPORT, and shctx gives no huge-page advice. Windows is
// not supported, as HAProxy does not support it.
//
// The build tag proxyblocks_nosplice gives a Linux build the pipe-less
// buffer of the other systems, so the fallback is tested where the suite
// runs; [NoSpliceTests] are the packages and tests it runs that way.
package platforms

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// Target is one GOOS/GOARCH pair.
type Target struct {
	// OS and Arch are GOOS and GOARCH.
	OS, Arch string
}

// String returns the pair as "os/arch".
func (t Target) String() string { return t.OS + "/" + t.Arch }

// Targets are the pairs checked: a 64-bit macOS, a BSD, and a 32-bit
// Linux (where 64-bit atomics need alignment and int is 32 bits).
var Targets = []Target{
	{"darwin", "arm64"},
	{"freebsd", "amd64"},
	{"linux", "386"},
}

// NoSpliceTag is the build tag that leaves kernel pipes out on Linux.
const NoSpliceTag = "proxyblocks_nosplice"

// NoSpliceTests are the packages whose tests run again with [NoSpliceTag],
// each with a -run pattern ("" for all): the ones that move bytes
// through channels.
var NoSpliceTests = []struct{ Pkg, Run string }{
	{"./buffer", ""},
	{"./channel", ""},
	{"./examples/lb/internal/balancer", "EndToEnd|TCP"},
}

// Test runs `go test -count=1` with the go tool at gobin on pkg in dir,
// with the given build tags and -run pattern, and returns its output
// with an error if it fails.
func Test(ctx context.Context, gobin, dir, pkg, tags, run string) (string, error) {
	args := []string{"test", "-count=1", "-tags", tags}
	if run != "" {
		args = append(args, "-run", run)
	}
	cmd := exec.CommandContext(ctx, gobin, append(args, pkg)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("go %s %s: %w\n%s", strings.Join(args, " "), pkg, err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// Vet runs `go vet` with the go tool at gobin over the packages matching
// pattern in dir, built for t, and returns its output with an error if
// it fails. Vet type-checks test files too, so a test that only builds on
// Linux is caught as well as a library file.
func Vet(ctx context.Context, gobin, dir, pattern string, t Target) error {
	cmd := exec.CommandContext(ctx, gobin, "vet", pattern)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS="+t.OS, "GOARCH="+t.Arch, "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go vet %s for %s: %w\n%s", pattern, t, err, strings.TrimSpace(string(out)))
	}
	return nil
}
