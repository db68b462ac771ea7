package odata

import (
	"strings"
	"time"
)

// checkOps verifies, once the filter has parsed, that every clause's operator is one its property
// takes. A clause under `not` also needs Not. It returns the first property an operator is refused on,
// and the first property that needs an advanced query.
func (n *node) checkOps(negated bool) (refused, advanced *Property) {
	var need Ops
	switch n.kind {
	case nNot:
		return n.children[0].checkOps(true)
	case nLeaf:
		need = n.op
	case nAny:
		need = Any
	}
	if negated {
		need |= Not
	}
	if need != 0 {
		switch {
		case n.prop.Filter&need == need:
		case (n.prop.Filter|n.prop.AdvancedFilter)&need == need:
			advanced = n.prop
		default:
			return n.prop, nil
		}
	}
	for _, ch := range n.children {
		r, a := ch.checkOps(negated)
		if r != nil {
			return r, nil
		}
		if advanced == nil {
			advanced = a
		}
	}
	return nil, advanced
}

// maxOr is the largest number of alternatives any `or` chain or `in` list of the filter expands to.
func (n *node) maxOr() int {
	best := 0
	if n.kind == nOr || n.op == In {
		best = n.orWidth()
	}
	for _, ch := range n.children {
		best = max(best, ch.maxOr())
	}
	return best
}

func (n *node) orWidth() int {
	switch {
	case n.kind == nLeaf && n.op == In:
		return len(n.values)
	case n.kind == nOr:
		w := 0
		for _, ch := range n.children {
			w += ch.orWidth()
		}
		return w
	}
	return 1
}

// pinned returns the values an eq or in on prop pins the filter to, alone or inside an `and`.
func (n *node) pinned(prop string) ([]string, bool) {
	switch n.kind {
	case nLeaf:
		if n.elem || (n.op != Eq && n.op != In) || n.prop.Name != prop {
			return nil, false
		}
		out := []string{}
		for _, l := range n.values {
			if l.kind == lString || l.kind == lGUID {
				out = append(out, l.s)
			}
		}
		return out, true
	case nAnd:
		for _, ch := range n.children {
			if v, ok := ch.pinned(prop); ok {
				return v, true
			}
		}
	}
	return nil, false
}

// eval reports whether an object passes; elem is the range variable's value inside a lambda.
func (n *node) eval(get func(string) any, elem any) bool {
	switch n.kind {
	case nAnd:
		for _, ch := range n.children {
			if !ch.eval(get, elem) {
				return false
			}
		}
		return true
	case nOr:
		for _, ch := range n.children {
			if ch.eval(get, elem) {
				return true
			}
		}
		return false
	case nNot:
		return !n.children[0].eval(get, elem)
	case nAny:
		for _, el := range elements(get(n.prop.Name)) {
			if n.children[0].eval(get, el) {
				return true
			}
		}
		return false
	}
	v := elem
	if !n.elem {
		v = normalize(get(n.prop.Name))
	}
	switch n.op {
	case Eq:
		return equal(n.values[0], v, n.exact)
	case Ne:
		return !equal(n.values[0], v, n.exact)
	case In:
		for _, l := range n.values {
			if equal(l, v, n.exact) {
				return true
			}
		}
		return false
	case StartsWith, EndsWith, Contains:
		s, ok := v.(string)
		if !ok {
			return false
		}
		want := n.values[0].s
		if !n.exact {
			s, want = strings.ToLower(s), strings.ToLower(want)
		}
		switch n.op {
		case StartsWith:
			return strings.HasPrefix(s, want)
		case EndsWith:
			return strings.HasSuffix(s, want)
		}
		return strings.Contains(s, want)
	}
	c, ok := compare(n.values[0], v)
	if !ok {
		return false
	}
	switch n.op {
	case Gt:
		return c > 0
	case Ge:
		return c >= 0
	case Lt:
		return c < 0
	}
	return c <= 0
}

// normalize turns the values getters return (string, *string, bool, *bool, time.Time, nil) into
// string, bool, time.Time or nil.
func normalize(v any) any {
	switch x := v.(type) {
	case *string:
		if x == nil {
			return nil
		}
		return *x
	case *bool:
		if x == nil {
			return nil
		}
		return *x
	case *time.Time:
		if x == nil {
			return nil
		}
		return *x
	}
	return v
}

// elements lists a collection value: []string, or []any as JSON decodes it.
func elements(v any) []any {
	switch x := v.(type) {
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out
	case []any:
		return x
	}
	return nil
}

// equal compares as the directory does: strings and GUIDs without regard to case, unless exact.
func equal(l literal, v any, exact bool) bool {
	switch l.kind {
	case lNull:
		return v == nil
	case lBool:
		b, ok := v.(bool)
		return ok && b == l.b
	case lDate:
		c, ok := compare(l, v)
		return ok && c == 0
	}
	s, ok := v.(string)
	if exact && l.kind == lString {
		return ok && s == l.s
	}
	return ok && strings.EqualFold(s, l.s)
}

// compare orders v against a literal: -1, 0 or 1 as v sorts before, with or after it.
func compare(l literal, v any) (int, bool) {
	if l.kind == lDate {
		t, ok := asTime(v)
		if !ok {
			return 0, false
		}
		return t.Compare(l.t), true
	}
	s, ok := v.(string)
	if !ok || (l.kind != lString && l.kind != lGUID) {
		return 0, false
	}
	return strings.Compare(strings.ToLower(s), strings.ToLower(l.s)), true
}

func asTime(v any) (time.Time, bool) {
	switch x := v.(type) {
	case time.Time:
		return x, true
	case string:
		t, err := time.Parse(time.RFC3339Nano, x)
		return t, err == nil
	}
	return time.Time{}, false
}
