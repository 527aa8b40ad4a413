package platforms

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// moduleRoot is two levels up from this package.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		t.Fatalf("no go.mod at %s: %v", dir, err)
	}
	return dir
}

func goTool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("the go tool is needed to check the other platforms' builds")
		}
		t.Skip("SKIP: no go tool on PATH; the other platforms' builds are not checked")
	}
	return p
}

// Every package and its tests build for each target.
func TestOtherPlatformsBuild(t *testing.T) {
	gobin, root := goTool(t), moduleRoot(t)
	for _, tg := range Targets {
		t.Run(tg.OS+"-"+tg.Arch, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			if err := Vet(ctx, gobin, root, "./...", tg); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// The check fails where the code does not build: a file that uses a
// Linux-only name, vetted for darwin.
func TestVetReportsBreakage(t *testing.T) {
	gobin := goTool(t)
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/broken\n\ngo 1.25\n")
	write("broken.go", "package broken\n\nimport \"syscall\"\n\nvar F = syscall.Splice\n")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := Vet(ctx, gobin, dir, "./...", Target{"linux", "amd64"}); err != nil {
		t.Fatalf("the file builds on linux: %v", err)
	}
	err := Vet(ctx, gobin, dir, "./...", Target{"darwin", "arm64"})
	if err == nil {
		t.Fatal("vet for darwin passed over a Linux-only function")
	}
	t.Log(err)
}

// The packages that move bytes pass their tests without pipes, as they
// must where the system has none.
func TestWithoutSplice(t *testing.T) {
	gobin, root := goTool(t), moduleRoot(t)
	for _, nt := range NoSpliceTests {
		t.Run(strings.TrimPrefix(nt.Pkg, "./"), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			out, err := Test(ctx, gobin, root, nt.Pkg, NoSpliceTag, nt.Run)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out, "ok ") || strings.Contains(out, "no tests to run") {
				t.Fatalf("no test ran:\n%s", out)
			}
		})
	}
}
