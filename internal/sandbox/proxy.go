package sandbox

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/entra"
)

// serveProxy is an HTTP CONNECT proxy that stands in for the internet: a tunnel to port 443 of a host
// the sandbox serves (the Microsoft login and Graph hosts of every cloud, <tenant>[.<region>].goskope.com)
// ends here, TLS is terminated with a certificate of the sandbox CA, and the requests inside are served
// by the sandbox itself. Every other destination is refused before anything is dialed: with
// HTTPS_PROXY pointing here, a client can reach the sandbox and nothing else.
func (s *Server) serveProxy(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect {
		proxyRefuse(w, http.StatusForbidden, "this proxy only opens CONNECT tunnels to the hosts the sandbox serves")
		return
	}
	host, port, err := net.SplitHostPort(r.Host)
	if err != nil || port != "443" || !s.servesHost(host) {
		proxyRefuse(w, http.StatusForbidden, fmt.Sprintf("CONNECT %s refused: the sandbox serves only port 443 of the "+
			"Microsoft login and Graph hosts and *.goskope.com, and connects nowhere else", r.Host))
		return
	}
	if s.ctx.Err() != nil {
		proxyRefuse(w, http.StatusServiceUnavailable, "the sandbox is shutting down")
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		proxyRefuse(w, http.StatusInternalServerError, "cannot take over the connection")
		return
	}
	// Counted before the hijack, while the proxy's own server still tracks the connection, so that
	// Close (which shuts that server down before waiting) always waits for this tunnel too.
	s.wg.Add(1)
	defer s.wg.Done()
	conn, rw, err := hj.Hijack()
	if err != nil {
		return
	}
	defer func() { _ = conn.Close() }()
	_ = conn.SetDeadline(time.Time{})
	if _, err := io.WriteString(conn, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	s.serveTunnel(&bufferedConn{Conn: conn, r: rw.Reader}, strings.ToLower(host))
}

// serveTunnel serves HTTPS for one tunnel until the client closes it, it idles out, or the sandbox
// closes. Each tunnel gets its own http.Server so keep-alive, timeouts and closing are net/http's.
func (s *Server) serveTunnel(conn net.Conn, host string) {
	tlsConn := tls.Server(conn, &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			sni := strings.ToLower(hello.ServerName)
			if sni != "" && sni != host {
				return nil, fmt.Errorf("TLS server name %q does not match the tunnel's host %q", sni, host)
			}
			return s.ca.leaf(host)
		},
	})
	done := make(chan struct{})
	var once sync.Once
	srv := &http.Server{
		Handler:           tunnelHandler(host, s.handler),
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          log.New(logfWriter(s.logf), "sandbox proxy: ", 0),
		BaseContext:       func(net.Listener) context.Context { return s.ctx },
		ConnState: func(_ net.Conn, st http.ConnState) {
			if st == http.StateClosed || st == http.StateHijacked {
				once.Do(func() { close(done) })
			}
		},
	}
	stop := context.AfterFunc(s.ctx, func() { _ = srv.Close() })
	defer stop()
	// Serve hands the one connection to its own goroutine and returns; done tells when it is over.
	if err := srv.Serve(&singleConnListener{conn: tlsConn}); err != nil && !errors.Is(err, errListenerDone) {
		_ = tlsConn.Close()
		return
	}
	<-done
}

// tunnelHandler serves only requests for the tunnel's own host (a tunnel to login.microsoftonline.com
// does not answer for graph.microsoft.com, as the real hosts would not), and never the admin API,
// which no production host has.
func tunnelHandler(host string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if entra.HostOnly(r.Host) != host {
			http.Error(w, fmt.Sprintf("this connection serves %s, not %s", host, entra.HostOnly(r.Host)), http.StatusMisdirectedRequest)
			return
		}
		if strings.HasPrefix(r.URL.Path, "/_sandbox/") {
			http.NotFound(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func proxyRefuse(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Connection", "close")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg+"\n")
}

// bufferedConn reads first what the proxy's server had already buffered past the CONNECT request
// (a client may send its TLS hello without waiting for the 200).
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) {
	if c.r != nil && c.r.Buffered() > 0 {
		return c.r.Read(p)
	}
	return c.Conn.Read(p)
}

var errListenerDone = errors.New("the tunnel's one connection was handed out")

// singleConnListener hands out one connection, then reports that it is done.
type singleConnListener struct {
	mu   sync.Mutex
	conn net.Conn
}

func (l *singleConnListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		return nil, errListenerDone
	}
	c := l.conn
	l.conn = nil
	return c, nil
}

func (l *singleConnListener) Close() error { return nil }

func (l *singleConnListener) Addr() net.Addr { return tunnelAddr{} }

type tunnelAddr struct{}

func (tunnelAddr) Network() string { return "tunnel" }
func (tunnelAddr) String() string  { return "tunnel" }

// logfWriter turns net/http's error log (TLS handshake failures and the like) into sandbox log lines.
type logfWriter func(format string, args ...any)

func (f logfWriter) Write(p []byte) (int, error) {
	f("%s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
