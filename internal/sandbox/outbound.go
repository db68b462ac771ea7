package sandbox

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/entra"
)

// outboundClient is what the sandbox's Entra uses to reach a SCIM endpoint (connection tests and
// provisioning cycles). It never leaves the machine: production host names the sandbox serves
// (*.goskope.com and the Microsoft hosts) are dialed to the sandbox's own listener, loopback addresses
// are dialed as given (so tests can stand up odd servers), and every other host fails the way an
// unresolvable name does. It trusts only the sandbox CA.
func (s *Server) outboundClient() *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	t := &http.Transport{
		Proxy:               nil,
		TLSClientConfig:     s.ca.clientTLSConfig(),
		TLSHandshakeTimeout: 5 * time.Second,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			if s.servesHost(host) {
				return d.DialContext(ctx, network, s.mainLn.Addr().String())
			}
			if ip := net.ParseIP(host); (ip != nil && ip.IsLoopback()) || host == "localhost" {
				return d.DialContext(ctx, network, addr)
			}
			return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
		},
	}
	return &http.Client{Transport: t, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return fmt.Errorf("redirects are not followed") }}
}

// servesHost reports whether host is a production host name the sandbox answers for.
func (s *Server) servesHost(host string) bool {
	host = entra.HostOnly(host)
	if _, ok := netskopeTenantForHost(host); ok {
		return true
	}
	return slices.Contains(entra.GraphHosts, host) || slices.Contains(entra.AuthorityHosts, host)
}
