package graph

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/microsoftgraph/msgraph-sdk-go/applicationtemplates"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/serviceprincipals"
)

// Permissions named in 403 hints: the least privilege that does the call.
const (
	PermApplicationOwnedBy = "Application.ReadWrite.OwnedBy"
	PermApplicationRead    = "Application.Read.All"
	PermAppRoleAssignment  = "AppRoleAssignment.ReadWrite.All (with Application.Read.All)"
	PermUserRead           = "User.Read.All"
	PermGroupRead          = "Group.Read.All"
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
	DisplayName         string
	TemplateID          string
	AppRoles            []AppRole
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

// InstantiateAppTemplate creates the application and service principal from a gallery template and
// waits until both can be read. When instantiate fails with 404 after all (a known service fault)
// it looks for the objects it created and adopts them, so nothing is left orphaned.
func (c *Client) InstantiateAppTemplate(ctx context.Context, templateID, displayName string) (*EnterpriseApp, error) {
	body := applicationtemplates.NewItemInstantiatePostRequestBody()
	body.SetDisplayName(&displayName)
	started := time.Now()
	res, err := c.sdk.ApplicationTemplates().ByApplicationTemplateId(templateID).Instantiate().Post(ctx, body, nil)
	var spID string
	if err != nil {
		err = wrap(err, "create the enterprise application from the gallery template", "template "+templateID, PermApplicationOwnedBy)
		if !IsNotFound(err) {
			return nil, err
		}
		// Find what the failed call created (Graph may need a moment before it lists them).
		found, ferr := c.findInstantiated(ctx, templateID, displayName, started)
		if ferr != nil || found == "" {
			return nil, err
		}
		spID = found
	} else {
		if sp := res.GetServicePrincipal(); sp != nil {
			spID = deref(sp.GetId())
		}
		if spID == "" {
			return nil, errors.New("instantiate answered without a service principal")
		}
	}
	var app *EnterpriseApp
	err = WaitFor(ctx, func(ctx context.Context) (bool, error) {
		a, err := c.GetEnterpriseApp(ctx, spID)
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
		return nil, fmt.Errorf("the enterprise application (service principal %s) was created but could not be read back: %w", spID, err)
	}
	return app, nil
}

// findInstantiated returns the service principal id of an app created from templateID with
// displayName (the newest, if several), polling while replication catches up.
func (c *Client) findInstantiated(ctx context.Context, templateID, displayName string, since time.Time) (string, error) {
	filter := fmt.Sprintf("displayName eq '%s'", odataQuote(displayName))
	var id string
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	err := WaitFor(ctx, func(ctx context.Context) (bool, error) {
		resp, err := c.sdk.ServicePrincipals().Get(ctx, &serviceprincipals.ServicePrincipalsRequestBuilderGetRequestConfiguration{
			QueryParameters: &serviceprincipals.ServicePrincipalsRequestBuilderGetQueryParameters{Filter: &filter},
		})
		if err != nil {
			return false, wrap(err, "look for the service principal instantiate created", displayName, PermApplicationRead)
		}
		for _, sp := range resp.GetValue() {
			if deref(sp.GetApplicationTemplateId()) == templateID {
				id = deref(sp.GetId())
			}
		}
		return id != "", nil
	})
	return id, err
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
		DisplayName: deref(sp.GetDisplayName()), TemplateID: deref(sp.GetApplicationTemplateId()),
		AppRoles: appRolesFrom(sp.GetAppRoles()),
	}, nil
}

// RenameEnterpriseApp renames the application and its service principal.
func (c *Client) RenameEnterpriseApp(ctx context.Context, app *EnterpriseApp, displayName string) error {
	a := models.NewApplication()
	a.SetDisplayName(&displayName)
	if _, err := c.sdk.Applications().ByApplicationId(app.ApplicationObjectID).Patch(ctx, a, nil); err != nil {
		return wrap(err, "rename the application", app.ApplicationObjectID, PermApplicationOwnedBy)
	}
	sp := models.NewServicePrincipal()
	sp.SetDisplayName(&displayName)
	if _, err := c.sdk.ServicePrincipals().ByServicePrincipalId(app.ServicePrincipalID).Patch(ctx, sp, nil); err != nil {
		return wrap(err, "rename the service principal", app.ServicePrincipalID, PermApplicationOwnedBy)
	}
	return nil
}

// DeleteEnterpriseApp deletes the application (Entra deletes its service principal with it) and
// waits until the service principal is gone; with purge it also removes the application from
// deleted items. Objects already gone are not an error.
func (c *Client) DeleteEnterpriseApp(ctx context.Context, app *EnterpriseApp, purge bool) error {
	err := c.sdk.Applications().ByApplicationId(app.ApplicationObjectID).Delete(ctx, nil)
	if err = wrap(err, "delete the application", app.ApplicationObjectID, PermApplicationOwnedBy); err != nil && !IsNotFound(err) {
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
		return err
	}
	if !purge {
		return nil
	}
	return WaitFor(ctx, func(ctx context.Context) (bool, error) {
		err := c.sdk.Directory().DeletedItems().ByDirectoryObjectId(app.ApplicationObjectID).Delete(ctx, nil)
		err = wrap(err, "permanently delete the application from deleted items", app.ApplicationObjectID, PermApplicationOwnedBy)
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

