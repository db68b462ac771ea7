package odata

import (
	"fmt"
	"net/http"
	"strings"
)

// Kind is a property's EDM type, as far as $filter and $select care.
type Kind int

const (
	String Kind = iota
	Bool
	// GUID properties (appRoleAssignment.principalId, ...) take unquoted GUID literals, as in OData.
	GUID
	// DateTime properties (Edm.DateTimeOffset) take unquoted RFC 3339 literals: 2024-01-31T00:00:00Z.
	DateTime
	// StringCollection properties (tags, categories) are filtered through a lambda: tags/any(t:t eq 'x').
	StringCollection
	// Complex properties (appRoles, passwordProfile) can be selected, never filtered.
	Complex
)

func (k Kind) edm() string {
	switch k {
	case Bool:
		return "Edm.Boolean"
	case GUID:
		return "Edm.Guid"
	case DateTime:
		return "Edm.DateTimeOffset"
	case StringCollection:
		return "Collection(Edm.String)"
	case Complex:
		return "Edm.ComplexType"
	}
	return "Edm.String"
}

// Ops is a set of $filter operators.
type Ops uint16

const (
	Eq Ops = 1 << iota
	Ne
	In
	StartsWith
	EndsWith
	Contains
	// Any allows the lambda prop/any(v: ...); the comparisons inside need their own bits on prop.
	Any
	// Not allows `not (...)` around clauses on the property.
	Not
	Gt
	Ge
	Lt
	Le
)

// Common operator sets.
const (
	// Basic is what a directory string property takes without advanced queries.
	Basic = Eq | In | StartsWith
	// AdvancedOps is what directory properties add under ConsistencyLevel: eventual and $count=true.
	AdvancedOps = Ne | Not | EndsWith
	// Range is gt, ge, lt and le.
	Range = Gt | Ge | Lt | Le
)

// Property is one property of an entity type. A Name with a slash ("servicePrincipal/id") is a
// property of a complex property, which $filter names as a path; $select takes only the complex
// property itself.
type Property struct {
	Name string
	Kind Kind
	// Filter is the operators $filter takes on the property in any request.
	Filter Ops
	// AdvancedFilter is the operators it takes only as an advanced query (ConsistencyLevel: eventual
	// and $count=true, on a schema with Advanced set). A property with neither is not filterable.
	AdvancedFilter Ops
}

// Schema configures the engine for one collection.
type Schema struct {
	// TypeName is the type as "Could not find a property" errors spell it
	// (Microsoft.DirectoryServices.User, microsoft.graph.applicationTemplate).
	TypeName string
	// Resource is the short name in "Unsupported or invalid query filter clause" errors (User).
	Resource   string
	Properties []Property
	// Defaults are the properties rendered without $select; nil renders every property the caller
	// rendered (applications, service principals, templates).
	Defaults []string
	// SelectKeepsID keeps id in every $select projection (the sandbox's app collections always did).
	SelectKeepsID bool
	// DefaultTop is the page size without $top (100); MaxTop the largest $top (999); MaxOr the most
	// alternatives of an `or` chain or `in` list (15). Zero takes those values.
	DefaultTop, MaxTop, MaxOr int
	// Advanced says the collection supports advanced queries: $count and AdvancedFilter operators
	// under `ConsistencyLevel: eventual`. Without it $count=true is refused and AdvancedFilter
	// operators are refused like unsupported ones.
	Advanced bool
	// AllowSkip accepts $skip (application templates); elsewhere it is 400, as on directory objects.
	AllowSkip bool
	// CaseSensitive compares strings in $filter with their case (the audit logs: "The filters are all
	// case sensitive"); the directory ignores case.
	CaseSensitive bool

	byName map[string]int // lower-case name -> index in Properties
}

// NewSchema indexes s's properties case-insensitively and fills zero limits with Graph's. It panics
// on a duplicate property or a default that names no property: schemas are static tables.
func NewSchema(s Schema) *Schema {
	out := s
	out.Properties = append([]Property(nil), s.Properties...)
	out.byName = make(map[string]int, len(s.Properties))
	for i, p := range out.Properties {
		k := strings.ToLower(p.Name)
		if _, dup := out.byName[k]; dup {
			panic(fmt.Sprintf("odata: %s: duplicate property %s", s.TypeName, p.Name))
		}
		out.byName[k] = i
	}
	for _, d := range s.Defaults {
		if _, ok := out.byName[strings.ToLower(d)]; !ok {
			panic(fmt.Sprintf("odata: %s: default property %s is not a property", s.TypeName, d))
		}
	}
	if out.DefaultTop == 0 {
		out.DefaultTop = 100
	}
	if out.MaxTop == 0 {
		out.MaxTop = 999
	}
	if out.MaxOr == 0 {
		out.MaxOr = 15
	}
	return &out
}

// Property finds a property by name, without regard to case, as Graph does.
func (s *Schema) Property(name string) (Property, bool) {
	p := s.lookup(name)
	if p == nil {
		return Property{}, false
	}
	return *p, true
}

func (s *Schema) lookup(name string) *Property {
	i, ok := s.byName[strings.ToLower(name)]
	if !ok {
		return nil
	}
	return &s.Properties[i]
}

// Error is a 4xx answer to a malformed or unsupported query, with Graph's status, code and message.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func errorf(code, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Graph's codes and messages for query errors.
const (
	codeBadRequest  = "BadRequest"
	codeRequestBad  = "Request_BadRequest"
	codeUnsupported = "Request_UnsupportedQuery"
	codeExpiredPage = "Directory_ExpiredPageToken"
)

func (s *Schema) unknownProperty(name string) *Error {
	return errorf(codeRequestBad, "Could not find a property named '%s' on type '%s'.", name, s.TypeName)
}

func (s *Schema) unsupportedClause(prop string) *Error {
	return errorf(codeUnsupported, "Unsupported or invalid query filter clause specified for property '%s' of resource '%s'.", prop, s.Resource)
}
