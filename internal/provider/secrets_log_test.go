package provider

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox"
)

// secretSet is what must never be shown: each secret by name, as the strings that would betray it.
type secretSet map[string][]string

// add records a secret under name. A JWT is also looked for by its signature alone, a PEM block by
// each line of its body, and any long secret by its first and last 24 characters, so a log that cuts
// a secret short or wraps it is caught too.
func (s secretSet) add(name, v string) {
	v = strings.TrimSpace(v)
	if len(v) < 8 {
		panic(fmt.Sprintf("secret %s is too short to look for: %q", name, v))
	}
	probes := []string{v}
	if parts := strings.Split(v, "."); len(parts) == 3 && len(parts[2]) >= 16 {
		probes = append(probes, parts[2])
	}
	if strings.HasPrefix(v, "-----BEGIN") {
		for _, line := range strings.Split(v, "\n") {
			if line = strings.TrimSpace(line); len(line) >= 32 && !strings.HasPrefix(line, "-----") {
				probes = append(probes, line)
			}
		}
	} else if len(v) >= 48 {
		probes = append(probes, v[:24], v[len(v)-24:])
	}
	s[name] = append(s[name], probes...)
}

// find reports each secret found in text, where.
func (s secretSet) find(where, text string) []string {
	var leaks []string
	for name, probes := range s {
		for _, p := range probes {
			if i := strings.Index(text, p); i >= 0 {
				from, to := max(i-200, 0), min(i+len(p)+100, len(text))
				leaks = append(leaks, fmt.Sprintf("%s appears in %s: ...%s...", name, where, strings.ReplaceAll(text[from:to], p, "<"+name+">")))
				break
			}
		}
	}
	return leaks
}

func randomSecret(prefix string) string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// traceEnv makes the CLI log everything: its own trace, the provider's tflog output, and the Azure
// SDK's HTTP logging (azidentity's token requests), which the provider process prints to stderr.
var traceEnv = map[string]string{"TF_LOG": "trace", "TF_LOG_PROVIDER": "trace", "AZURE_SDK_GO_LOGGING": "all"}

// secretsConfig is the quickstart's shape: the app, its provisioning and an assignment.
func secretsConfig(tokenAttr, principalID string) string {
	return fmt.Sprintf(`
variable "scim_url" {
  type = string
}

variable "scim_token" {
  type      = string
  sensitive = true
}

resource "entranetskope_enterprise_app" "app" {
  display_name = "Netskope secrets"
}

resource "entranetskope_provisioning" "p" {
  service_principal_id = entranetskope_enterprise_app.app.service_principal_id
  scim_base_url        = var.scim_url
  %[1]s
}

resource "entranetskope_app_assignment" "a" {
  service_principal_id = entranetskope_enterprise_app.app.service_principal_id
  principal_id         = %[2]q
}
`, tokenAttr, principalID)
}

// With TF_LOG=trace and TF_LOG_PROVIDER=trace, through apply, plan, import, destroy and every sign-in
// and SCIM failure, no SCIM token, client secret, certificate key or password, OIDC token or access
// token appears in anything terraform prints: the plan, the diagnostics, the CLI's and the provider's
// logs, the Azure SDK's HTTP log. The state holds no credential (the SCIM token is there, marked
// sensitive, as scim_token documents; TestProviderSecrets_writeOnlyTokenNotInState covers scim_token_wo).
func TestProviderSecrets_neverLogged(t *testing.T) {
	s := newSandbox(t, sandbox.Options{ManualCycles: true})
	c := s.MainClient()
	user := s.AddUsers(1)[0]
	secrets := secretSet{}
	scimToken, wrongSCIMToken := s.SCIMToken(""), randomSecret("wrong-scim-")
	wrongSecret, certPassword := randomSecret("wrong-secret-"), randomSecret("cert-password-")
	secrets.add("SCIM token", scimToken)
	secrets.add("wrong SCIM token", wrongSCIMToken)
	secrets.add("client secret", c.Secret)
	secrets.add("wrong client secret", wrongSecret)
	secrets.add("certificate key", string(c.CertificateKeyPEM))
	secrets.add("certificate password", certPassword)
	bundle := append(append([]byte{}, c.CertificatePEM...), c.CertificateKeyPEM...)
	bundleB64 := base64.StdEncoding.EncodeToString(bundle)
	// The key's part of the base64 bundle: the certificate's part is public.
	secrets.add("certificate key (base64 bundle)", bundleB64[len(bundleB64)-120:])
	secrets.add("OIDC request token", s.ActionsRequestToken())
	certFile := filepath.Join(t.TempDir(), "client.pem")
	if err := os.WriteFile(certFile, bundle, 0o600); err != nil {
		t.Fatal(err)
	}
	oidcToken := fetchActionsToken(t, s)
	// A token whose signature does not verify: what a stale or tampered OIDC token looks like.
	parts := strings.Split(oidcToken, ".")
	badOIDCToken := parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))
	secrets.add("wrong OIDC token", badOIDCToken[len(badOIDCToken)-60:])

	w := newCLIWorkdir(t, s, os.Getenv("TF_ACC_TERRAFORM_PATH"), traceEnv)
	w.env["TF_VAR_scim_url"] = s.SCIMURL("")
	w.env["TF_VAR_scim_token"] = scimToken
	w.config(secretsConfig("scim_token = var.scim_token", user))
	apply := []string{"apply", "-auto-approve", "-input=false", "-no-color"}
	plan := []string{"plan", "-input=false", "-no-color"}
	secretOff := map[string]string{"ARM_CLIENT_SECRET": ""}
	steps := []secretStep{
		{"wrong SCIM token", map[string]string{"TF_VAR_scim_token": wrongSCIMToken}, apply, `Test Connection with scim_base_url`},
		{"apply", nil, apply, ""},
		{"plan", nil, append(plan, "-detailed-exitcode"), ""},
		{"state rm", nil, []string{"state", "rm", "entranetskope_provisioning.p"}, ""},
		{"wrong client secret", map[string]string{"ARM_CLIENT_SECRET": wrongSecret}, plan, `Could not sign in to Microsoft Entra ID`},
		{"client certificate", mergeEnv(secretOff, map[string]string{"ARM_CLIENT_CERTIFICATE_PATH": certFile}), plan, ""},
		{"certificate with a password it does not have", mergeEnv(secretOff, map[string]string{"ARM_CLIENT_CERTIFICATE_PATH": certFile,
			"ARM_CLIENT_CERTIFICATE_PASSWORD": certPassword}), plan, `Invalid client certificate(?s:.*)PEM,\s+which\s+takes\s+no\s+password`},
		{"base64 certificate with a password", mergeEnv(secretOff, map[string]string{"ARM_CLIENT_CERTIFICATE": bundleB64,
			"ARM_CLIENT_CERTIFICATE_PASSWORD": certPassword}), plan, `Invalid client certificate(?s:.*)PEM,\s+which\s+takes\s+no\s+password`},
		{"OIDC token", mergeEnv(secretOff, map[string]string{"ARM_USE_OIDC": "true", "ARM_OIDC_TOKEN": oidcToken}), plan, ""},
		{"wrong OIDC token", mergeEnv(secretOff, map[string]string{"ARM_USE_OIDC": "true", "ARM_OIDC_TOKEN": badOIDCToken}), plan, `Could not sign in`},
		{"OIDC token request", mergeEnv(secretOff, map[string]string{"ARM_USE_OIDC": "true", "ACTIONS_ID_TOKEN_REQUEST_URL": s.ActionsRequestURL(),
			"ACTIONS_ID_TOKEN_REQUEST_TOKEN": s.ActionsRequestToken()}), plan, ""},
		{"wrong OIDC request token", mergeEnv(secretOff, map[string]string{"ARM_USE_OIDC": "true", "ACTIONS_ID_TOKEN_REQUEST_URL": s.ActionsRequestURL(),
			"ACTIONS_ID_TOKEN_REQUEST_TOKEN": wrongSecret}), plan, `Could not sign in`},
		{"import", nil, []string{"import", "-input=false", "-no-color", "entranetskope_provisioning.p", "SPID"}, ""},
		{"plan after import", nil, plan, ""},
		{"apply after import", nil, apply, ""},
		{"destroy", nil, []string{"destroy", "-auto-approve", "-input=false", "-no-color"}, ""},
	}
	// The SCIM token is in state by design (sensitive).
	leaks := runSecretSteps(t, s, w, steps, secrets, nil, "SCIM token")
	if len(secrets.find("state", w.stateAfter["apply"])) != 1 {
		t.Fatal("the SCIM token is not found in the state, where scim_token keeps it: the search does not work")
	}
	// The logs looked in are the ones that matter: the provider's tflog output and the SDK's HTTP log.
	transcript := w.transcript.String()
	for what, want := range map[string]string{
		"the provider's own logs":          `created the enterprise application`,
		"the CLI's trace":                  `[TRACE]`,
		"the Azure SDK's HTTP request log": `OUTGOING REQUEST`,
		"the Azure SDK's response log":     `RESPONSE`,
	} {
		if !strings.Contains(transcript, want) {
			t.Errorf("the transcript lacks %s (%q): the test does not see what it should", what, want)
		}
	}
	if len(leaks) > 0 {
		t.Fatalf("%d secrets shown:\n%s", len(leaks), strings.Join(leaks, "\n\n"))
	}
}

// secretStep is one CLI command of a secrets test.
type secretStep struct {
	name   string
	env    map[string]string
	args   []string
	failRe string // "" when the command must succeed
}

// outputScans pick, for the steps they name, the part of the output to look for secrets in.
type outputScans map[string]func(t *testing.T, out string) string

// runSecretSteps runs the steps and returns every secret found in their output or in the state after
// each (except the secrets named inState, which the state may hold), then in the whole transcript and
// the last state every token the sandbox issued. "SPID" as the last argument is replaced by the
// enterprise app's service principal id from the state.
func runSecretSteps(t *testing.T, s *sandbox.Server, w *cliWorkdir, steps []secretStep, secrets secretSet, scans outputScans, inState ...string) []string {
	t.Helper()
	notInState := secretSet{}
	for name, probes := range secrets {
		if !slices.Contains(inState, name) {
			notInState[name] = probes
		}
	}
	w.stateAfter = map[string]string{}
	var leaks []string
	for _, st := range steps {
		args := st.args
		if args[len(args)-1] == "SPID" {
			args = append(slices.Clone(args[:len(args)-1]), stateAttr(t, w.file("terraform.tfstate"), "entranetskope_enterprise_app", "service_principal_id"))
		}
		out, err := w.run(st.env, args...)
		switch {
		case st.failRe == "" && err != nil:
			t.Fatalf("%s: %v\n%s", st.name, err, tail(out, 6000))
		case st.failRe != "" && err == nil:
			t.Fatalf("%s succeeded, want a failure matching %s\n%s", st.name, st.failRe, tail(out, 6000))
		case st.failRe != "" && !regexp.MustCompile(st.failRe).MatchString(out):
			t.Fatalf("%s: the failure does not match %s\n%s", st.name, st.failRe, tail(out, 6000))
		case st.failRe != "":
			t.Logf("%s: %s", st.name, firstError(out))
		}
		if scan := scans[st.name]; scan != nil {
			out = scan(t, out)
		}
		leaks = append(leaks, secrets.find("the output of "+st.name, out)...)
		w.stateAfter[st.name] = w.file("terraform.tfstate")
		leaks = append(leaks, notInState.find("the state after "+st.name, w.stateAfter[st.name])...)
	}
	issued := s.IssuedTokens()
	if len(issued) < len(steps)/2 {
		t.Fatalf("the sandbox issued only %d tokens: the runs did not sign in as expected", len(issued))
	}
	tokens := secretSet{}
	for i, tok := range issued {
		tokens.add(fmt.Sprintf("access or ID token %d", i), tok)
	}
	leaks = append(leaks, tokens.find("the transcript", w.transcript.String())...)
	for step, state := range w.stateAfter {
		leaks = append(leaks, tokens.find("the state after "+step, state)...)
	}
	t.Logf("looked for %d secrets and %d issued tokens in %d bytes of output", len(secrets), len(issued), w.transcript.Len())
	return leaks
}

// The write-only token (OpenTofu) is in no state, no saved plan and no log, through create, a failed
// create with a wrong token, a no-change plan, a rotation and destroy.
func TestProviderSecrets_writeOnlyTokenNotInState(t *testing.T) {
	s := newSandbox(t, sandbox.Options{ManualCycles: true})
	user := s.AddUsers(1)[0]
	first, wrong := s.SCIMToken(""), randomSecret("wrong-scim-")
	second, err := s.RotateSCIMToken("")
	if err != nil {
		t.Fatal(err)
	}
	// first was Netskope's token before the rotation: no longer valid, still a secret.
	secrets := secretSet{}
	secrets.add("wrong SCIM token", wrong)
	secrets.add("second SCIM token", second)
	secrets.add("first SCIM token", first)
	secrets.add("client secret", s.MainClient().Secret)
	w := newCLIWorkdir(t, s, filepath.Join(repoRoot(), "bin", "tofu"), traceEnv)
	w.env["TF_VAR_scim_url"] = s.SCIMURL("")
	w.env["TF_VAR_scim_token"] = second
	w.env["TF_VAR_token_version"] = "1"
	w.config(`
variable "token_version" {
  type = number
}
` + secretsConfig("scim_token_wo = var.scim_token\n  scim_token_wo_version = var.token_version", user))
	apply := []string{"apply", "-auto-approve", "-input=false", "-no-color"}
	steps := []secretStep{
		{"wrong SCIM token", map[string]string{"TF_VAR_scim_token": wrong}, apply, `Test Connection with scim_base_url`},
		{"apply", nil, apply, ""},
		{"plan", nil, []string{"plan", "-input=false", "-no-color", "-detailed-exitcode", "-out=tfplan"}, ""},
		{"show the saved plan", nil, []string{"show", "-json", "tfplan"}, ""},
		{"state rm", nil, []string{"state", "rm", "entranetskope_provisioning.p"}, ""},
		{"import", nil, []string{"import", "-input=false", "-no-color", "entranetskope_provisioning.p", "SPID"}, ""},
		{"new version", map[string]string{"TF_VAR_token_version": "2"}, apply, ""},
		{"destroy", nil, []string{"destroy", "-auto-approve", "-input=false", "-no-color"}, ""},
	}
	leaks := runSecretSteps(t, s, w, steps, secrets, outputScans{"show the saved plan": planWithoutVariables})
	if len(leaks) > 0 {
		t.Fatalf("%d secrets shown:\n%s", len(leaks), strings.Join(leaks, "\n\n"))
	}
}

// planWithoutVariables is the JSON of a saved plan without its root module's variables: a saved plan
// keeps the values of the variables it was made with (a sensitive variable's too, by the CLI's design),
// but the resources' planned values and changes must hold no write-only value.
func planWithoutVariables(t *testing.T, out string) string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, `{"format_version"`) {
			continue
		}
		var plan map[string]any
		if err := json.Unmarshal([]byte(line), &plan); err != nil {
			t.Fatalf("show -json: %v", err)
		}
		if _, ok := plan["resource_changes"]; !ok {
			t.Fatalf("show -json has no resource_changes: %.300s", line)
		}
		delete(plan, "variables")
		delete(plan, "configuration") // the configuration refers to variables by name only
		b, _ := json.Marshal(plan)
		return string(b)
	}
	t.Fatalf("show -json printed no plan:\n%s", tail(out, 3000))
	return ""
}

func mergeEnv(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

var errorLine = regexp.MustCompile(`(?m)^.*Error: .*(\n.*){0,8}`)

func firstError(out string) string { return errorLine.FindString(out) }

// stateAttr reads one attribute of the only resource of a type from a state file.
func stateAttr(t *testing.T, state, typ, attr string) string {
	t.Helper()
	re := regexp.MustCompile(`"type": "` + typ + `"(?s:.*?)"` + attr + `": "([^"]+)"`)
	m := re.FindStringSubmatch(state)
	if m == nil {
		t.Fatalf("no %s.%s in the state", typ, attr)
	}
	return m[1]
}
