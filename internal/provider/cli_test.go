package provider

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox"
)

// builtProvider is the provider binary built from this repository once per test run, for tests that
// run the CLI as a subprocess and so see everything a user's terminal and TF_LOG would show.
var builtProvider struct {
	once sync.Once
	dir  string
	err  error
}

// providerBinaryDir builds the provider (once) and returns the directory holding it.
func providerBinaryDir(t *testing.T) string {
	t.Helper()
	builtProvider.once.Do(func() {
		dir, err := os.MkdirTemp("", "entranetskope-provider-")
		if err != nil {
			builtProvider.err = err
			return
		}
		build := exec.Command("go", "build", "-o", filepath.Join(dir, "terraform-provider-entranetskope"), ".")
		build.Dir = repoRoot()
		if out, err := build.CombinedOutput(); err != nil {
			builtProvider.err = fmt.Errorf("build the provider: %w\n%s", err, out)
		}
		builtProvider.dir = dir
	})
	if builtProvider.err != nil {
		t.Fatal(builtProvider.err)
	}
	return builtProvider.dir
}

// devOverridesRC writes a CLI configuration into dir that points terraform (or tofu) at the built
// provider through dev_overrides, so that no init is needed, and returns its path.
func devOverridesRC(t *testing.T, dir string) string {
	t.Helper()
	rc := filepath.Join(dir, "cli.rc")
	rcText := fmt.Sprintf("disable_checkpoint = true\nprovider_installation {\n  dev_overrides {\n    \"entranetskope/entranetskope\" = %q\n  }\n  direct {}\n}\n", providerBinaryDir(t))
	if err := os.WriteFile(rc, []byte(rcText), 0o644); err != nil {
		t.Fatal(err)
	}
	return rc
}

// removeBuiltProvider deletes the binary providerBinaryDir built, if any (TestMain calls it).
func removeBuiltProvider() {
	if builtProvider.dir != "" {
		_ = os.RemoveAll(builtProvider.dir)
	}
}

// cliWorkdir is a working directory where a CLI (terraform or tofu) runs as a subprocess with the
// built provider (dev_overrides, no init), signed in to a sandbox through the environment.
type cliWorkdir struct {
	t   *testing.T
	cli string
	dir string
	env map[string]string
	// transcript is every command run and everything it printed (stdout and stderr, TF_LOG included).
	transcript bytes.Buffer
	// stateAfter is the state file after each named step (runSecretSteps).
	stateAfter map[string]string
}

// newCLIWorkdir prepares a directory for cli (a path to terraform or tofu) against s, with env added
// to the sandbox's own variables (ARM_*, SSL_CERT_FILE, ...).
func newCLIWorkdir(t *testing.T, s *sandbox.Server, cli string, env map[string]string) *cliWorkdir {
	t.Helper()
	dir := t.TempDir()
	rc := devOverridesRC(t, dir)
	w := &cliWorkdir{t: t, cli: cli, dir: filepath.Join(dir, "work"), env: map[string]string{
		"PATH": os.Getenv("PATH"), "HOME": os.Getenv("HOME"), "TF_CLI_CONFIG_FILE": rc, "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1",
	}}
	if err := os.MkdirAll(w.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for k, v := range s.Env() {
		w.env[k] = v
	}
	for k, v := range env {
		w.env[k] = v
	}
	return w
}

// config writes main.tf, with the provider requirement and an empty provider block before it.
func (w *cliWorkdir) config(body string) {
	w.t.Helper()
	cfg := "terraform {\n  required_providers {\n    entranetskope = { source = \"entranetskope/entranetskope\" }\n  }\n}\n\nprovider \"entranetskope\" {}\n" + body
	w.write("main.tf", cfg)
}

// run runs the CLI with args, env overriding the workdir's environment for this command ("" unsets).
// It returns what the command printed and its error.
func (w *cliWorkdir) run(env map[string]string, args ...string) (string, error) {
	w.t.Helper()
	merged := map[string]string{}
	for k, v := range w.env {
		merged[k] = v
	}
	for k, v := range env {
		merged[k] = v
	}
	var list []string
	for k, v := range merged {
		if v != "" {
			list = append(list, k+"="+v)
		}
	}
	sort.Strings(list)
	cmd := exec.Command(w.cli, args...)
	cmd.Dir, cmd.Env = w.dir, list
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	fmt.Fprintf(&w.transcript, "\n$ %s %s (%v)\n%s", filepath.Base(w.cli), strings.Join(args, " "), err, out.String())
	return out.String(), err
}

// file reads a file of the working directory ("" when missing).
func (w *cliWorkdir) file(name string) string {
	b, err := os.ReadFile(filepath.Join(w.dir, name))
	if err != nil {
		return ""
	}
	return string(b)
}

// write writes a file into the working directory.
func (w *cliWorkdir) write(name, text string) {
	w.t.Helper()
	if err := os.WriteFile(filepath.Join(w.dir, name), []byte(text), 0o644); err != nil {
		w.t.Fatal(err)
	}
}

// must runs the CLI with args and fails the test unless it exits 0; it returns what it printed.
func (w *cliWorkdir) must(args ...string) string {
	w.t.Helper()
	out, err := w.run(nil, args...)
	if err != nil {
		w.t.Fatalf("%s %s: %v\n%s", filepath.Base(w.cli), strings.Join(args, " "), err, out)
	}
	return out
}
