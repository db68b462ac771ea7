package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox"
)

// envVars are the variables of the env file that scripts outside the Go tests rely on.
var envVars = []string{
	"ARM_TENANT_ID", "ARM_CLIENT_ID", "ARM_CLIENT_SECRET", "ENTRANETSKOPE_AUTHORITY_HOST",
	"ENTRANETSKOPE_GRAPH_ENDPOINT", "SSL_CERT_FILE", "NETSKOPE_SCIM_URL", "NETSKOPE_SCIM_TOKEN",
	"NETSKOPE_SERVER_URL", "NETSKOPE_API_KEY", "SANDBOX_ADMIN_URL", "SANDBOX_PROXY",
}

// syncBuffer is stderr shared between the command's goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestCommand_envFileAndShutdown runs the command as a script would: it waits for the env file,
// signs in with the file's credentials, calls the admin API, then stops the command.
func TestCommand_envFileAndShutdown(t *testing.T) {
	envFile := filepath.Join(t.TempDir(), "sandbox.env")
	if err := os.WriteFile(envFile, []byte("export ARM_CLIENT_SECRET='stale'\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr syncBuffer
	ready := make(chan *sandbox.Server, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--env-file", envFile, "--cycle-interval", "90s", "--seed-users", "3", "--latency", "0ms",
			"--throttle=false", "--error-rate", "0", "--replication-lag", "0s"}, &stderr, func(s *sandbox.Server) { ready <- s })
	}()
	var s *sandbox.Server
	select {
	case s = <-ready:
	case err := <-done:
		t.Fatalf("the command ended before serving: %v\n%s", err, stderr.String())
	}

	env := readEnvFile(t, envFile)
	for _, k := range envVars {
		if env[k] == "" {
			t.Errorf("env file has no %s", k)
		}
	}
	if len(env) != len(envVars) {
		t.Errorf("env file has %d variables, want the %d of the interface: %v", len(env), len(envVars), keys(env))
	}
	if env["ARM_CLIENT_SECRET"] == "stale" {
		t.Fatal("the stale env file was not replaced")
	}
	if env["ARM_TENANT_ID"] != s.TenantID() || env["SANDBOX_PROXY"] != s.ProxyURL() {
		t.Errorf("env file does not describe the running sandbox: %v", env)
	}
	if f := s.Faults(); f.Throttle.Enabled || f.ErrorRate != 0 || f.LatencyMS != 0 {
		t.Errorf("flags did not reach the faults: %+v", f)
	}
	for _, k := range []string{"ARM_CLIENT_SECRET", "NETSKOPE_SCIM_TOKEN", "NETSKOPE_API_KEY"} {
		if env[k] != "" && strings.Contains(stderr.String(), env[k]) {
			t.Errorf("the summary on stderr shows %s", k)
		}
	}
	if !strings.Contains(stderr.String(), env["SANDBOX_ADMIN_URL"]) {
		t.Errorf("the summary does not show the admin URL:\n%s", stderr.String())
	}

	// A script trusts the sandbox through SSL_CERT_FILE and signs in with the ARM_* variables.
	caPEM, err := os.ReadFile(env["SSL_CERT_FILE"])
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("SSL_CERT_FILE holds no certificate")
	}
	hc := &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {env["ARM_CLIENT_ID"]},
		"client_secret": {env["ARM_CLIENT_SECRET"]},
		"scope":         {"https://graph.microsoft.com/.default"},
	}
	resp, err := hc.PostForm(env["ENTRANETSKOPE_AUTHORITY_HOST"]+env["ARM_TENANT_ID"]+"/oauth2/v2.0/token", form)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || tok.AccessToken == "" || tok.TokenType != "Bearer" {
		t.Fatalf("token request with the env file's credentials: status %d, err %v", resp.StatusCode, err)
	}
	resp, err = hc.Get(env["SANDBOX_ADMIN_URL"] + "stats")
	if err != nil {
		t.Fatal(err)
	}
	var stats map[string]any
	err = json.NewDecoder(resp.Body).Decode(&stats)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || stats["total"] == nil {
		t.Fatalf("GET stats: status %d, err %v, body %v", resp.StatusCode, err, stats)
	}

	// NETSKOPE_API_KEY reads the tenant's SCIM users, sent the way Netskope's own tools send it, and
	// may not write.
	scim := func(method string) int {
		req, _ := http.NewRequest(method, env["NETSKOPE_SERVER_URL"]+"/scim/Users", strings.NewReader(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x@example.com"}`))
		req.Header.Set("Netskope-Api-Token", env["NETSKOPE_API_KEY"])
		req.Header.Set("Content-Type", "application/scim+json")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := scim(http.MethodGet); st != http.StatusOK {
		t.Errorf("GET NETSKOPE_SERVER_URL/scim/Users with NETSKOPE_API_KEY: %d, want 200", st)
	}
	if st := scim(http.MethodPost); st != http.StatusForbidden {
		t.Errorf("POST NETSKOPE_SERVER_URL/scim/Users with the read-only NETSKOPE_API_KEY: %d, want 403", st)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("the command did not stop cleanly: %v", err)
	}
	if _, err := os.Stat(envFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the env file outlived the command (err %v)", err)
	}
	if _, err := hc.Get(env["SANDBOX_ADMIN_URL"] + "stats"); err == nil {
		t.Error("the sandbox still answers after the command stopped")
	}
}

// TestCommand_rejectsBadFlags checks the command refuses nonsense instead of running a sandbox that
// is not what the script asked for.
func TestCommand_rejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--error-rate", "2"},
		{"--seed-users", "-1"},
		{"--latency", "-5ms"},
		{"--cycle-interval", "0s"},
		{"--netskope-tenants", " , "},
		{"--no-such-flag"},
		{"extra-argument"},
	} {
		var stderr syncBuffer
		err := run(context.Background(), args, &stderr, func(*sandbox.Server) { t.Errorf("%v: the sandbox started", args) })
		if err == nil {
			t.Errorf("%v: accepted", args)
		}
	}
}

func readEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, "export ")
		k, v, ok2 := strings.Cut(rest, "=")
		if !ok || !ok2 {
			t.Fatalf("env file line is not an export: %q", line)
		}
		if len(v) < 2 || v[0] != '\'' || v[len(v)-1] != '\'' {
			t.Fatalf("env file value is not single-quoted: %q", line)
		}
		env[k] = strings.ReplaceAll(v[1:len(v)-1], `'\''`, `'`)
	}
	return env
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
