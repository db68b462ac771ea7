package graph

import (
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzParseRetryAfter: any header value is a wait of at most maxRetryAfterSeconds, or no answer (the
// ordinary backoff applies). An HTTP date an hour or more ahead is garbage too, like "86400".
func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"4", "0", "2.128", " 0.5 ", "-1", "NaN", "Inf", "1e9", "3600", "3600.0001", "soon", "",
		"0x10", "1_0", "Mon, 02 Jan 2006 15:04:05 GMT", "Fri, 31 Dec 9999 23:59:59 GMT", "Sun, 06 Nov 1994 08:49:37 GMT",
		"Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", time.Now().Add(time.Minute).UTC().Format(http.TimeFormat)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := parseRetryAfter(v)
		if !ok {
			if d != 0 {
				t.Fatalf("parseRetryAfter(%q) = %v without ok", v, d)
			}
			return
		}
		if d < 0 || d > maxRetryAfterSeconds*time.Second {
			t.Fatalf("parseRetryAfter(%q) = %v, outside [0, %ds]", v, d, maxRetryAfterSeconds)
		}
	})
}

// FuzzErrorFromBody: whatever Graph (or a proxy in front of it) answers, the error is a *Error with
// the answer's status, its text is valid UTF-8 when the body is, and a body that is not Graph's error
// JSON is cut short rather than shown whole.
func FuzzErrorFromBody(f *testing.F) {
	for _, s := range []string{
		`{"error":{"code":"Request_ResourceNotFound","message":"gone","innerError":{"request-id":"r-1"}}}`,
		`{"error":{"code":"UnknownError","message":"{\"Message\":\"bad\",\"Code\":\"InvalidNotificationSettings\"}"}}`,
		`{"error":{"code":"UnknownError","message":"{\"code\":\"\",\"message\":\"\"}"}}`,
		`{"error":{"code":"","message":"x"}}`, `{"error":null}`, `{"error":"x"}`, `[]`, `null`, ``, `<html>Bad gateway</html>`,
		strings.Repeat("é", 200), strings.Repeat("a", 299) + "é",
	} {
		f.Add(400, s, "req-1")
	}
	f.Add(429, `{"error":{"code":"TooManyRequests","message":"slow down"}}`, "")
	f.Add(403, `{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the operation."}}`, "")
	f.Fuzz(func(t *testing.T, status int, body, requestID string) {
		resp := &http.Response{StatusCode: status, Header: http.Header{}}
		resp.Header.Set("request-id", requestID)
		err := errorFromBody(resp, []byte(body), "save the provisioning settings", "service principal x", PermSynchronization)
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("not a *Error: %v", err)
		}
		if e.Status != status {
			t.Fatalf("status %d, want %d", e.Status, status)
		}
		text := e.Error()
		if !strings.HasPrefix(text, "could not save the provisioning settings (service principal x): Microsoft Graph answered ") {
			t.Fatalf("error text %q", text)
		}
		if utf8.ValidString(body) && utf8.ValidString(requestID) && !utf8.ValidString(text) {
			t.Fatalf("a valid UTF-8 body gave an invalid UTF-8 error: %q", text)
		}
		if len(e.Message) > len(body)+3 {
			t.Fatalf("the message %q is longer than the body %q", e.Message, body)
		}
		if (status == http.StatusForbidden) != (e.Permission != "") {
			t.Fatalf("status %d, permission %q", status, e.Permission)
		}
	})
}

// FuzzParseExpression: an attribute-mapping expression either fails with a message naming it, or
// parses to a source that renders back to an expression parsing to the same source.
func FuzzParseExpression(f *testing.F) {
	for _, s := range []string{
		`[userPrincipalName]`, `"x \"quoted\""`, `"back\\slash"`, `Switch([IsSoftDeleted], , "False", "True", "True", "False")`,
		`Join(" ", [givenName], [surname])`, `ToLower(Coalesce([mail], [userPrincipalName]))`, `Guid()`, `F("")`, `F(,)`,
		`F( , "")`, ``, `[mail`, `"open`, `mail`, `Join([a] [b])`, `ToLower([mail]`, `[]`, `[mail] x`, "F(\r)", `"\`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		s, err := ParseExpression(expr)
		if err != nil {
			if !strings.Contains(err.Error(), "is not a valid expression") {
				t.Fatalf("error %q does not say what is wrong", err)
			}
			return
		}
		out := s.Expression()
		again, err := ParseExpression(out)
		if err != nil {
			t.Fatalf("%q parses, but its rendering %q does not: %v", expr, out, err)
		}
		if !reflect.DeepEqual(s, again) {
			t.Fatalf("%q parses to %+v, its rendering %q to %+v", expr, s, out, again)
		}
		_ = s.Attributes()
		_ = s.Functions()
	})
}

// FuzzParseClientCertificateBase64: client_certificate is base64 of the bundle, with surrounding
// whitespace allowed; the error never repeats the value (it may be a private key).
func FuzzParseClientCertificateBase64(f *testing.F) {
	for _, s := range []string{"eA==", " eA==\n", "%%%", "", "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0t", "eA"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		b, err := ParseClientCertificateBase64(v)
		if err != nil {
			if strings.TrimSpace(v) != "" && len(strings.TrimSpace(v)) > 3 && strings.Contains(err.Error(), strings.TrimSpace(v)) {
				t.Fatalf("the error repeats the value: %v", err)
			}
			return
		}
		if len(b) > len(v) {
			t.Fatalf("%d bytes decoded from %d characters", len(b), len(v))
		}
	})
}
