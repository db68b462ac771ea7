package graph

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
)

// Error is a failed Graph call, in terms a person can act on: what was being done, to what, what
// Graph said (status, code, message, request-id), and what to do about it.
type Error struct {
	Op      string // "create the synchronization job"
	Object  string // "service principal 3f2c..."
	Status  int
	Code    string
	Message string
	// OuterCode is Graph's own code when Code and Message were unpacked from a service error inside
	// Graph's message (see unpackServiceError); "" otherwise.
	OuterCode string
	RequestID string
	// Hint says what to do next (for 403: the permission to grant).
	Hint string
	// Permission is, on a 403, the application permission the call needs, as the Perm* constants
	// name it (the least-privilege one first, then what else works); empty otherwise.
	Permission string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("could not ")
	b.WriteString(e.Op)
	if e.Object != "" {
		b.WriteString(" (")
		b.WriteString(e.Object)
		b.WriteString(")")
	}
	fmt.Fprintf(&b, ": Microsoft Graph answered %d", e.Status)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.RequestID != "" {
		b.WriteString(" (request-id " + e.RequestID + ")")
	}
	if e.Hint != "" {
		b.WriteString(". " + e.Hint)
	}
	return b.String()
}

// IsNotFound reports whether err is Graph's 404.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

// StatusOf returns the HTTP status of a Graph error, or 0.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// wrap turns an SDK or transport error into *Error. permission names what a 403 needs.
func wrap(err error, op, object, permission string) error {
	if err == nil {
		return nil
	}
	var ge *Error
	if errors.As(err, &ge) {
		return err
	}
	e := &Error{Op: op, Object: object}
	var odata *odataerrors.ODataError
	if errors.As(err, &odata) {
		e.Status = odata.ResponseStatusCode
		if main := odata.GetErrorEscaped(); main != nil {
			e.Code = deref(main.GetCode())
			e.Message = deref(main.GetMessage())
			if inner := main.GetInnerError(); inner != nil {
				e.RequestID = deref(inner.GetRequestId())
			}
		}
	} else {
		return fmt.Errorf("could not %s (%s): %w", op, object, err)
	}
	e.unpackServiceError()
	e.explain(permission)
	return e
}

// explain sets what to do next, given the permission the call needs.
func (e *Error) explain(permission string) {
	e.Hint = hintFor(e.Status, permission)
	if e.Status == http.StatusForbidden {
		e.Permission = permission
	}
}

// PermissionDenied returns the Graph error when err is a 403 whose needed permission is known.
func PermissionDenied(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) && e.Status == http.StatusForbidden && e.Permission != "" {
		return e, true
	}
	return nil, false
}

// PermissionName is the permission to grant first, from a Perm* constant: its first word.
func PermissionName(permission string) string {
	name, _, _ := strings.Cut(permission, " ")
	return name
}

// unpackServiceError reads the error of a service behind Graph out of Graph's message. Entra's
// synchronization service answers with Graph's code UnknownError (or another generic code) and its
// own error serialized as JSON in the message, e.g.
// {"Message":"...","Code":"InvalidNotificationSettings","Target":null,"Details":null,...}
// (microsoftgraph/msgraph-metadata issue 347). That inner code and message are what a person can act on.
func (e *Error) unpackServiceError() {
	m := strings.TrimSpace(e.Message)
	if !strings.HasPrefix(m, "{") {
		return
	}
	// encoding/json matches member names case-insensitively: Code and code alike.
	var inner struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	if json.Unmarshal([]byte(m), &inner) != nil || (inner.Code == "" && inner.Message == "") {
		return
	}
	if inner.Code != "" {
		e.OuterCode, e.Code = e.Code, inner.Code
	}
	e.Message = inner.Message
}

func hintFor(status int, permission string) string {
	switch status {
	case http.StatusForbidden:
		if permission != "" {
			return "Grant the application permission " + permission + " to the client and give admin consent"
		}
		return "The client lacks a Graph permission for this call"
	case http.StatusUnauthorized:
		return "The access token was refused: check tenant_id, client_id and the credential"
	case http.StatusTooManyRequests:
		return "Graph kept throttling past the retry budget: try again later or with lower parallelism"
	}
	return ""
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
