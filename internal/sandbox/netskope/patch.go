package netskope

import (
	"maps"
	"slices"
	"strings"

	"github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	scimfilter "github.com/elimity-com/scim/filter"
	"github.com/elimity-com/scim/schema"
	"github.com/scim2/filter-parser/v2"
)

// applyPatch applies operations the library has parsed and validated against the schema (op names
// are already lower-cased, so Entra's "Add"/"Replace"/"Remove" arrive as RFC 7644 ops).
func applyPatch(rec *record, rt scim.ResourceType, ops []scim.PatchOperation) error {
	for _, op := range ops {
		if err := applyOp(rec, rt, op.Op, op.Path, op.Value); err != nil {
			return err
		}
	}
	return nil
}

func applyOp(rec *record, rt scim.ResourceType, op string, path *filter.Path, value any) error {
	if path == nil {
		if op == scim.PatchOperationRemove {
			return scimerrors.ScimErrorNoTarget
		}
		values, ok := value.(map[string]any)
		if !ok {
			return scimerrors.ScimErrorInvalidValue
		}
		// In a stable order, so a path-less operation that fails fails the same way every time.
		for _, key := range slices.Sorted(maps.Keys(values)) {
			if ext := extensionSchema(rt, key); ext != nil {
				sub, _ := values[key].(map[string]any)
				for _, k := range slices.Sorted(maps.Keys(sub)) {
					p := filter.Path{AttributePath: filter.AttributePath{URIPrefix: &ext.ID, AttributeName: k}}
					if err := applyOp(rec, rt, op, &p, sub[k]); err != nil {
						return err
					}
				}
				continue
			}
			p, err := filter.ParsePath([]byte(key))
			if err != nil {
				return scimerrors.ScimErrorInvalidPath
			}
			if err := applyOp(rec, rt, op, &p, values[key]); err != nil {
				return err
			}
		}
		return nil
	}

	ap := path.AttributePath
	if strings.EqualFold(ap.AttributeName, "externalId") && ap.URI() == "" {
		switch op {
		case scim.PatchOperationRemove:
			rec.externalID, rec.hasExtID = "", false
		default:
			s, ok := value.(string)
			if !ok {
				return scimerrors.ScimErrorInvalidValue
			}
			rec.externalID, rec.hasExtID = s, true
		}
		return nil
	}
	container, attr, err := patchTarget(rec, rt, ap, op != scim.PatchOperationRemove)
	if err != nil {
		return err
	}
	if container == nil { // removing from an absent extension
		return nil
	}
	name := attr.Name()
	if attr.Mutability() == "readOnly" {
		return scimerrors.ScimErrorMutability
	}

	if path.ValueExpression != nil {
		return applyFiltered(container, attr, op, path, value)
	}
	if sub := ap.SubAttributeName(); sub != "" {
		cm, _ := container[name].(map[string]any)
		switch op {
		case scim.PatchOperationRemove:
			if cm != nil {
				delete(cm, canonicalSub(attr, sub))
				if len(cm) == 0 {
					delete(container, name)
				}
			}
		default:
			if cm == nil {
				cm = map[string]any{}
				container[name] = cm
			}
			cm[canonicalSub(attr, sub)] = value
		}
		return nil
	}
	if !attr.MultiValued() {
		switch op {
		case scim.PatchOperationRemove:
			delete(container, name)
		case scim.PatchOperationAdd:
			// Adding to a complex attribute merges its sub-attributes (RFC 7644 3.5.2.1).
			if nv, ok := value.(map[string]any); ok {
				cm, _ := container[name].(map[string]any)
				if cm == nil {
					cm = map[string]any{}
				}
				for k, v := range nv {
					cm[k] = v
				}
				container[name] = cm
				return nil
			}
			container[name] = value
		default:
			container[name] = value
		}
		return nil
	}
	list, _ := container[name].([]any)
	values, _ := value.([]any)
	switch op {
	case scim.PatchOperationAdd:
		for _, v := range values {
			if !containsValue(list, v) {
				list = append(list, v)
			}
		}
		container[name] = list
	case scim.PatchOperationReplace:
		container[name] = values
	case scim.PatchOperationRemove:
		if value == nil {
			delete(container, name)
			return nil
		}
		// Entra removes members by listing them in value: [{"value":"<id>"}].
		drop := map[string]bool{}
		for _, v := range values {
			if vm, ok := v.(map[string]any); ok {
				if id, ok := vm["value"].(string); ok {
					drop[id] = true
				}
			}
		}
		container[name] = withoutMembers(list, drop)
		if len(container[name].([]any)) == 0 {
			delete(container, name)
		}
	}
	return nil
}

// applyFiltered handles value-selection paths such as emails[type eq "work"].value and
// members[value eq "<id>"].
func applyFiltered(container map[string]any, attr schema.CoreAttribute, op string, path *filter.Path, value any) error {
	name := attr.Name()
	list, _ := container[name].([]any)
	v := scimfilter.NewFilterValidator(path.ValueExpression, schema.Schema{Attributes: scimfilter.MultiValuedFilterAttributes(attr)})
	var matched []int
	for i, e := range list {
		if em, ok := e.(map[string]any); ok && v.PassesFilter(em) == nil {
			matched = append(matched, i)
		}
	}
	sub := path.SubAttributeName()
	if op == scim.PatchOperationRemove {
		if sub == "" {
			var kept []any
			for i, e := range list {
				if !slices.Contains(matched, i) {
					kept = append(kept, e)
				}
			}
			if len(kept) == 0 {
				delete(container, name)
			} else {
				container[name] = kept
			}
			return nil
		}
		for _, i := range matched {
			delete(list[i].(map[string]any), canonicalSub(attr, sub))
		}
		return nil
	}
	if len(matched) == 0 {
		// Entra adds a value it has not written before with Add on a filtered path
		// (emails[type eq "work"].value); that creates the element the filter describes. Replace
		// needs something to replace (RFC 7644 3.5.2.3).
		e, ok := path.ValueExpression.(*filter.AttributeExpression)
		if op != scim.PatchOperationAdd || !ok || e.Operator != filter.EQ {
			return scimerrors.ScimErrorNoTarget
		}
		elem := map[string]any{canonicalSub(attr, e.AttributePath.AttributeName): e.CompareValue}
		list = append(list, elem)
		container[name] = list
		matched = []int{len(list) - 1}
	}
	for _, i := range matched {
		em := list[i].(map[string]any)
		if sub != "" {
			em[canonicalSub(attr, sub)] = value
			continue
		}
		nv, ok := value.(map[string]any)
		if !ok {
			return scimerrors.ScimErrorInvalidValue
		}
		if op == scim.PatchOperationReplace {
			list[i] = nv
			continue
		}
		for k, val := range nv {
			em[k] = val
		}
	}
	return nil
}

// patchTarget finds the map that holds the attribute a path names (the resource, or the extension
// object nested under its schema URI) and the attribute's definition.
func patchTarget(rec *record, rt scim.ResourceType, ap filter.AttributePath, create bool) (map[string]any, schema.CoreAttribute, error) {
	sch := rt.Schema
	container := rec.attrs
	if uri := ap.URI(); uri != "" && uri != rt.Schema.ID {
		ext := extensionSchema(rt, uri)
		if ext == nil {
			return nil, schema.CoreAttribute{}, scimerrors.ScimErrorInvalidPath
		}
		sch = *ext
		em, _ := rec.attrs[ext.ID].(map[string]any)
		if em == nil {
			if !create {
				attr, ok := sch.Attributes.ContainsAttribute(ap.AttributeName)
				if !ok {
					return nil, schema.CoreAttribute{}, scimerrors.ScimErrorInvalidPath
				}
				return nil, attr, nil
			}
			em = map[string]any{}
			rec.attrs[ext.ID] = em
		}
		container = em
	}
	attr, ok := sch.Attributes.ContainsAttribute(ap.AttributeName)
	if !ok {
		return nil, schema.CoreAttribute{}, scimerrors.ScimErrorInvalidPath
	}
	return container, attr, nil
}

func extensionSchema(rt scim.ResourceType, uri string) *schema.Schema {
	for _, e := range rt.SchemaExtensions {
		if strings.EqualFold(e.Schema.ID, uri) {
			s := e.Schema
			return &s
		}
	}
	return nil
}

func canonicalSub(attr schema.CoreAttribute, name string) string {
	for _, s := range attr.SubAttributes() {
		if strings.EqualFold(s.Name(), name) {
			return s.Name()
		}
	}
	return name
}

// containsValue reports whether list already holds v; complex values compare by their "value".
func containsValue(list []any, v any) bool {
	vm, ok := v.(map[string]any)
	for _, e := range list {
		if ok {
			if em, isMap := e.(map[string]any); isMap && vm["value"] != nil && em["value"] == vm["value"] {
				return true
			}
			continue
		}
		if e == v {
			return true
		}
	}
	return false
}
