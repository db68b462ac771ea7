package odata

import (
	"strings"
	"time"

	"github.com/google/uuid"
)

type nodeKind int

const (
	nLeaf nodeKind = iota // a comparison or string function on one operand
	nAnd
	nOr
	nNot
	nAny // prop/any(v: children[0])
)

type node struct {
	kind     nodeKind
	children []*node
	op       Ops       // nLeaf: Eq, Ne, In, Gt, Ge, Lt, Le, StartsWith, EndsWith or Contains
	prop     *Property // the property a leaf or lambda reads
	elem     bool      // the leaf reads the lambda's range variable (an element of prop)
	values   []literal
	// exact compares strings with their case (Schema.CaseSensitive).
	exact bool
}

type litKind int

const (
	lNull litKind = iota
	lString
	lBool
	lGUID
	lDate
)

type literal struct {
	kind litKind
	s    string // lString, lGUID (lower case)
	b    bool
	t    time.Time
}

func (k litKind) edm() string {
	switch k {
	case lNull:
		return "null"
	case lBool:
		return Bool.edm()
	case lGUID:
		return GUID.edm()
	case lDate:
		return DateTime.edm()
	}
	return String.edm()
}

// litKindOf is the literal kind a value of kind k compares with.
func litKindOf(k Kind) litKind {
	switch k {
	case Bool:
		return lBool
	case GUID:
		return lGUID
	case DateTime:
		return lDate
	}
	return lString
}

// operatorKind is ODL's name for a binary operator, as incompatible-type errors spell it.
var operatorKind = map[Ops]string{Eq: "Equal", Ne: "NotEqual", In: "In", Gt: "GreaterThan", Ge: "GreaterThanOrEqual", Lt: "LessThan", Le: "LessThanOrEqual"}

var comparisons = map[string]Ops{"eq": Eq, "ne": Ne, "gt": Gt, "ge": Ge, "lt": Lt, "le": Le}

var functions = map[string]Ops{"startswith": StartsWith, "endswith": EndsWith, "contains": Contains}

type parser struct {
	src    string
	toks   []token
	i      int
	schema *Schema
	// rangeVar and rangeProp are set inside a lambda body.
	rangeVar  string
	rangeProp *Property
}

// parseFilter parses a $filter. Errors come out in this order: syntax, unknown property (Request_BadRequest),
// unfilterable property, function signature and literal type errors as the parser meets them; then,
// once the whole expression parsed, operators a property does not take (Request_UnsupportedQuery).
// The advanced-query and or-width checks follow in Parse.
func parseFilter(src string, s *Schema) (*node, *Error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{src: src, toks: toks, schema: s}
	n, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.syntax(t)
	}
	return n, nil
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) syntax(t token) *Error {
	if t.kind == tEOF {
		return errorf(codeBadRequest, "Invalid filter clause: syntax error at the end of '%s'.", p.src)
	}
	return errorf(codeBadRequest, "Invalid filter clause: syntax error at position %d in '%s'.", t.pos, p.src)
}

func (p *parser) expect(k tokKind) *Error {
	if t := p.next(); t.kind != k {
		return p.syntax(t)
	}
	return nil
}

// parseChain parses operands joined by the keyword word (and, or) into one n-ary node.
func (p *parser) parseChain(word string, kind nodeKind, operand func() (*node, *Error)) (*node, *Error) {
	left, err := operand()
	if err != nil || !p.peek().is(word) {
		return left, err
	}
	n := &node{kind: kind, children: []*node{left}}
	for p.peek().is(word) {
		p.next()
		right, err := operand()
		if err != nil {
			return nil, err
		}
		n.children = append(n.children, right)
	}
	return n, nil
}

func (p *parser) parseOr() (*node, *Error) { return p.parseChain("or", nOr, p.parseAnd) }

func (p *parser) parseAnd() (*node, *Error) { return p.parseChain("and", nAnd, p.parseUnary) }

func (p *parser) parseUnary() (*node, *Error) {
	if p.peek().is("not") {
		p.next()
		inner, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		return &node{kind: nNot, children: []*node{inner}}, nil
	}
	return p.parsePrimary()
}

func (p *parser) parsePrimary() (*node, *Error) {
	t := p.next()
	switch t.kind {
	case tLParen:
		n, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		return n, p.expect(tRParen)
	case tWord:
		if t.is("and") || t.is("or") {
			return nil, p.syntax(t)
		}
	default:
		return nil, p.syntax(t)
	}
	if p.peek().kind == tLParen {
		return p.parseFunction(t)
	}
	leaf, kind, err := p.operand(t)
	if err != nil {
		return nil, err
	}
	if p.peek().kind == tSlash {
		if leaf.elem {
			return nil, p.syntax(p.peek())
		}
		return p.parseLambda(leaf.prop)
	}
	opTok := p.next()
	if opTok.kind != tWord {
		return nil, p.syntax(opTok)
	}
	word := strings.ToLower(opTok.text)
	if word == "has" {
		return nil, p.schema.unsupportedClause(leaf.prop.Name)
	}
	if op, ok := comparisons[word]; ok {
		leaf.op = op
		lit, err := p.literal(kind, op)
		if err != nil {
			return nil, err
		}
		leaf.values = []literal{lit}
		return leaf, nil
	}
	if word != "in" {
		return nil, p.syntax(opTok)
	}
	leaf.op = In
	if err := p.expect(tLParen); err != nil {
		return nil, err
	}
	for {
		lit, err := p.literal(kind, In)
		if err != nil {
			return nil, err
		}
		leaf.values = append(leaf.values, lit)
		c := p.next()
		if c.kind == tRParen {
			return leaf, nil
		}
		if c.kind != tComma {
			return nil, p.syntax(c)
		}
	}
}

// operand resolves the word naming what a clause reads: the lambda's range variable, or a property
// $filter takes at all. It returns a leaf without an operator and the operand's kind.
func (p *parser) operand(t token) (*node, Kind, *Error) {
	if p.rangeProp != nil && t.text == p.rangeVar {
		return &node{kind: nLeaf, prop: p.rangeProp, elem: true}, String, nil
	}
	name := t.text
	// A path into a complex property (servicePrincipal/id) is one operand when the schema lists it.
	for p.peek().kind == tSlash && p.i+1 < len(p.toks) && p.toks[p.i+1].kind == tWord &&
		p.schema.lookup(name+"/"+p.toks[p.i+1].text) != nil {
		p.next()
		name += "/" + p.next().text
	}
	prop := p.schema.lookup(name)
	if prop == nil {
		return nil, 0, p.schema.unknownProperty(name)
	}
	if prop.Filter|prop.AdvancedFilter == 0 {
		return nil, 0, p.schema.unsupportedClause(prop.Name)
	}
	return &node{kind: nLeaf, prop: prop, exact: p.schema.CaseSensitive}, prop.Kind, nil
}

func (p *parser) parseFunction(name token) (*node, *Error) {
	op, ok := functions[strings.ToLower(name.text)]
	if !ok {
		return nil, errorf(codeUnsupported, "Unsupported Query: the function '%s' is not supported in $filter on this collection.", name.text)
	}
	p.next() // (
	arg := p.next()
	if arg.kind != tWord {
		return nil, p.syntax(arg)
	}
	leaf, kind, err := p.operand(arg)
	if err != nil {
		return nil, err
	}
	if kind != String {
		return nil, errorf(codeUnsupported, "No function signature for the function with name '%s' matches the specified arguments. The function signatures considered are: %s(Edm.String Nullable=true, Edm.String Nullable=true).", name.text, name.text)
	}
	if err := p.expect(tComma); err != nil {
		return nil, err
	}
	if t := p.peek(); t.is("null") {
		return nil, p.syntax(t)
	}
	lit, err := p.literal(String, op)
	if err != nil {
		return nil, err
	}
	leaf.op, leaf.values = op, []literal{lit}
	return leaf, p.expect(tRParen)
}

// parseLambda parses `/any(v: body)` after a collection property. Graph has no `all` on directory
// collections; it answers Request_UnsupportedQuery (a guess at the code).
func (p *parser) parseLambda(prop *Property) (*node, *Error) {
	p.next() // /
	fn := p.next()
	switch {
	case fn.is("all"):
		return nil, p.schema.unsupportedClause(prop.Name)
	case !fn.is("any"):
		return nil, p.syntax(fn)
	}
	if prop.Kind != StringCollection {
		return nil, errorf(codeBadRequest, "Invalid filter clause: the lambda operator 'any' needs a collection, and '%s' is of type '%s'.", prop.Name, prop.Kind.edm())
	}
	if p.rangeProp != nil {
		return nil, errorf(codeUnsupported, "Unsupported Query: nested lambda expressions are not supported in $filter.")
	}
	if err := p.expect(tLParen); err != nil {
		return nil, err
	}
	v := p.next()
	if v.kind != tWord {
		return nil, p.syntax(v)
	}
	if err := p.expect(tColon); err != nil {
		return nil, err
	}
	p.rangeVar, p.rangeProp = v.text, prop
	body, err := p.parseOr()
	p.rangeVar, p.rangeProp = "", nil
	if err != nil {
		return nil, err
	}
	return &node{kind: nAny, prop: prop, children: []*node{body}}, p.expect(tRParen)
}

// literal reads one literal and checks it against the operand's kind; null goes with eq, ne and in.
func (p *parser) literal(want Kind, op Ops) (literal, *Error) {
	t := p.next()
	var lit literal
	switch {
	case t.kind == tString:
		lit = literal{kind: lString, s: t.text}
	case t.is("true"), t.is("false"):
		lit = literal{kind: lBool, b: t.is("true")}
	case t.is("null"):
		lit = literal{kind: lNull}
	case t.kind == tWord && isGUID(t.text):
		lit = literal{kind: lGUID, s: strings.ToLower(t.text)}
	case t.kind == tWord && len(t.text) > 0 && t.text[0] >= '0' && t.text[0] <= '9':
		tm, err := time.Parse(time.RFC3339Nano, t.text)
		if err != nil {
			return lit, p.syntax(t)
		}
		lit = literal{kind: lDate, t: tm}
	default:
		return lit, p.syntax(t)
	}
	if lit.kind == lNull && op&(Eq|Ne|In) != 0 && want != StringCollection && want != Complex {
		return lit, nil
	}
	if want == StringCollection || want == Complex || lit.kind != litKindOf(want) {
		kind := operatorKind[op]
		if kind == "" {
			kind = strings.ToLower(opName(op))
		}
		return lit, errorf(codeBadRequest, "A binary operator with incompatible types was detected. Found operand types '%s' and '%s' for operator kind '%s'.", want.edm(), lit.kind.edm(), kind)
	}
	return lit, nil
}

// isGUID reports whether s is a GUID in its usual 8-4-4-4-12 form.
func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	_, err := uuid.Parse(s)
	return err == nil
}

var opNames = []string{"eq", "ne", "in", "startsWith", "endsWith", "contains", "any", "not", "gt", "ge", "lt", "le"}

func opName(op Ops) string {
	for i, n := range opNames {
		if op == 1<<i {
			return n
		}
	}
	return "?"
}
