package graph

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/serviceprincipals"
)

// PermSynchronization is what the synchronization calls need on an app the client created.
const PermSynchronization = "Application.ReadWrite.OwnedBy (on an application the client owns) or Synchronization.ReadWrite.All"

// Secret keys Entra's provisioning uses.
const (
	SecretBaseAddress  = "BaseAddress"
	SecretToken        = "SecretToken"
	SecretSyncAll      = "SyncAll"
	SecretNotification = "SyncNotificationSettings"
)

// SyncTemplate is a synchronization template of an app.
type SyncTemplate struct {
	ID         string
	FactoryTag string
	Default    bool
}

// SyncTemplates lists the app's synchronization templates; none means the app cannot provision.
func (c *Client) SyncTemplates(ctx context.Context, spID string) ([]SyncTemplate, error) {
	resp, err := c.sdk.ServicePrincipals().ByServicePrincipalId(spID).Synchronization().Templates().Get(ctx, nil)
	if err != nil {
		return nil, wrap(err, "list the synchronization templates", "service principal "+spID, PermSynchronization)
	}
	var out []SyncTemplate
	for _, t := range resp.GetValue() {
		out = append(out, SyncTemplate{ID: deref(t.GetId()), FactoryTag: deref(t.GetFactoryTag()), Default: deref(t.GetDefaultEscaped())})
	}
	return out, nil
}

// CreateJob creates a synchronization job from a template and waits until it can be read.
func (c *Client) CreateJob(ctx context.Context, spID, templateID string) (*Job, error) {
	body := models.NewSynchronizationJob()
	body.SetTemplateId(&templateID)
	j, err := c.sdk.ServicePrincipals().ByServicePrincipalId(spID).Synchronization().Jobs().Post(ctx, body, nil)
	if err != nil {
		return nil, wrap(err, "create the provisioning job", "service principal "+spID+", template "+templateID, PermSynchronization)
	}
	job := &Job{ID: deref(j.GetId()), TemplateID: deref(j.GetTemplateId())}
	err = WaitFor(ctx, func(ctx context.Context) (bool, error) {
		got, err := c.GetJob(ctx, spID, job.ID)
		if IsNotFound(err) {
			return false, nil
		}
		if err == nil {
			job = got
		}
		return err == nil, err
	})
	return job, err
}

// DeleteJob deletes a synchronization job; a job already gone is not an error.
func (c *Client) DeleteJob(ctx context.Context, spID, jobID string) error {
	err := c.sdk.ServicePrincipals().ByServicePrincipalId(spID).Synchronization().Jobs().BySynchronizationJobId(jobID).Delete(ctx, nil)
	err = wrap(err, "delete the provisioning job", jobID, PermSynchronization)
	if IsNotFound(err) {
		return nil
	}
	return err
}

// StartJob starts (or resumes) provisioning.
func (c *Client) StartJob(ctx context.Context, spID, jobID string) error {
	err := c.sdk.ServicePrincipals().ByServicePrincipalId(spID).Synchronization().Jobs().BySynchronizationJobId(jobID).Start().Post(ctx, nil)
	return wrap(err, "start the provisioning job", jobID, PermSynchronization)
}

// PauseJob pauses provisioning.
func (c *Client) PauseJob(ctx context.Context, spID, jobID string) error {
	err := c.sdk.ServicePrincipals().ByServicePrincipalId(spID).Synchronization().Jobs().BySynchronizationJobId(jobID).Pause().Post(ctx, nil)
	return wrap(err, "pause the provisioning job", jobID, PermSynchronization)
}

// RestartJob restarts provisioning so that a new scope applies from scratch.
func (c *Client) RestartJob(ctx context.Context, spID, jobID string) error {
	return c.RestartJobScoped(ctx, spID, jobID, []string{"Watermark", "Escrows", "QuarantineState"})
}

// Restart scopes (synchronizationJobRestartScope flags).
var RestartScopes = []string{"None", "ConnectorDataStore", "Escrows", "Watermark", "QuarantineState", "Full", "ForceDeletes"}

// RestartJobScoped restarts a job resetting what scopes name (RestartScopes values); none sends an
// empty resetScope, the portal's "Restart provisioning" (quarantine, watermark and escrows).
func (c *Client) RestartJobScoped(ctx context.Context, spID, jobID string, scopes []string) error {
	body := map[string]any{"criteria": map[string]string{"resetScope": strings.Join(scopes, ", ")}}
	return c.raw(ctx, http.MethodPost, "servicePrincipals/"+url.PathEscape(spID)+"/synchronization/jobs/"+url.PathEscape(jobID)+"/restart",
		body, nil, "restart the provisioning job", jobID, PermSynchronization)
}

func credentialPairs(baseURL, token string) []models.SynchronizationSecretKeyStringValuePairable {
	var out []models.SynchronizationSecretKeyStringValuePairable
	for k, v := range map[models.SynchronizationSecret]string{models.BASEADDRESS_SYNCHRONIZATIONSECRET: baseURL, models.SECRETTOKEN_SYNCHRONIZATIONSECRET: token} {
		p := models.NewSynchronizationSecretKeyStringValuePair()
		key, val := k, v
		p.SetKey(&key)
		p.SetValue(&val)
		out = append(out, p)
	}
	return out
}

// TestConnection runs Entra's "Test Connection" against the SCIM endpoint: with a job, on that job;
// without one, the job-less form on the template. Nothing is saved either way.
func (c *Client) TestConnection(ctx context.Context, spID, jobID, templateID, baseURL, token string) error {
	f := false
	jobs := c.sdk.ServicePrincipals().ByServicePrincipalId(spID).Synchronization().Jobs()
	var err error
	if jobID != "" {
		body := serviceprincipals.NewItemSynchronizationJobsItemValidateCredentialsPostRequestBody()
		body.SetUseSavedCredentials(&f)
		body.SetCredentials(credentialPairs(baseURL, token))
		err = jobs.BySynchronizationJobId(jobID).ValidateCredentials().Post(ctx, body, nil)
	} else {
		body := serviceprincipals.NewItemSynchronizationJobsValidateCredentialsPostRequestBody()
		body.SetUseSavedCredentials(&f)
		body.SetTemplateId(&templateID)
		body.SetCredentials(credentialPairs(baseURL, token))
		err = jobs.ValidateCredentials().Post(ctx, body, nil)
	}
	if err != nil {
		err = wrap(err, "test the connection to the SCIM endpoint", baseURL, PermSynchronization)
		var ge *Error
		if errors.As(err, &ge) && ge.Status != http.StatusForbidden && ge.Status != http.StatusUnauthorized {
			ge.Hint = "Check scim_base_url and the SCIM token: Entra could not use them to reach Netskope"
		}
		return err
	}
	return nil
}

// SetSecrets saves provisioning credentials and settings (key -> value; "" clears a key).
func (c *Client) SetSecrets(ctx context.Context, spID string, secrets map[string]string) error {
	body := serviceprincipals.NewItemSynchronizationSecretsPutRequestBody()
	var pairs []models.SynchronizationSecretKeyStringValuePairable
	for _, k := range slices.Sorted(maps.Keys(secrets)) {
		key, err := models.ParseSynchronizationSecret(k)
		if err != nil || key == nil {
			return fmt.Errorf("unknown synchronization secret %q", k)
		}
		p := models.NewSynchronizationSecretKeyStringValuePair()
		v := secrets[k]
		p.SetKey(key.(*models.SynchronizationSecret))
		p.SetValue(&v)
		pairs = append(pairs, p)
	}
	body.SetValue(pairs)
	_, err := c.sdk.ServicePrincipals().ByServicePrincipalId(spID).Synchronization().Secrets().Put(ctx, body, nil)
	return wrap(err, "save the provisioning credentials and settings", "service principal "+spID, PermSynchronization)
}

// Secrets reads the saved provisioning settings. Graph masks secret values (the token) as "*".
// The SDK has no call for this undocumented GET, so it goes raw.
func (c *Client) Secrets(ctx context.Context, spID string) (map[string]string, error) {
	var out struct {
		Value []struct {
			Key   string `json:"key"`
			Value string `json:"value"`
		} `json:"value"`
	}
	if err := c.raw(ctx, http.MethodGet, "servicePrincipals/"+spID+"/synchronization/secrets", nil, &out,
		"read the provisioning settings", "service principal "+spID, PermSynchronization); err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, kv := range out.Value {
		m[kv.Key] = kv.Value
	}
	return m, nil
}
