package sandbox

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// The listing the provider makes before creating an app (and for entranetskope_netskope_apps):
// applications of one template and name with their creation time, in one request, and the
// template's service principals. Graph's v1.0 servicePrincipal has no createdDateTime: asking for
// it is refused, as Graph does.
func TestGraphAppsGalleryListing(t *testing.T) {
	s := startSandbox(t, Options{})
	mainID := s.MainClient().AppID
	app, sp := appsInstantiate(t, s, mainID, NetskopeUserAuthTemplateName, "Netskope (listed)")
	appsInstantiate(t, s, mainID, NetskopeUserAuthTemplateName, "Netskope (other name)")
	tplID := *app.GetApplicationTemplateId()

	q := url.Values{
		"$filter": {"applicationTemplateId eq '" + tplID + "' and displayName eq 'netskope (LISTED)'"},
		"$select": {"id,appId,displayName,createdDateTime"},
		"$top":    {"999"},
	}
	status, _, body := graphCall(t, s, mainID, http.MethodGet, "/applications?"+q.Encode(), nil)
	if status != http.StatusOK {
		t.Fatalf("list applications: %d %v", status, body)
	}
	vals := body["value"].([]any)
	if len(vals) != 1 {
		t.Fatalf("the template and name filter found %d applications, want 1 (eq ignores letter case): %v", len(vals), vals)
	}
	got := vals[0].(map[string]any)
	if got["id"] != *app.GetId() || got["createdDateTime"] == nil || len(got) != 4 {
		t.Errorf("listed %v, want application %s with only the selected properties", got, *app.GetId())
	}

	q = url.Values{"$filter": {"applicationTemplateId eq '" + tplID + "'"}, "$select": {"id,appId,displayName"}}
	status, _, body = graphCall(t, s, mainID, http.MethodGet, "/servicePrincipals?"+q.Encode(), nil)
	if status != http.StatusOK || len(body["value"].([]any)) != 2 {
		t.Fatalf("list service principals of the template: %d %v", status, body)
	}
	q = url.Values{"$filter": {"id eq '" + *sp.GetId() + "'"}, "$select": {"id,createdDateTime"}}
	status, _, body = graphCall(t, s, mainID, http.MethodGet, "/servicePrincipals?"+q.Encode(), nil)
	if status != http.StatusBadRequest {
		t.Errorf("$select=createdDateTime on servicePrincipals answered %d %v, want 400 as Graph v1.0", status, body)
	}
}

// Graph's answers carry its time in Date. The sandbox's time is its clock, which also stamps
// createdDateTime: a client measuring an object's age against Date sees the clock advanced.
func TestGraphPipelineDateIsTheClock(t *testing.T) {
	s := startSandbox(t, Options{ManualCycles: true})
	if _, err := s.AdvanceClock(context.Background(), 3*time.Hour); err != nil {
		t.Fatal(err)
	}
	status, h, body := graphCall(t, s, s.MainClient().AppID, http.MethodGet, "/applicationTemplates?$top=1", nil)
	if status != http.StatusOK {
		t.Fatalf("list templates: %d %v", status, body)
	}
	date, err := http.ParseTime(h.Get("Date"))
	if err != nil {
		t.Fatalf("Date %q: %v", h.Get("Date"), err)
	}
	// Date has whole seconds: it lies within the second before the clock read after the answer.
	if now := s.Now(); date.After(now) || now.Sub(date) > time.Minute || time.Until(date) < 2*time.Hour {
		t.Errorf("Date is %s; the sandbox clock reads %s (3 hours ahead of real time)", date, now)
	}
}
