// Command sandbox runs the offline Entra ID + Microsoft Graph + Netskope SCIM sandbox in the
// foreground until SIGINT or SIGTERM, for `make demo`, `make sandbox` and scripts.
//
//	go run ./internal/sandbox/cmd/sandbox --env-file PATH [--cycle-interval 40m] [--seed-users N] [--latency 0ms]
//
// PATH receives shell export lines (ARM_TENANT_ID, ARM_CLIENT_ID, ARM_CLIENT_SECRET,
// ENTRANETSKOPE_AUTHORITY_HOST, ENTRANETSKOPE_GRAPH_ENDPOINT, SSL_CERT_FILE, NETSKOPE_SCIM_URL,
// NETSKOPE_SCIM_TOKEN, NETSKOPE_SERVER_URL, NETSKOPE_API_KEY (a read-only REST API v2 token),
// SANDBOX_ADMIN_URL, SANDBOX_PROXY) once the sandbox serves. A stale file is
// removed at start and the file is removed again at exit, so a script that waits for it to appear
// never reads the values of an earlier run.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stderr, nil)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	default:
		fmt.Fprintln(os.Stderr, "sandbox:", err)
		os.Exit(1)
	}
}

// run starts the sandbox as the flags in args say, reports on stderr, and serves until ctx ends.
// ready, when not nil, receives the running sandbox once it serves (for tests).
func run(ctx context.Context, args []string, stderr io.Writer, ready func(*sandbox.Server)) error {
	fs := flag.NewFlagSet("sandbox", flag.ContinueOnError)
	fs.SetOutput(stderr)
	envFile := fs.String("env-file", "", "write the shell export lines of the sandbox's settings to this `path` once it serves")
	cycle := fs.Duration("cycle-interval", 40*time.Minute, "time between provisioning cycles of a started job (Entra: 40m)")
	seedUsers := fs.Int("seed-users", 0, "add this many users to the seeded directory")
	latency := fs.Duration("latency", 0, "latency added to every Graph request")
	dir := fs.String("dir", "", "keep the CA and credential files in this `directory` (default: a temporary one, removed at exit)")
	throttle := fs.Bool("throttle", true, "model Graph's throttling limits (429 with Retry-After)")
	errorRate := fs.Float64("error-rate", 0, "fraction (0..1) of Graph requests answered 503")
	lag := fs.Duration("replication-lag", 0, "how long a new object answers 404 on reads")
	instantiate404 := fs.Bool("instantiate-404", false, "instantiate answers 404 after creating the application")
	tenantID := fs.String("tenant-id", "", "Entra tenant id (default: random)")
	clientID := fs.String("client-id", "", "client id the provider signs in as (default: random)")
	roles := fs.String("roles", "", "comma-separated application permissions granted to that client (default: the least-privilege set)")
	netskope := fs.String("netskope-tenants", "acme", "comma-separated Netskope tenant names served over SCIM")
	addr := fs.String("addr", "127.0.0.1", "address the listeners bind to")
	verbose := fs.Bool("verbose", false, "log notable events on stderr")
	fs.Usage = func() {
		_, _ = fmt.Fprintln(stderr, "usage: sandbox --env-file PATH [flags]\n\nRuns the offline Entra ID, Graph and Netskope SCIM sandbox until SIGINT/SIGTERM.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	switch {
	case *seedUsers < 0:
		return errors.New("--seed-users must not be negative")
	case *latency < 0 || *lag < 0:
		return errors.New("--latency and --replication-lag must not be negative")
	case *errorRate < 0 || *errorRate > 1:
		return errors.New("--error-rate must be within 0..1")
	case *cycle <= 0:
		return errors.New("--cycle-interval must be positive")
	case len(splitList(*netskope)) == 0:
		return errors.New("--netskope-tenants must name at least one tenant")
	}

	faults := sandbox.DefaultFaults()
	faults.LatencyMS = int(*latency / time.Millisecond)
	faults.Throttle.Enabled = *throttle
	faults.ErrorRate = *errorRate
	faults.ReplicationLagMS = int(*lag / time.Millisecond)
	faults.Instantiate404 = *instantiate404
	opts := sandbox.Options{
		TenantID:        *tenantID,
		ClientID:        *clientID,
		CycleInterval:   *cycle,
		SeedUsers:       *seedUsers,
		Faults:          &faults,
		NetskopeTenants: splitList(*netskope),
		Dir:             *dir,
		Addr:            *addr,
	}
	if *roles != "" {
		opts.Roles = splitList(*roles)
	}
	if *verbose {
		opts.Logf = func(format string, a ...any) {
			_, _ = fmt.Fprintf(stderr, time.Now().Format("15:04:05.000")+" "+format+"\n", a...)
		}
	}

	if *envFile != "" {
		if err := os.Remove(*envFile); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove stale env file: %w", err)
		}
	}
	s, err := sandbox.Start(opts)
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	defer s.Close()
	if *envFile != "" {
		if err := s.WriteEnvFile(*envFile); err != nil {
			return fmt.Errorf("write env file: %w", err)
		}
		defer func() { _ = os.Remove(*envFile) }()
	}

	_, _ = fmt.Fprintf(stderr, "sandbox: serving tenant %s, client %s\n", s.TenantID(), s.MainClient().AppID)
	line := func(name, value string) { _, _ = fmt.Fprintf(stderr, "  %-14s %s\n", name, value) }
	line("authority", s.AuthorityHost())
	line("graph", s.GraphURL())
	for _, t := range opts.NetskopeTenants {
		line("scim ("+t+")", s.SCIMURL(t))
	}
	line("admin", s.AdminURL())
	line("proxy", s.ProxyURL()+" (HTTPS_PROXY: login/graph hosts and *.goskope.com)")
	line("CA", s.CAFile())
	if *envFile != "" {
		line("env file", *envFile+" (source it; it holds the secrets)")
	}
	_, _ = fmt.Fprintln(stderr, "sandbox: stop with Ctrl-C or SIGTERM")
	if ready != nil {
		ready(s)
	}

	<-ctx.Done()
	_, _ = fmt.Fprintln(stderr, "sandbox: stopping")
	return nil
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
