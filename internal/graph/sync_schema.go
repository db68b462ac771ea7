package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// A synchronization schema (attribute mappings) of a provisioning job or its template. Graph's
// synchronizationSchema carries much the provider never changes (directory metadata, scoping filters,
// flow settings); PUT replaces the whole schema, so the document is kept as read and only the
// mappings the provider sets are changed in it. The SDK's Schema().Patch() answers 404 in Entra, so
// every write is a raw PUT.

// Source object names of the schema's object mappings.
const (
	SchemaUser  = "User"
	SchemaGroup = "Group"
)

// MappingSource is Graph's attributeMappingSource: an Attribute (Name), a Constant (Name is the
// value) or a Function (Name) of Args.
type MappingSource struct {
	Type string // Attribute | Constant | Function
	Name string
	Args []MappingSource
}

// Attribute, Constant: the two plain sources.
func Attribute(name string) MappingSource { return MappingSource{Type: "Attribute", Name: name} }
func Constant(v string) MappingSource     { return MappingSource{Type: "Constant", Name: v} }

// Expression renders the source in Entra's expression syntax: [attribute], "constant", Fn(a, b).
func (s MappingSource) Expression() string { return s.render(false) }

func (s MappingSource) render(arg bool) string {
	switch s.Type {
	case "Attribute":
		return "[" + s.Name + "]"
	case "Function":
		args := make([]string, len(s.Args))
		for i, a := range s.Args {
			args[i] = a.render(len(s.Args) > 1)
		}
		return s.Name + "(" + strings.Join(args, ", ") + ")"
	}
	if arg && s.Name == "" {
		// An empty argument, as in the template's Switch([IsSoftDeleted], , "False", ...). A lone
		// argument is written "", since F() is a call without arguments.
		return ""
	}
	// Entra's syntax escapes a quote and a backslash inside a constant with a backslash.
	return `"` + constantEscaper.Replace(s.Name) + `"`
}

var constantEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`)

// Attributes lists the source attributes the expression reads.
func (s MappingSource) Attributes() []string {
	if s.Type == "Attribute" {
		return []string{s.Name}
	}
	var out []string
	for _, a := range s.Args {
		out = append(out, a.Attributes()...)
	}
	return out
}

// Functions lists the functions the expression calls.
func (s MappingSource) Functions() []string {
	var out []string
	if s.Type == "Function" {
		out = append(out, s.Name)
	}
	for _, a := range s.Args {
		out = append(out, a.Functions()...)
	}
	return out
}

// ExpressionFunctions are the functions of Entra's attribute-mapping expressions (Microsoft's "Reference
// for writing expressions for attribute mappings").
var ExpressionFunctions = []string{"Append", "AppRoleAssignmentsComplex", "BitAnd", "CBool", "CDate", "Coalesce",
	"ConvertToBase64", "ConvertToUTF8Hex", "Count", "CStr", "DateAdd", "DateDiff", "DateFromNum", "FormatDateTime",
	"Guid", "IgnoreFlowIfNullOrEmpty", "IIF", "InStr", "IsNull", "IsNullOrEmpty", "IsPresent", "IsString", "Item",
	"Join", "Left", "Mid", "NormalizeDiacritics", "Not", "Now", "NumFromDate", "PCase", "RandomString", "Redact",
	"RemoveDuplicates", "Replace", "SelectUniqueValue", "SingleAppRoleAssignment", "Split", "StripSpaces", "Switch",
	"ToLower", "ToUpper", "Word"}

// ParseExpression reads an expression in Entra's syntax into its source tree.
func ParseExpression(expr string) (MappingSource, error) {
	p := &exprParser{in: expr}
	s, err := p.source(false)
	if err == nil {
		p.space()
		if p.pos < len(p.in) {
			err = fmt.Errorf("unexpected %q at position %d", p.in[p.pos:], p.pos+1)
		}
	}
	if err != nil {
		return MappingSource{}, fmt.Errorf("%q is not a valid expression (write [attribute], \"constant\" or Function(arguments)): %w", expr, err)
	}
	return s, nil
}

type exprParser struct {
	in  string
	pos int
}

func (p *exprParser) space() {
	for p.pos < len(p.in) && (p.in[p.pos] == ' ' || p.in[p.pos] == '\t' || p.in[p.pos] == '\n') {
		p.pos++
	}
}

func (p *exprParser) source(arg bool) (MappingSource, error) {
	p.space()
	if p.pos >= len(p.in) {
		return MappingSource{}, fmt.Errorf("the expression ends too early")
	}
	switch c := p.in[p.pos]; {
	case arg && (c == ',' || c == ')'):
		return Constant(""), nil
	case c == '[':
		end := strings.IndexByte(p.in[p.pos:], ']')
		if end < 2 {
			return MappingSource{}, fmt.Errorf("an attribute needs a name and a closing ] at position %d", p.pos+1)
		}
		name := p.in[p.pos+1 : p.pos+end]
		p.pos += end + 1
		return Attribute(name), nil
	case c == '"':
		var b strings.Builder
		for i := p.pos + 1; i < len(p.in); i++ {
			switch {
			case p.in[i] == '\\' && i+1 < len(p.in):
				i++
				b.WriteByte(p.in[i])
			case p.in[i] == '"':
				p.pos = i + 1
				return Constant(b.String()), nil
			default:
				b.WriteByte(p.in[i])
			}
		}
		return MappingSource{}, fmt.Errorf("a string starting at position %d has no closing quote", p.pos+1)
	}
	start := p.pos
	for p.pos < len(p.in) && (isIdentChar(p.in[p.pos])) {
		p.pos++
	}
	name := p.in[start:p.pos]
	p.space()
	if name == "" || p.pos >= len(p.in) || p.in[p.pos] != '(' {
		return MappingSource{}, fmt.Errorf("expected [attribute], \"constant\" or Function( at position %d", start+1)
	}
	p.pos++
	fn := MappingSource{Type: "Function", Name: name}
	p.space()
	if p.pos < len(p.in) && p.in[p.pos] == ')' {
		p.pos++
		return fn, nil
	}
	for {
		a, err := p.source(true)
		if err != nil {
			return MappingSource{}, err
		}
		fn.Args = append(fn.Args, a)
		p.space()
		if p.pos >= len(p.in) {
			return MappingSource{}, fmt.Errorf("%s( has no closing )", name)
		}
		if p.in[p.pos] == ')' {
			p.pos++
			return fn, nil
		}
		if p.in[p.pos] != ',' {
			return MappingSource{}, fmt.Errorf("expected , or ) at position %d", p.pos+1)
		}
		p.pos++
	}
}

func isIdentChar(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// parameterKey is the key Graph gives the i-th parameter of a function (the portal writes these).
func parameterKey(fn string, i int) string {
	switch {
	case fn == "Switch" && i == 1:
		return "defaultValue"
	case fn == "Switch" && i > 1 && i%2 == 0:
		return "key"
	case fn == "Switch" && i > 1:
		return "value"
	case fn == "Join" && i == 0:
		return "separator"
	}
	return "source"
}

func (s MappingSource) toJSON() map[string]any {
	params := []any{}
	for i, a := range s.Args {
		params = append(params, map[string]any{"key": parameterKey(s.Name, i), "value": a.toJSON()})
	}
	return map[string]any{"expression": s.Expression(), "name": s.Name, "type": s.Type, "parameters": params}
}

func sourceFromJSON(v any) MappingSource {
	m, _ := v.(map[string]any)
	s := MappingSource{Type: str(m["type"]), Name: str(m["name"])}
	if s.Type == "" {
		// No tree, only the expression string: read it.
		if parsed, err := ParseExpression(str(m["expression"])); err == nil {
			return parsed
		}
	}
	params, _ := m["parameters"].([]any)
	for _, p := range params {
		pm, _ := p.(map[string]any)
		s.Args = append(s.Args, sourceFromJSON(pm["value"]))
	}
	return s
}

func str(v any) string { s, _ := v.(string); return s }

// AttributeMapping is one attribute mapping of an object mapping.
type AttributeMapping struct {
	Target string
	Source MappingSource
}

// JobSchema is a job's (or a template's) synchronization schema, kept whole as Graph returned it.
type JobSchema struct{ doc map[string]any }

func (s *JobSchema) clone() map[string]any {
	b, _ := json.Marshal(s.doc)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

// Clone is an independent copy, to change without touching s.
func (s *JobSchema) Clone() *JobSchema { return &JobSchema{doc: s.clone()} }

func list(v any) []any { l, _ := v.([]any); return l }

// objectMappings visits every object mapping with the given source object name and the names of the
// directories of its rule.
func (s *JobSchema) objectMappings(object string, f func(om map[string]any, sourceDir, targetDir string)) {
	for _, r := range list(s.doc["synchronizationRules"]) {
		rule, _ := r.(map[string]any)
		for _, o := range list(rule["objectMappings"]) {
			if om, _ := o.(map[string]any); om != nil && str(om["sourceObjectName"]) == object {
				f(om, str(rule["sourceDirectoryName"]), str(rule["targetDirectoryName"]))
			}
		}
	}
}

// Mappings are the attribute mappings of the object mappings from the source object ("User", "Group").
func (s *JobSchema) Mappings(object string) []AttributeMapping {
	var out []AttributeMapping
	s.objectMappings(object, func(om map[string]any, _, _ string) {
		for _, a := range list(om["attributeMappings"]) {
			am, _ := a.(map[string]any)
			out = append(out, AttributeMapping{Target: str(am["targetAttributeName"]), Source: sourceFromJSON(am["source"])})
		}
	})
	return out
}

// SetSource makes target's mapping take src, adding a mapping when target has none.
func (s *JobSchema) SetSource(object, target string, src MappingSource) {
	s.objectMappings(object, func(om map[string]any, _, _ string) {
		mappings := list(om["attributeMappings"])
		for _, a := range mappings {
			if am, _ := a.(map[string]any); strings.EqualFold(str(am["targetAttributeName"]), target) {
				am["source"] = src.toJSON()
				return
			}
		}
		om["attributeMappings"] = append(mappings, map[string]any{"targetAttributeName": target, "source": src.toJSON(),
			"defaultValue": "", "exportMissingReferences": false, "flowBehavior": "FlowWhenChanged", "flowType": "Always", "matchingPriority": 0})
	})
}

// attributes are the attributes the directory declares for an object.
func (s *JobSchema) attributes(directory, object string) []string {
	var out []string
	for _, d := range list(s.doc["directories"]) {
		dir, _ := d.(map[string]any)
		for _, o := range list(dir["objects"]) {
			obj, _ := o.(map[string]any)
			if !strings.EqualFold(str(dir["name"]), directory) || !strings.EqualFold(str(obj["name"]), object) {
				continue
			}
			for _, a := range list(obj["attributes"]) {
				am, _ := a.(map[string]any)
				out = append(out, str(am["name"]))
			}
		}
	}
	return out
}

// DeclaredAttributes are the attributes the schema's directories declare for the object mappings
// from the source object: what a mapping may read (source) and write (target).
func (s *JobSchema) DeclaredAttributes(object string) (source, target []string) {
	s.objectMappings(object, func(om map[string]any, sourceDir, targetDir string) {
		source = append(source, s.attributes(sourceDir, object)...)
		target = append(target, s.attributes(targetDir, str(om["targetObjectName"]))...)
	})
	slices.Sort(source)
	slices.Sort(target)
	return slices.Compact(source), slices.Compact(target)
}

func (c *Client) getSchema(ctx context.Context, path, op, object string) (*JobSchema, error) {
	var doc map[string]any
	if err := c.raw(ctx, http.MethodGet, path, nil, &doc, op, object, PermSynchronization); err != nil {
		return nil, err
	}
	delete(doc, "@odata.context")
	return &JobSchema{doc: doc}, nil
}

// GetJobSchema reads a provisioning job's schema (its attribute mappings).
func (c *Client) GetJobSchema(ctx context.Context, spID, jobID string) (*JobSchema, error) {
	return c.getSchema(ctx, "servicePrincipals/"+spID+"/synchronization/jobs/"+jobID+"/schema",
		"read the attribute mappings", "provisioning job "+jobID)
}

// GetTemplateSchema reads the schema of a synchronization template: the app's default mappings.
func (c *Client) GetTemplateSchema(ctx context.Context, spID, templateID string) (*JobSchema, error) {
	return c.getSchema(ctx, "servicePrincipals/"+spID+"/synchronization/templates/"+templateID+"/schema",
		"read the default attribute mappings", "synchronization template "+templateID)
}

// PutJobSchema replaces a job's whole schema.
func (c *Client) PutJobSchema(ctx context.Context, spID, jobID string, s *JobSchema) error {
	doc := s.clone()
	// The id is the job's; a template's schema carries the template's.
	delete(doc, "id")
	return c.raw(ctx, http.MethodPut, "servicePrincipals/"+spID+"/synchronization/jobs/"+jobID+"/schema", doc, nil,
		"save the attribute mappings", "provisioning job "+jobID, PermSynchronization)
}

// ResetJobSchema gives a job its template's schema back, with the PUT Graph documents (the sandbox
// also answers a DELETE of the schema, which Graph does not document).
func (c *Client) ResetJobSchema(ctx context.Context, spID, jobID string, template *JobSchema) error {
	return c.PutJobSchema(ctx, spID, jobID, template)
}
