package sandbox

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	kiotaauth "github.com/microsoft/kiota-authentication-azure-go"
	khttp "github.com/microsoft/kiota-http-go"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
)

// proxiedTransport is what an unmodified client gets from HTTPS_PROXY and SSL_CERT_FILE: the
// sandbox's proxy, and trust in the sandbox CA only.
func proxiedTransport(t *testing.T, s *Server) *http.Transport {
	t.Helper()
	u, err := url.Parse(s.ProxyURL())
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(s.CAPEM()) {
		t.Fatal("CAPEM holds no certificate")
	}
	tr := &http.Transport{Proxy: http.ProxyURL(u), TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

func TestProxy_productionDefaults(t *testing.T) {
	s := startSandbox(t, Options{})
	tr := proxiedTransport(t, s)
	hc := &http.Client{Transport: tr, Timeout: time.Minute}
	c := s.MainClient()

	// azidentity's defaults: the public cloud's authority, instance discovery on.
	cred, err := azidentity.NewClientSecretCredential(s.TenantID(), c.AppID, c.Secret,
		&azidentity.ClientSecretCredentialOptions{ClientOptions: azcore.ClientOptions{Transport: hc}})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cred.GetToken(context.Background(), graphScope)
	if err != nil {
		t.Fatalf("GetToken through the proxy: %v", err)
	}
	claims, err := s.authority.VerifyAccessToken("Bearer " + tok.Token)
	if err != nil || claims.AppID != c.AppID || !sameSet(claims.Roles, c.Roles) || claims.Audience != "https://graph.microsoft.com" {
		t.Fatalf("token from login.microsoftonline.com: claims %+v, err %v", claims, err)
	}

	// msgraph-sdk-go with its default base URL, https://graph.microsoft.com/v1.0.
	auth, err := kiotaauth.NewAzureIdentityAuthenticationProviderWithScopes(cred, []string{"https://graph.microsoft.com/.default"})
	if err != nil {
		t.Fatal(err)
	}
	opts := msgraphsdk.GetDefaultClientOptions()
	sdkHTTP := &http.Client{Transport: khttp.NewCustomTransportWithParentTransport(tr, msgraphcore.GetDefaultMiddlewaresWithOptions(&opts)...)}
	adapter, err := msgraphsdk.NewGraphRequestAdapterWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(auth, nil, nil, sdkHTTP)
	if err != nil {
		t.Fatal(err)
	}
	before := s.Stats().Total
	users, err := msgraphsdk.NewGraphServiceClient(adapter).Users().Get(context.Background(), nil)
	if err != nil {
		t.Fatalf("list users on graph.microsoft.com through the proxy: %v", err)
	}
	if len(users.GetValue()) == 0 {
		t.Error("no users from the seeded directory")
	}
	if s.Stats().Total != before+1 {
		t.Errorf("the sandbox counted %d Graph requests, want 1", s.Stats().Total-before)
	}

	// Keep-alive: the second request on the same host reuses the tunnel.
	var reused []bool
	for range 2 {
		trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = append(reused, i.Reused) }}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodGet,
			"https://login.microsoftonline.com/"+s.TenantID()+"/v2.0/.well-known/openid-configuration", nil)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("openid-configuration through the proxy: %d", resp.StatusCode)
		}
	}
	if len(reused) != 2 || !reused[1] {
		t.Errorf("the second request did not reuse the tunnel: %v", reused)
	}
}

// connect opens a tunnel through the proxy with a raw CONNECT and returns the connection and status.
func connect(t *testing.T, s *Server, target string) (net.Conn, *bufio.Reader, int) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.ProxyURL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(time.Minute))
	if _, err := io.WriteString(conn, "CONNECT "+target+" HTTP/1.1\r\nHost: "+target+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		t.Fatalf("CONNECT %s: %v", target, err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
	}
	return conn, br, resp.StatusCode
}

func TestProxy_refusesEverythingElse(t *testing.T) {
	s := startSandbox(t, Options{})
	// A listener the proxy would reach if it ever dialed a refused destination.
	bait, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer bait.Close()
	mainAddr := strings.TrimPrefix(s.GraphEndpoint(), "https://")
	for _, target := range []string{
		"example.com:443",
		"login.microsoftonline.com:80",
		"graph.microsoft.com:8443",
		"graph.microsoft.com.example.com:443",
		"acme.eu.west.goskope.com:443",
		bait.Addr().String(),
		mainAddr,
		"localhost:443",
	} {
		if _, _, status := connect(t, s, target); status != http.StatusForbidden {
			t.Errorf("CONNECT %s: %d, want 403", target, status)
		}
	}
	_ = bait.(*net.TCPListener).SetDeadline(time.Now().Add(200 * time.Millisecond))
	var ne net.Error
	if c, err := bait.Accept(); err == nil {
		c.Close()
		t.Error("the proxy dialed a refused destination")
	} else if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("accept: %v", err)
	}

	// A plain (non-CONNECT) proxy request is refused too, for a served host included.
	tr := proxiedTransport(t, s)
	resp, err := (&http.Client{Transport: tr}).Get("http://graph.microsoft.com/v1.0/users")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("plain proxy request: %d, want 403", resp.StatusCode)
	}
	// An ordinary client sees the refusal as an error.
	if _, err := (&http.Client{Transport: tr}).Get("https://example.com/"); err == nil {
		t.Error("a request to example.com through the proxy succeeded")
	}
}

func TestProxy_servesEveryCloudAndNetskope(t *testing.T) {
	s := startSandbox(t, Options{})
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.CAPEM())
	for _, host := range []string{
		"login.microsoftonline.com", "login.microsoftonline.us", "login.chinacloudapi.cn",
		"graph.microsoft.com", "graph.microsoft.us", "dod-graph.microsoft.us", "microsoftgraph.chinacloudapi.cn",
		"acme.goskope.com", "acme.eu.goskope.com",
	} {
		conn, br, status := connect(t, s, host+":443")
		if status != http.StatusOK {
			t.Errorf("CONNECT %s: %d, want 200", host, status)
			continue
		}
		tc := tls.Client(&bufferedConn{Conn: conn, r: br}, &tls.Config{ServerName: host, RootCAs: pool})
		if err := tc.Handshake(); err != nil {
			t.Errorf("%s: TLS with the sandbox CA: %v", host, err)
		}
		tc.Close()
	}
}

func TestProxy_tunnelServesOnlyItsHost(t *testing.T) {
	s := startSandbox(t, Options{})
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.CAPEM())

	// The TLS name must be the tunnel's host.
	conn, br, status := connect(t, s, "login.microsoftonline.com:443")
	if status != http.StatusOK {
		t.Fatalf("CONNECT: %d", status)
	}
	tc := tls.Client(&bufferedConn{Conn: conn, r: br}, &tls.Config{ServerName: "graph.microsoft.com", RootCAs: pool})
	if err := tc.Handshake(); err == nil {
		t.Error("a tunnel to login.microsoftonline.com completed TLS as graph.microsoft.com")
	}

	// A request inside the tunnel must name the tunnel's host.
	conn, br, _ = connect(t, s, "login.microsoftonline.com:443")
	tc = tls.Client(&bufferedConn{Conn: conn, r: br}, &tls.Config{ServerName: "login.microsoftonline.com", RootCAs: pool})
	if _, err := io.WriteString(tc, "GET /v1.0/users HTTP/1.1\r\nHost: graph.microsoft.com\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(tc), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("request for graph.microsoft.com in a login tunnel: %d, want 421", resp.StatusCode)
	}

	// The admin API is no part of any production host.
	resp, err = (&http.Client{Transport: proxiedTransport(t, s)}).Get("https://graph.microsoft.com/_sandbox/stats")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("admin API through the proxy: %d, want 404", resp.StatusCode)
	}
}

func TestProxy_closeEndsTunnels(t *testing.T) {
	s := startSandbox(t, Options{})
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.CAPEM())
	conn, br, status := connect(t, s, "login.microsoftonline.com:443")
	if status != http.StatusOK {
		t.Fatalf("CONNECT: %d", status)
	}
	tc := tls.Client(&bufferedConn{Conn: conn, r: br}, &tls.Config{ServerName: "login.microsoftonline.com", RootCAs: pool})
	if _, err := io.WriteString(tc, "GET /"+s.TenantID()+"/v2.0/.well-known/openid-configuration HTTP/1.1\r\nHost: login.microsoftonline.com\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	rd := bufio.NewReader(tc)
	resp, err := http.ReadResponse(rd, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("request in the tunnel: %d", resp.StatusCode)
	}

	// The tunnel is idle and kept alive; closing the sandbox must end it.
	s.Close()
	_, err = rd.ReadByte()
	var ne net.Error
	if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
		t.Fatalf("the tunnel survived Close: %v", err)
	}
	if _, err := os.Stat(s.CAFile()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Close left the sandbox directory behind: %v", err)
	}
}
