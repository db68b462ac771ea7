package graph

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/microsoftgraph/msgraph-sdk-go/applicationtemplates"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
)

// Permissions named in 403 hints: the least privilege that does the call.
const (
	PermApplicationOwnedBy = "Application.ReadWrite.OwnedBy"
	PermApplicationRead    = "Application.Read.All"
	// PermApplicationWrite is what changing an existing application takes: OwnedBy reaches only
	// applications the client owns (those it created), so an imported one needs more.
	PermApplicationWrite = "Application.ReadWrite.OwnedBy (enough for an application the client created or owns; for one created by someone else, " +
		"add the client as its owner or grant Application.ReadWrite.All)"
	PermAppRoleAssignment = "AppRoleAssignment.ReadWrite.All (with Application.Read.All)"
	PermUserRead          = "User.Read.All"
	PermGroupRead         = "Group.Read.All"
)

// DefaultAccessRoleID is Entra's "Default Access" app role.
const DefaultAccessRoleID = "00000000-0000-0000-0000-000000000000"

// AppTemplate is a gallery application template.
type AppTemplate struct {
	ID                         string
	DisplayName                string
	Publisher                  string
	Description                string
	Categories                 []string
	SupportedProvisioningTypes []string
	SupportedSingleSignOnModes []string
}

func appTemplateFrom(t models.ApplicationTemplateable) AppTemplate {
	return AppTemplate{
		ID: deref(t.GetId()), DisplayName: deref(t.GetDisplayName()), Publisher: deref(t.GetPublisher()),
		Description: deref(t.GetDescription()), Categories: t.GetCategories(),
		SupportedProvisioningTypes: t.GetSupportedProvisioningTypes(), SupportedSingleSignOnModes: t.GetSupportedSingleSignOnModes(),
	}
}

// FindAppTemplates lists the gallery templates whose display name is exactly displayName.
func (c *Client) FindAppTemplates(ctx context.Context, displayName string) ([]AppTemplate, error) {
	filter := fmt.Sprintf("displayName eq '%s'", odataQuote(displayName))
	resp, err := c.sdk.ApplicationTemplates().Get(ctx, &applicationtemplates.ApplicationTemplatesRequestBuilderGetRequestConfiguration{
		QueryParameters: &applicationtemplates.ApplicationTemplatesRequestBuilderGetQueryParameters{Filter: &filter},
	})
	if err != nil {
		return nil, wrap(err, "look up the gallery application template", fmt.Sprintf("display name %q", displayName), "")
	}
	var out []AppTemplate
	for _, t := range resp.GetValue() {
		// Graph's eq on displayName is case-insensitive; the gallery name is what the user typed.
		if strings.EqualFold(deref(t.GetDisplayName()), displayName) {
			out = append(out, appTemplateFrom(t))
		}
	}
	return out, nil
}

// SearchAppTemplates lists up to 10 gallery templates whose display name contains fragment, for
// "did you mean" hints.
func (c *Client) SearchAppTemplates(ctx context.Context, fragment string) ([]AppTemplate, error) {
	filter := fmt.Sprintf("contains(displayName,'%s')", odataQuote(fragment))
	top := int32(10)
	resp, err := c.sdk.ApplicationTemplates().Get(ctx, &applicationtemplates.ApplicationTemplatesRequestBuilderGetRequestConfiguration{
		QueryParameters: &applicationtemplates.ApplicationTemplatesRequestBuilderGetQueryParameters{Filter: &filter, Top: &top},
	})
	if err != nil {
		return nil, wrap(err, "search the application gallery", fmt.Sprintf("names containing %q", fragment), "")
	}
	out := make([]AppTemplate, 0, len(resp.GetValue()))
	for _, t := range resp.GetValue() {
		out = append(out, appTemplateFrom(t))
	}
	return out, nil
}

// GetAppTemplate reads a gallery template by id.
func (c *Client) GetAppTemplate(ctx context.Context, id string) (*AppTemplate, error) {
	t, err := c.sdk.ApplicationTemplates().ByApplicationTemplateId(id).Get(ctx, nil)
	if err != nil {
		return nil, wrap(err, "read the gallery application template", "id "+id, "")
	}
	at := appTemplateFrom(t)
	return &at, nil
}

// EnterpriseApp is an application and its service principal, as created from a gallery template.
type EnterpriseApp struct {
	ServicePrincipalID  string
	ApplicationObjectID string
	ClientID            string // appId
	DisplayName         string // the service principal's (what the Enterprise applications blade shows)
	// ApplicationDisplayName is the application's own name; it differs from DisplayName only when
	// someone renamed one of the two objects by hand.
	ApplicationDisplayName string
	TemplateID             string // empty for an app that was not created from a gallery template
	AppRoles               []AppRole
}

// AppRole is an app role of the service principal.
type AppRole struct {
	ID                 string
	DisplayName        string
	Value              string
	AllowedMemberTypes []string
	Enabled            bool
}

func appRolesFrom(roles []models.AppRoleable) []AppRole {
	out := make([]AppRole, 0, len(roles))
	for _, r := range roles {
		id := ""
		if r.GetId() != nil {
			id = r.GetId().String()
		}
		out = append(out, AppRole{ID: id, DisplayName: deref(r.GetDisplayName()), Value: deref(r.GetValue()),
			AllowedMemberTypes: r.GetAllowedMemberTypes(), Enabled: deref(r.GetIsEnabled())})
	}
	return out
}

// UserRoleID is the id of the role named "User" (by display name or value), as gallery SCIM apps have.
func (a *EnterpriseApp) UserRoleID() string {
	for _, r := range a.AppRoles {
		if r.Enabled && (strings.EqualFold(r.DisplayName, "User") || strings.EqualFold(r.Value, "User")) {
			return r.ID
		}
	}
	return ""
}

// ErrReadBack marks an instantiate whose objects exist but did not become readable in time.
var ErrReadBack = errors.New("was created but could not be read back")

// InstantiateAppTemplate creates the application and service principal from a gallery template and
// waits until both can be read. When instantiate fails with 404 after all (a known service fault)
// it looks for the objects it created and adopts them, so nothing is left orphaned.
//
// When the objects were created but could not be read back before ctx ended, it returns the app as
// instantiate described it together with an error wrapping ErrReadBack: the caller must record the
// app (it exists) rather than forget it.
func (c *Client) InstantiateAppTemplate(ctx context.Context, templateID, displayName string) (*EnterpriseApp, error) {
	body := applicationtemplates.NewItemInstantiatePostRequestBody()
	body.SetDisplayName(&displayName)
	started := time.Now()
	res, err := c.sdk.ApplicationTemplates().ByApplicationTemplateId(templateID).Instantiate().Post(ctx, body, nil)
	var created *EnterpriseApp
	if err != nil {
		err = wrap(err, "create the enterprise application from the gallery template", "template "+templateID, PermApplicationOwnedBy)
		window, mayHaveCreated := searchWindow(err)
		if !mayHaveCreated || ctx.Err() != nil {
			return nil, err
		}
		// A 404 for a template that exists is the service losing track of what it created; a 5xx
		// or a lost connection may have created it too: find it rather than leave it orphaned.
		if IsNotFound(err) {
			if _, terr := c.GetAppTemplate(ctx, templateID); terr != nil {
				return nil, err
			}
		}
		found, ferr := c.findInstantiated(ctx, templateID, displayName, started, window)
		if ferr != nil {
			return nil, fmt.Errorf("%w; looking for the application it may have created anyway: %w", err, ferr)
		}
		if found == nil {
			return nil, fmt.Errorf("%w. No application named %q from this template appeared afterwards, so nothing was created: apply again", err, displayName)
		}
		created = found
	} else {
		created = enterpriseAppFromInstantiate(res, templateID)
		if created.ServicePrincipalID == "" {
			return nil, fmt.Errorf("instantiating gallery template %s answered without a service principal: look for an application named %q in Enterprise applications and import it", templateID, displayName)
		}
	}
	var app *EnterpriseApp
	err = WaitFor(ctx, func(ctx context.Context) (bool, error) {
		a, err := c.GetEnterpriseApp(ctx, created.ServicePrincipalID)
		if IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		app = a
		return true, nil
	})
	if err != nil {
		return created, fmt.Errorf("the enterprise application %q (service principal %s, application %s) %w: %w",
			displayName, created.ServicePrincipalID, created.ApplicationObjectID, ErrReadBack, err)
	}
	return app, nil
}

func enterpriseAppFromInstantiate(res models.ApplicationServicePrincipalable, templateID string) *EnterpriseApp {
	out := &EnterpriseApp{TemplateID: templateID}
	if sp := res.GetServicePrincipal(); sp != nil {
		out.ServicePrincipalID = deref(sp.GetId())
		out.ClientID = deref(sp.GetAppId())
		out.DisplayName = deref(sp.GetDisplayName())
		out.AppRoles = appRolesFrom(sp.GetAppRoles())
	}
	if a := res.GetApplication(); a != nil {
		out.ApplicationObjectID = deref(a.GetId())
		out.ApplicationDisplayName = deref(a.GetDisplayName())
		if out.ClientID == "" {
			out.ClientID = deref(a.GetAppId())
		}
		if len(out.AppRoles) == 0 {
			out.AppRoles = appRolesFrom(a.GetAppRoles())
		}
	}
	return out
}

// searchWindow says whether a failed instantiate may have created the app anyway, and how long to
// look for it: long for the known 404 fault, briefly after a server error or a lost connection.
func searchWindow(err error) (time.Duration, bool) {
	var ge *Error
	switch {
	case !errors.As(err, &ge):
		return 30 * time.Second, true // no answer: the request may have been carried out
	case ge.Status == http.StatusNotFound:
		return 2 * time.Minute, true
	case ge.Status >= 500:
		return 30 * time.Second, true
	}
	return 0, false
}

// instantiateClockSkew is how far Graph's createdDateTime may lag behind our clock and still count
// as created by the call we just made.
const instantiateClockSkew = 2 * time.Minute

// findInstantiated finds the application that a failed instantiate of templateID with displayName
// created at or after since, polling while replication catches up, and returns it with its service
// principal, or nil when none appeared within window. Older applications with the same name are
// never adopted; more than one new candidate is an error that lists them.
func (c *Client) findInstantiated(ctx context.Context, templateID, displayName string, since time.Time, window time.Duration) (*EnterpriseApp, error) {
	var candidates []GalleryApp
	wctx, cancel := context.WithTimeout(ctx, window)
	defer cancel()
	err := WaitFor(wctx, func(ctx context.Context) (bool, error) {
		list, err := c.ListGalleryApps(ctx, GalleryAppQuery{TemplateID: templateID, DisplayName: displayName})
		if err != nil {
			return false, err
		}
		candidates = candidates[:0]
		for _, a := range list.Apps {
			if a.ApplicationDisplayName == displayName && !a.Created.IsZero() && !a.Created.Before(since.Add(-instantiateClockSkew)) {
				candidates = append(candidates, a)
			}
		}
		// One candidate is adopted only with its service principal: wait for that to show too.
		return len(candidates) > 1 || (len(candidates) == 1 && candidates[0].ServicePrincipalID != ""), nil
	})
	if err != nil && (ctx.Err() != nil || wctx.Err() == nil) {
		return nil, err
	}
	switch {
	case len(candidates) > 1:
		ids := make([]string, 0, len(candidates))
		for _, a := range candidates {
			ids = append(ids, a.ApplicationObjectID)
		}
		return nil, fmt.Errorf("%d applications named %q were created from template %s in the last minutes (application object ids %s): "+
			"delete the ones you do not want, then import the service principal of the one to keep", len(candidates), displayName, templateID, strings.Join(ids, ", "))
	case len(candidates) == 0:
		return nil, nil // nothing appeared in time
	case candidates[0].ServicePrincipalID == "":
		return nil, fmt.Errorf("the application %s named %q was created, but its service principal did not appear in time: "+
			"once Enterprise applications lists it, import its service principal", candidates[0].ApplicationObjectID, displayName)
	}
	return c.GetEnterpriseApp(ctx, candidates[0].ServicePrincipalID)
}

// GetEnterpriseApp reads the service principal and its application.
func (c *Client) GetEnterpriseApp(ctx context.Context, spID string) (*EnterpriseApp, error) {
	sp, err := c.sdk.ServicePrincipals().ByServicePrincipalId(spID).Get(ctx, nil)
	if err != nil {
		return nil, wrap(err, "read the service principal", spID, PermApplicationRead)
	}
	appID := deref(sp.GetAppId())
	app, err := c.sdk.ApplicationsWithAppId(&appID).Get(ctx, nil)
	if err != nil {
		return nil, wrap(err, "read the application of the service principal", spID+" (appId "+appID+")", PermApplicationRead)
	}
	return &EnterpriseApp{
		ServicePrincipalID: spID, ApplicationObjectID: deref(app.GetId()), ClientID: appID,
		DisplayName: deref(sp.GetDisplayName()), ApplicationDisplayName: deref(app.GetDisplayName()),
		TemplateID: deref(sp.GetApplicationTemplateId()), AppRoles: appRolesFrom(sp.GetAppRoles()),
	}, nil
}

// RenameEnterpriseApp renames the application and its service principal.
func (c *Client) RenameEnterpriseApp(ctx context.Context, app *EnterpriseApp, displayName string) error {
	a := models.NewApplication()
	a.SetDisplayName(&displayName)
	if _, err := c.sdk.Applications().ByApplicationId(app.ApplicationObjectID).Patch(ctx, a, nil); err != nil {
		return wrap(err, "rename the application", app.ApplicationObjectID, PermApplicationWrite)
	}
	sp := models.NewServicePrincipal()
	sp.SetDisplayName(&displayName)
	if _, err := c.sdk.ServicePrincipals().ByServicePrincipalId(app.ServicePrincipalID).Patch(ctx, sp, nil); err != nil {
		return wrap(err, "rename the service principal", app.ServicePrincipalID, PermApplicationWrite)
	}
	return nil
}

// DeleteEnterpriseApp deletes the application (Entra deletes its service principal with it) and
// waits until the service principal is gone; with purge it also removes the application from
// deleted items. Objects already gone are not an error.
func (c *Client) DeleteEnterpriseApp(ctx context.Context, app *EnterpriseApp, purge bool) error {
	err := c.sdk.Applications().ByApplicationId(app.ApplicationObjectID).Delete(ctx, nil)
	err = wrap(err, "delete the application", app.ApplicationObjectID, PermApplicationWrite)
	alreadyGone := IsNotFound(err)
	if err != nil && !alreadyGone {
		return err
	}
	if err := WaitFor(ctx, func(ctx context.Context) (bool, error) {
		_, err := c.sdk.ServicePrincipals().ByServicePrincipalId(app.ServicePrincipalID).Get(ctx, nil)
		err = wrap(err, "read the service principal", app.ServicePrincipalID, PermApplicationRead)
		if IsNotFound(err) {
			return true, nil
		}
		return false, err
	}); err != nil {
		return fmt.Errorf("the application %s was deleted but its service principal %s is still there: %w", app.ApplicationObjectID, app.ServicePrincipalID, err)
	}
	if !purge {
		return nil
	}
	purgeOnce := func(ctx context.Context) error {
		err := c.sdk.Directory().DeletedItems().ByDirectoryObjectId(app.ApplicationObjectID).Delete(ctx, nil)
		return wrap(err, "permanently delete the application from deleted items", app.ApplicationObjectID, PermApplicationWrite)
	}
	if alreadyGone {
		// Someone else deleted it: it may sit in deleted items, or be purged already.
		if err := purgeOnce(ctx); err != nil && !IsNotFound(err) {
			return err
		}
		return nil
	}
	return WaitFor(ctx, func(ctx context.Context) (bool, error) {
		err := purgeOnce(ctx)
		if err == nil {
			return true, nil
		}
		// Right after the delete, deleted items may not list it yet: keep trying within the timeout.
		if IsNotFound(err) {
			return false, nil
		}
		return false, err
	})
}

// WaitFor polls check until it reports done, fails, or ctx ends (the caller's timeout bounds it),
// backing off from 1 to 10 seconds between polls.
func WaitFor(ctx context.Context, check func(context.Context) (bool, error)) error {
	delay := 500 * time.Millisecond
	for {
		done, err := check(ctx)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		if err := sleep(ctx, delay); err != nil {
			return fmt.Errorf("timed out waiting for Microsoft Graph to catch up: %w", err)
		}
		delay = min(delay*2, 10*time.Second)
	}
}

// odataQuote escapes a string literal for $filter.
func odataQuote(s string) string { return strings.ReplaceAll(s, "'", "''") }
