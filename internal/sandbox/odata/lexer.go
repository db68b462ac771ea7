package odata

import "strings"

type tokKind int

const (
	tEOF tokKind = iota
	tWord
	tString
	tLParen
	tRParen
	tComma
	tSlash
	tColon
)

type token struct {
	kind tokKind
	text string // a word as written; a string literal unquoted, with '' unescaped
	pos  int    // byte offset in the filter, for error messages
}

// is reports whether t is the keyword word, which OData spells in lower case; Graph (ODL with case-
// insensitive parsing) takes any case, and so do we. That last part is a guess.
func (t token) is(word string) bool {
	return t.kind == tWord && strings.EqualFold(t.text, word)
}

// lex splits a $filter into tokens. Words run to whitespace or punctuation; a word starting with a digit
// may also hold ':' so that DateTimeOffset literals (2024-01-31T10:00:00Z) stay one token, while the
// lambda separator in `c:c eq 'x'` still splits.
func lex(s string) ([]token, *Error) {
	var toks []token
	punct := map[byte]tokKind{'(': tLParen, ')': tRParen, ',': tComma, '/': tSlash, ':': tColon}
	for i := 0; i < len(s); {
		ch := s[i]
		if k, ok := punct[ch]; ok {
			toks = append(toks, token{k, string(ch), i})
			i++
			continue
		}
		switch ch {
		case ' ', '\t', '\r', '\n':
			i++
		case '\'':
			start := i
			var b strings.Builder
			closed := false
			for i++; i < len(s); i++ {
				if s[i] != '\'' {
					b.WriteByte(s[i])
					continue
				}
				if i+1 < len(s) && s[i+1] == '\'' {
					b.WriteByte('\'')
					i++
					continue
				}
				i++
				closed = true
				break
			}
			if !closed {
				return nil, errorf(codeBadRequest, "Invalid filter clause: there is an unterminated string literal at position %d in '%s'.", start, s)
			}
			toks = append(toks, token{tString, b.String(), start})
		default:
			start := i
			digit := ch >= '0' && ch <= '9'
			for i < len(s) && !strings.ContainsRune(" \t\r\n(),'/", rune(s[i])) && (s[i] != ':' || digit) {
				i++
			}
			toks = append(toks, token{tWord, s[start:i], start})
		}
	}
	return append(toks, token{tEOF, "", len(s)}), nil
}
