// Package buildtest builds the real function binaries for tests, for this
// machine's architecture, as `make lambdas` builds them for Lambda.
package buildtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
)

// Functions are the function packages under functions/.
var Functions = []string{"extract", "transform", "load", "commit"}

// Bootstraps builds functions/<fn> into dir/<fn>/bootstrap. repo is the
// repository root.
func Bootstraps(repo, dir string) error {
	for _, fn := range Functions {
		if err := Build(repo, filepath.Join(dir, fn, "bootstrap"), "./functions/"+fn, "-tags", "lambda.norpc"); err != nil {
			return err
		}
	}
	return nil
}

// Build runs go build for pkg into out with CGO off.
func Build(repo, out, pkg string, flags ...string) error {
	args := append(append([]string{"build"}, flags...), "-o", out, pkg)
	cmd := exec.Command("go", args...)
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build %s: %v\n%s", pkg, err, b)
	}
	return nil
}
