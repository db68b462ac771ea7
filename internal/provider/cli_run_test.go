package provider

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox"
)

// tfCLI is the terraform CLI run the way a user runs it: a process of its own, the provider built
// from this repository (through dev_overrides), signed in to the sandbox through the environment.
// Tests that interrupt an apply, or that take whichever outcome an apply has, use it where
// resource.Test cannot.
type tfCLI struct {
	t    *testing.T
	work string
	env  []string
}

// newTFCLI writes files (name to content) into a new working directory and returns the CLI that
// runs there against s.
func newTFCLI(t *testing.T, s *sandbox.Server, files map[string]string) *tfCLI {
	t.Helper()
	dir := t.TempDir()
	work := filepath.Join(dir, "work")
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	rc := devOverridesRC(t, dir)
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TF_CLI_CONFIG_FILE=" + rc, "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1"}
	for k, v := range s.Env() {
		env = append(env, k+"="+v)
	}
	c := &tfCLI{t: t, work: work, env: env}
	for name, content := range files {
		c.write(name, content)
	}
	return c
}

// write writes a file into the working directory.
func (c *tfCLI) write(name, content string) {
	c.t.Helper()
	if err := os.WriteFile(filepath.Join(c.work, name), []byte(content), 0o644); err != nil {
		c.t.Fatal(err)
	}
}

// tfRun is one terraform command running in the background.
type tfRun struct {
	cmd  *exec.Cmd
	out  bytes.Buffer
	done chan struct{}
	err  error
}

// start runs terraform with args in the background, in a process group of its own (with the
// provider it starts), so that kill can take both down.
func (c *tfCLI) start(args ...string) *tfRun {
	c.t.Helper()
	r := &tfRun{done: make(chan struct{})}
	r.cmd = exec.Command(os.Getenv("TF_ACC_TERRAFORM_PATH"), args...)
	r.cmd.Dir, r.cmd.Env = c.work, c.env
	r.cmd.Stdout, r.cmd.Stderr = &r.out, &r.out
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := r.cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	go func() {
		r.err = r.cmd.Wait()
		close(r.done)
	}()
	c.t.Cleanup(func() { r.kill(); <-r.done })
	return r
}

// wait waits for the command to end and returns its output and error.
func (r *tfRun) wait() (string, error) {
	<-r.done
	return r.out.String(), r.err
}

// exited says whether the command has ended.
func (r *tfRun) exited() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// interrupt sends SIGINT to terraform, as Ctrl-C or a cancelled CI job does, and waits for it to end.
func (r *tfRun) interrupt() (string, error) {
	_ = r.cmd.Process.Signal(syscall.SIGINT)
	return r.wait()
}

// kill ends terraform and the provider it runs at once (SIGKILL to the process group), as a CI
// runner that is torn down does: nothing gets to finish or save its state.
func (r *tfRun) kill() {
	if !r.exited() {
		_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
	}
}

// run runs terraform with args to the end.
func (c *tfCLI) run(args ...string) (string, error) {
	c.t.Helper()
	return c.start(args...).wait()
}

var cliApplyArgs = []string{"apply", "-auto-approve", "-input=false", "-no-color", "-parallelism=20"}

func (c *tfCLI) apply() (string, error) { return c.run(cliApplyArgs...) }

func (c *tfCLI) destroy() (string, error) {
	return c.run("destroy", "-auto-approve", "-input=false", "-no-color", "-parallelism=20")
}

// planChanges runs terraform plan and reports whether it plans any change.
func (c *tfCLI) planChanges() (bool, string, error) {
	out, err := c.run("plan", "-detailed-exitcode", "-input=false", "-no-color", "-parallelism=20")
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 2 {
		return true, out, nil
	}
	return false, out, err
}

func (c *tfCLI) stateFile() string { return filepath.Join(c.work, "terraform.tfstate") }

// tfStateInstances reads the instances of a state file by resource address (type.name), each as its
// attributes; an absent file is an empty state.
func tfStateInstances(t *testing.T, file string) map[string][]map[string]any {
	t.Helper()
	b, err := os.ReadFile(file)
	if os.IsNotExist(err) || (err == nil && len(bytes.TrimSpace(b)) == 0) {
		// Terraform creates the file empty when it takes the state lock: killed before it wrote
		// anything, the state is empty.
		return map[string][]map[string]any{}
	}
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Resources []struct {
			Mode      string `json:"mode"`
			Type      string `json:"type"`
			Name      string `json:"name"`
			Instances []struct {
				Attributes map[string]any `json:"attributes"`
			} `json:"instances"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	out := map[string][]map[string]any{}
	for _, r := range st.Resources {
		if r.Mode != "managed" {
			continue
		}
		for _, in := range r.Instances {
			out[r.Type+"."+r.Name] = append(out[r.Type+"."+r.Name], in.Attributes)
		}
	}
	return out
}

// waitUntil polls cond until it holds; it fails the test after limit (a run that never reaches the
// point it waits for), never as a measure of speed.
func waitUntil(t *testing.T, run *tfRun, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if run.exited() {
			out, err := run.wait()
			t.Fatalf("terraform ended (%v) before %s:\n%s", err, what, out)
		}
		if time.Now().After(deadline) {
			run.kill()
			out, _ := run.wait()
			t.Fatalf("%s did not happen within %s:\n%s", what, limit, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stateAfterKill leaves a state file terraform can read after terraform was killed: a kill can land
// while terraform rewrites its local state file (after each instance it applied), leaving it cut
// short. As a user would, the test then goes on from the backup terraform wrote before the apply (an
// empty file reads as no state, to terraform as here).
func stateAfterKill(t *testing.T, file string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil || len(b) == 0 || json.Valid(b) {
		return
	}
	backup, err := os.ReadFile(file + ".backup")
	if os.IsNotExist(err) {
		backup, err = nil, nil // there was no state before the apply
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the kill cut terraform's state file short (%d bytes): going on from terraform.tfstate.backup (%d bytes)", len(b), len(backup))
	if err := os.WriteFile(file, backup, 0o644); err != nil {
		t.Fatal(err)
	}
}
