package provisioning

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// A job's synchronizationSchema as far as the engine reads it: which attributes each directory
// declares, and for each object mapping which expression computes each target attribute. The engine
// evaluates the expression tree (source name, type and parameters), not the expression string: the
// string is how the portal displays the tree. Guess: Entra does the same, since the tree is what
// parseExpression returns and what the portal's editor writes.

type schemaDoc struct {
	Directories []struct {
		Name    string `json:"name"`
		Objects []struct {
			Name       string `json:"name"`
			Attributes []struct {
				Name string `json:"name"`
				Type string `json:"type"`
			} `json:"attributes"`
		} `json:"objects"`
	} `json:"directories"`
	SynchronizationRules []struct {
		ID                  string `json:"id"`
		SourceDirectoryName string `json:"sourceDirectoryName"`
		TargetDirectoryName string `json:"targetDirectoryName"`
		ObjectMappings      []struct {
			Enabled           bool   `json:"enabled"`
			SourceObjectName  string `json:"sourceObjectName"`
			TargetObjectName  string `json:"targetObjectName"`
			AttributeMappings []struct {
				TargetAttributeName string        `json:"targetAttributeName"`
				Source              mappingSource `json:"source"`
				MatchingPriority    int           `json:"matchingPriority"`
			} `json:"attributeMappings"`
		} `json:"objectMappings"`
	} `json:"synchronizationRules"`
}

// mappingSource is Graph's attributeMappingSource: an Attribute (name), a Constant (name is the
// value) or a Function (name) applied to its parameters, in order.
type mappingSource struct {
	Name       string `json:"name"`
	Type       string `json:"type"`
	Parameters []struct {
		Key   string        `json:"key"`
		Value mappingSource `json:"value"`
	} `json:"parameters"`
}

// attrMapping is one attribute mapping of the job's schema: an expression to a SCIM path.
type attrMapping struct {
	target string
	src    mappingSource
	// boolean: the target directory declares the attribute Boolean, so "True"/"False" go as JSON booleans.
	boolean bool
}

// functionArity is the functions the engine evaluates, with their least and most parameters (-1: any).
// Entra has more (Replace, DateFormat, ...); a schema using one is refused on PUT rather than
// evaluated wrongly.
var functionArity = map[string][2]int{
	"Switch":   {2, -1}, // source, default value, then key/value pairs
	"Join":     {2, -1}, // separator, then the values
	"Coalesce": {1, -1},
	"ToLower":  {1, 2}, // source, culture (ignored)
	"ToUpper":  {1, 2},
	"Append":   {2, 2},
}

// attributeOf finds a declared attribute of an object of a directory (names compare case-insensitively, as in Entra).
func (d *schemaDoc) attribute(directory, object, attr string) (typ string, ok bool) {
	for _, dir := range d.Directories {
		if !strings.EqualFold(dir.Name, directory) {
			continue
		}
		for _, o := range dir.Objects {
			if !strings.EqualFold(o.Name, object) {
				continue
			}
			for _, a := range o.Attributes {
				if strings.EqualFold(a.Name, attr) {
					return a.Type, true
				}
			}
		}
	}
	return "", false
}

func (d *schemaDoc) attributeNames(directory, object string) []string {
	var out []string
	for _, dir := range d.Directories {
		for _, o := range dir.Objects {
			if strings.EqualFold(dir.Name, directory) && strings.EqualFold(o.Name, object) {
				for _, a := range o.Attributes {
					out = append(out, a.Name)
				}
			}
		}
	}
	return out
}

// ValidateSchema checks a schema a client PUTs: every attribute mapping's target is declared by the
// target object, every attribute its source names by the source object, every function is one the
// engine evaluates with a fitting number of parameters, and every enabled object mapping has a
// matching attribute. Guess: Entra refuses such a schema with 400 rather than saving it and failing
// the next cycle; the portal refuses the same edits, and refusing is the stricter choice.
func ValidateSchema(raw json.RawMessage) error {
	var d schemaDoc
	if err := json.Unmarshal(raw, &d); err != nil {
		return fmt.Errorf("The schema is not a valid synchronizationSchema: %w", err)
	}
	for _, rule := range d.SynchronizationRules {
		for _, om := range rule.ObjectMappings {
			matching := false
			for _, am := range om.AttributeMappings {
				if _, ok := d.attribute(rule.TargetDirectoryName, om.TargetObjectName, am.TargetAttributeName); !ok {
					return fmt.Errorf("The target attribute '%s' is not an attribute of the object '%s' in the directory '%s': use one of %s.",
						am.TargetAttributeName, om.TargetObjectName, rule.TargetDirectoryName, strings.Join(d.attributeNames(rule.TargetDirectoryName, om.TargetObjectName), ", "))
				}
				if err := am.Source.validate(func(name string) bool {
					_, ok := d.attribute(rule.SourceDirectoryName, om.SourceObjectName, name)
					return ok
				}); err != nil {
					return fmt.Errorf("The attribute mapping of '%s' (object '%s'): %w", am.TargetAttributeName, om.TargetObjectName, err)
				}
				matching = matching || am.MatchingPriority > 0
			}
			if om.Enabled && !matching {
				return fmt.Errorf("The object mapping '%s' -> '%s' has no matching attribute: one attribute mapping needs a matchingPriority of 1.",
					om.SourceObjectName, om.TargetObjectName)
			}
		}
	}
	return nil
}

func (s *mappingSource) validate(declared func(string) bool) error {
	switch s.Type {
	case "Attribute":
		if !declared(s.Name) {
			return fmt.Errorf("the source attribute '%s' is not declared by the source object", s.Name)
		}
	case "Constant":
	case "Function":
		arity, ok := functionArity[s.Name]
		if !ok {
			names := make([]string, 0, len(functionArity))
			for n := range functionArity {
				names = append(names, n)
			}
			slices.Sort(names)
			return fmt.Errorf("the function '%s' is not supported: use one of %s", s.Name, strings.Join(names, ", "))
		}
		if n := len(s.Parameters); n < arity[0] || (arity[1] >= 0 && n > arity[1]) {
			return fmt.Errorf("the function '%s' takes %d to %d parameters, not %d", s.Name, arity[0], arity[1], n)
		}
		for _, p := range s.Parameters {
			if err := p.Value.validate(declared); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("the source type '%s' is not one of Attribute, Constant, Function", s.Type)
	}
	return nil
}

// eval computes the expression for one object; lookup gives a source attribute's value.
func (s *mappingSource) eval(lookup func(string) string) string {
	switch s.Type {
	case "Attribute":
		return lookup(s.Name)
	case "Constant":
		return s.Name
	}
	args := make([]string, len(s.Parameters))
	for i := range s.Parameters {
		args[i] = s.Parameters[i].Value.eval(lookup)
	}
	switch s.Name {
	case "Switch":
		// Switch(source, default, key1, value1, key2, value2, ...): keys compare exactly, as Entra documents.
		for i := 2; i+1 < len(args); i += 2 {
			if args[0] == args[i] {
				return args[i+1]
			}
		}
		return args[1]
	case "Join":
		var parts []string
		for _, a := range args[1:] {
			if a != "" {
				parts = append(parts, a)
			}
		}
		return strings.Join(parts, args[0])
	case "Coalesce":
		for _, a := range args {
			if a != "" {
				return a
			}
		}
	case "ToLower":
		return strings.ToLower(args[0])
	case "ToUpper":
		return strings.ToUpper(args[0])
	case "Append":
		return args[0] + args[1]
	}
	return ""
}

// schemaMappings reads the attribute mappings and rule ids of a job's schema, so edits made with
// PUT .../schema change what the engine sends. members is computed from the directory, not mapped.
func schemaMappings(raw json.RawMessage) (users, groups []attrMapping, rules []string) {
	var d schemaDoc
	if len(raw) == 0 || json.Unmarshal(raw, &d) != nil || len(d.SynchronizationRules) == 0 {
		return defaultUserMappings, defaultGroupMappings, nil
	}
	for _, rule := range d.SynchronizationRules {
		rules = append(rules, rule.ID)
		for _, om := range rule.ObjectMappings {
			if !om.Enabled {
				continue
			}
			var list []attrMapping
			for _, am := range om.AttributeMappings {
				if strings.EqualFold(am.TargetAttributeName, "members") {
					continue
				}
				typ, _ := d.attribute(rule.TargetDirectoryName, om.TargetObjectName, am.TargetAttributeName)
				list = append(list, attrMapping{target: am.TargetAttributeName, src: am.Source, boolean: typ == "Boolean"})
			}
			switch om.SourceObjectName {
			case "User":
				users = append(users, list...)
			case "Group":
				groups = append(groups, list...)
			}
		}
	}
	return users, groups, rules
}

// attribute is a mapping straight from one source attribute, for the defaults.
func attribute(source, target string) attrMapping {
	return attrMapping{target: target, src: mappingSource{Name: source, Type: "Attribute"}}
}

// defaultUserMappings and defaultGroupMappings apply when a job has no readable schema.
var (
	defaultUserMappings = []attrMapping{
		attribute("userPrincipalName", "userName"), attribute("mail", `emails[type eq "work"].value`), attribute("givenName", "name.givenName"),
		attribute("surname", "name.familyName"), attribute("displayName", "displayName"), attribute("objectId", "externalId"),
	}
	defaultGroupMappings = []attrMapping{attribute("displayName", "displayName"), attribute("objectId", "externalId")}
)
