package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"
)

// GalleryApp is an enterprise application added from a gallery template, as the tenant lists it.
// One of the two objects may be missing from Graph's answer for a while after it was created
// (replication), or for good when the caller may not read it.
type GalleryApp struct {
	ServicePrincipalID     string // empty when Graph did not list the service principal
	ApplicationObjectID    string // empty when Graph did not list the application
	ClientID               string // appId
	DisplayName            string // the service principal's, or the application's when there is no service principal
	ApplicationDisplayName string
	// Created is the application's createdDateTime (servicePrincipal has none in v1.0); zero when
	// the application was not listed or Graph did not say.
	Created time.Time
	// Jobs are the service principal's provisioning jobs, read when GalleryAppQuery.Jobs asks.
	Jobs []*Job
}

// GalleryAppQuery says which gallery apps ListGalleryApps lists.
type GalleryAppQuery struct {
	TemplateID string
	// DisplayName, when set, lists only applications of that name (Graph compares without regard
	// to letter case; callers that need the exact name compare themselves). Without it, every
	// service principal and application made from the template is listed.
	DisplayName string
	// Jobs reads each listed service principal's provisioning jobs (one request per app).
	Jobs bool
	// ExceptApplication leaves out the application with this object id (one the caller just made),
	// before the service principals are listed: when it is the only one, that takes no request.
	ExceptApplication string
}

// GalleryApps is what ListGalleryApps found, and Graph's clock when it answered.
type GalleryApps struct {
	Apps []GalleryApp
	// Now is the time Graph's answer carried (its Date header), local time when it had none: ages
	// of Created are measured against it, so the caller's clock does not matter.
	Now time.Time
}

// PermApplicationList is what listing applications and service principals takes: OwnedBy lists only
// those the client owns.
const PermApplicationList = "Application.Read.All (Application.ReadWrite.OwnedBy lists only the applications the client owns)"

// PermSynchronizationRead is what reading the provisioning of apps the client does not own takes.
const PermSynchronizationRead = "Synchronization.Read.All (Application.ReadWrite.OwnedBy reads only the provisioning of applications the client owns)"

// galleryPageSize is the page size of the listings: a tenant has a handful of apps from one template.
const galleryPageSize = 999

// ListGalleryApps lists the apps made from a gallery template. With a display name it starts with
// one request (the applications of that template and name) and stops there when there are none,
// which is what an apply that creates an app pays to make sure it leaves no duplicate behind.
// The service principals of the template are listed next and matched by appId.
func (c *Client) ListGalleryApps(ctx context.Context, q GalleryAppQuery) (*GalleryApps, error) {
	// Graph writes template ids in lower case; configurations may not.
	filter := fmt.Sprintf("applicationTemplateId eq '%s'", odataQuote(strings.ToLower(q.TemplateID)))
	appFilter := filter
	if q.DisplayName != "" {
		appFilter += fmt.Sprintf(" and displayName eq '%s'", odataQuote(q.DisplayName))
	}
	type appItem struct {
		ID              string `json:"id"`
		AppID           string `json:"appId"`
		DisplayName     string `json:"displayName"`
		CreatedDateTime string `json:"createdDateTime"`
	}
	var apps []appItem
	now, err := c.listAll(ctx, "applications", appFilter, "id,appId,displayName,createdDateTime", "list the applications made from the gallery template",
		"template "+q.TemplateID, func(decode func(any) error) error {
			var page []appItem
			err := decode(&page)
			apps = append(apps, page...)
			return err
		})
	if err != nil {
		return nil, err
	}
	out := &GalleryApps{Now: now}
	if q.ExceptApplication != "" {
		apps = slices.DeleteFunc(apps, func(a appItem) bool { return strings.EqualFold(a.ID, q.ExceptApplication) })
	}
	if q.DisplayName != "" && len(apps) == 0 {
		return out, nil
	}
	type spItem struct {
		ID          string `json:"id"`
		AppID       string `json:"appId"`
		DisplayName string `json:"displayName"`
	}
	var sps []spItem
	if _, err := c.listAll(ctx, "servicePrincipals", filter, "id,appId,displayName", "list the service principals made from the gallery template",
		"template "+q.TemplateID, func(decode func(any) error) error {
			var page []spItem
			err := decode(&page)
			sps = append(sps, page...)
			return err
		}); err != nil {
		return nil, err
	}

	byAppID := map[string]*GalleryApp{}
	var order []string
	for _, a := range apps {
		ga := &GalleryApp{ApplicationObjectID: a.ID, ClientID: a.AppID, DisplayName: a.DisplayName, ApplicationDisplayName: a.DisplayName}
		if t, err := time.Parse(time.RFC3339Nano, a.CreatedDateTime); err == nil {
			ga.Created = t.UTC()
		}
		key := strings.ToLower(a.AppID)
		byAppID[key] = ga
		order = append(order, key)
	}
	for _, sp := range sps {
		key := strings.ToLower(sp.AppID)
		ga, ok := byAppID[key]
		if !ok {
			if q.DisplayName != "" {
				continue // not an application of that name
			}
			ga = &GalleryApp{ClientID: sp.AppID}
			byAppID[key] = ga
			order = append(order, key)
		}
		ga.ServicePrincipalID, ga.DisplayName = sp.ID, sp.DisplayName
	}
	for _, key := range order {
		out.Apps = append(out.Apps, *byAppID[key])
	}
	sort.SliceStable(out.Apps, func(i, j int) bool {
		a, b := out.Apps[i], out.Apps[j]
		if !a.Created.Equal(b.Created) {
			return a.Created.Before(b.Created)
		}
		return a.ServicePrincipalID+a.ApplicationObjectID < b.ServicePrincipalID+b.ApplicationObjectID
	})
	if q.Jobs {
		for i := range out.Apps {
			if out.Apps[i].ServicePrincipalID == "" {
				continue
			}
			jobs, err := c.listJobs(ctx, out.Apps[i].ServicePrincipalID, PermSynchronizationRead)
			if err != nil {
				return nil, err
			}
			out.Apps[i].Jobs = jobs
		}
	}
	return out, nil
}

// listAll GETs every page of a directory collection with a $filter and $select, handing each
// page's value to page, and returns the time Graph's first answer carried.
func (c *Client) listAll(ctx context.Context, collection, filter, selectProps, op, object string, page func(decode func(any) error) error) (time.Time, error) {
	next := fmt.Sprintf("%s?$filter=%s&$select=%s&$top=%d", collection, queryEscape(filter), selectProps, galleryPageSize)
	var now time.Time
	for next != "" {
		var p struct {
			Value json.RawMessage `json:"value"`
			Next  string          `json:"@odata.nextLink"`
		}
		h, err := c.rawHeader(ctx, http.MethodGet, next, nil, &p, op, object, PermApplicationList)
		if err != nil {
			return now, err
		}
		if now.IsZero() {
			// Guess: Graph's Date header and the createdDateTime it stamps come from clocks close
			// enough (both the service's) that an age measured between them is right to the minute;
			// the caller's clock may be off by far more.
			now = time.Now().UTC()
			if t, err := http.ParseTime(h.Get("Date")); err == nil {
				now = t.UTC()
			}
		}
		if len(p.Value) == 0 {
			return now, fmt.Errorf("could not %s (%s): Graph's answer has no value", op, object)
		}
		if err := page(func(v any) error { return json.Unmarshal(p.Value, v) }); err != nil {
			return now, fmt.Errorf("could not %s (%s): unexpected answer from Graph: %w", op, object, err)
		}
		next = ""
		if p.Next != "" {
			next = strings.TrimPrefix(strings.TrimPrefix(p.Next, c.base), "/")
		}
	}
	return now, nil
}

// queryEscape encodes a query value with %20 for spaces, which OData reads in every position.
func queryEscape(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }
