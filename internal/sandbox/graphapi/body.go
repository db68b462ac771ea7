package graphapi

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// bodyFields decodes a JSON object body and rejects properties the resource does not declare.
func (c *gctx) bodyFields(allowed ...string) (map[string]json.RawMessage, bool) {
	var m map[string]json.RawMessage
	if !c.decode(&m) {
		return nil, false
	}
	if m == nil {
		c.badRequest("Empty Payload. JSON content expected.")
		return nil, false
	}
	keys := slices.Sorted(maps.Keys(m))
	for _, k := range keys {
		if strings.HasPrefix(k, "@odata.") || slices.Contains(allowed, k) {
			continue
		}
		c.badRequest(fmt.Sprintf("Property '%s' does not exist as a declared property or extension property.", k))
		return nil, false
	}
	return m, true
}

func (c *gctx) invalidProp(prop, resource string) {
	c.badRequest(fmt.Sprintf("Invalid value specified for property '%s' of resource '%s'.", prop, resource))
}

func isJSONNull(raw json.RawMessage) bool { return strings.TrimSpace(string(raw)) == "null" }

// jsonStr reads a string property; required ones reject null and blank values.
func (c *gctx) jsonStr(m map[string]json.RawMessage, prop, resource string, required bool, maxLen int) (val *string, present, ok bool) {
	raw, present := m[prop]
	if !present {
		if required {
			c.invalidProp(prop, resource)
			return nil, false, false
		}
		return nil, false, true
	}
	if isJSONNull(raw) {
		if required {
			c.invalidProp(prop, resource)
			return nil, true, false
		}
		return nil, true, true
	}
	var v string
	if json.Unmarshal(raw, &v) != nil || (required && strings.TrimSpace(v) == "") || len([]rune(v)) > maxLen {
		c.invalidProp(prop, resource)
		return nil, true, false
	}
	return &v, true, true
}

func (c *gctx) jsonBool(m map[string]json.RawMessage, prop, resource string, required bool) (val, present, ok bool) {
	raw, present := m[prop]
	if !present {
		if required {
			c.invalidProp(prop, resource)
			return false, false, false
		}
		return false, false, true
	}
	if json.Unmarshal(raw, &val) != nil || isJSONNull(raw) {
		c.invalidProp(prop, resource)
		return false, true, false
	}
	return val, true, true
}
