package graph

import (
	"strings"
	"testing"
)

func TestParseExpression(t *testing.T) {
	for _, expr := range []string{
		`[userPrincipalName]`,
		`"x \"quoted\""`,
		`Switch([IsSoftDeleted], , "False", "True", "True", "False")`,
		`Join(" ", [givenName], [surname])`,
		`ToLower(Coalesce([mail], [userPrincipalName]))`,
		`Guid()`,
	} {
		s, err := ParseExpression(expr)
		if err != nil {
			t.Errorf("%s: %v", expr, err)
			continue
		}
		if got := s.Expression(); got != expr {
			t.Errorf("%s renders as %s", expr, got)
		}
	}
	s, _ := ParseExpression(`Join(" ", [givenName], ToUpper([surname]))`)
	if got := strings.Join(s.Attributes(), ","); got != "givenName,surname" {
		t.Errorf("attributes: %s", got)
	}
	if got := strings.Join(s.Functions(), ","); got != "Join,ToUpper" {
		t.Errorf("functions: %s", got)
	}
	for _, bad := range []string{``, `[mail`, `"open`, `mail`, `Join([a] [b])`, `ToLower([mail]`, `[]`, `[mail] x`} {
		if _, err := ParseExpression(bad); err == nil || !strings.Contains(err.Error(), "not a valid expression") {
			t.Errorf("%q: %v, want an error", bad, err)
		}
	}
}

func TestJobSchemaSetSource(t *testing.T) {
	s := &JobSchema{doc: map[string]any{
		"directories": []any{
			map[string]any{"name": "AAD", "objects": []any{map[string]any{"name": "User", "attributes": []any{map[string]any{"name": "mail"}, map[string]any{"name": "userPrincipalName"}}}}},
			map[string]any{"name": "app", "objects": []any{map[string]any{"name": "scimUser", "attributes": []any{map[string]any{"name": "userName"}, map[string]any{"name": "title"}}}}},
		},
		"synchronizationRules": []any{map[string]any{"sourceDirectoryName": "AAD", "targetDirectoryName": "app", "objectMappings": []any{
			map[string]any{"sourceObjectName": "User", "targetObjectName": "scimUser", "attributeMappings": []any{
				map[string]any{"targetAttributeName": "userName", "source": Attribute("userPrincipalName").toJSON()}}}}}},
	}}
	c := s.Clone()
	c.SetSource(SchemaUser, "userName", Attribute("mail"))
	c.SetSource(SchemaUser, "title", Constant("x"))
	if got := s.Mappings(SchemaUser); len(got) != 1 || got[0].Source.Expression() != "[userPrincipalName]" {
		t.Errorf("the original changed: %+v", got)
	}
	got := c.Mappings(SchemaUser)
	if len(got) != 2 || got[0].Source.Expression() != "[mail]" || got[1].Target != "title" || got[1].Source.Expression() != `"x"` {
		t.Errorf("after SetSource: %+v", got)
	}
	src, tgt := s.DeclaredAttributes(SchemaUser)
	if strings.Join(src, ",") != "mail,userPrincipalName" || strings.Join(tgt, ",") != "title,userName" {
		t.Errorf("declared: %v %v", src, tgt)
	}
}
