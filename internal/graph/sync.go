package graph

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

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

// Job is a synchronization (provisioning) job as far as the provider cares.
type Job struct {
	ID                              string
	TemplateID                      string
	ScheduleState                   string // Active | Disabled | Paused
	Interval                        string // ISO 8601 duration, e.g. PT40M
	StatusCode                      string // NotConfigured | NotRun | Active | Paused | Quarantine
	CountSuccessiveCompleteFailures int64
	LastExecutionState              string
	LastExecutionEnded              time.Time // zero before the first cycle ends
	LastExecutionError              string
	QuarantineReason                string
}

func jobFrom(j models.SynchronizationJobable) *Job {
	out := &Job{ID: deref(j.GetId()), TemplateID: deref(j.GetTemplateId())}
	if s := j.GetSchedule(); s != nil {
		if st := s.GetState(); st != nil {
			out.ScheduleState = strings.TrimSpace(st.String())
			out.ScheduleState = strings.ToUpper(out.ScheduleState[:1]) + out.ScheduleState[1:]
		}
		if iv := s.GetInterval(); iv != nil {
			out.Interval = iv.String()
		}
	}
	if st := j.GetStatus(); st != nil {
		if code := st.GetCode(); code != nil {
			out.StatusCode = code.String()
			out.StatusCode = strings.ToUpper(out.StatusCode[:1]) + out.StatusCode[1:]
		}
		out.CountSuccessiveCompleteFailures = deref(st.GetCountSuccessiveCompleteFailures())
		if le := st.GetLastExecution(); le != nil {
			if s := le.GetState(); s != nil {
				out.LastExecutionState = s.String()
			}
			if t := le.GetTimeEnded(); t != nil {
				out.LastExecutionEnded = t.UTC()
			}
			if e := le.GetError(); e != nil {
				out.LastExecutionError = deref(e.GetMessage())
			}
		}
		if q := st.GetQuarantine(); q != nil && q.GetReason() != nil {
			out.QuarantineReason = q.GetReason().String()
		}
	}
	return out
}

// CreateJob creates a synchronization job from a template and waits until it can be read.
func (c *Client) CreateJob(ctx context.Context, spID, templateID string) (*Job, error) {
	body := models.NewSynchronizationJob()
	body.SetTemplateId(&templateID)
	j, err := c.sdk.ServicePrincipals().ByServicePrincipalId(spID).Synchronization().Jobs().Post(ctx, body, nil)
	if err != nil {
		return nil, wrap(err, "create the provisioning job", "service principal "+spID+", template "+templateID, PermSynchronization)
	}
	job := jobFrom(j)
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

// GetJob reads a synchronization job.
func (c *Client) GetJob(ctx context.Context, spID, jobID string) (*Job, error) {
	j, err := c.sdk.ServicePrincipals().ByServicePrincipalId(spID).Synchronization().Jobs().BySynchronizationJobId(jobID).Get(ctx, nil)
	if err != nil {
		return nil, wrap(err, "read the provisioning job", jobID, PermSynchronization)
	}
	return jobFrom(j), nil
}

// ListJobs lists the app's synchronization jobs.
func (c *Client) ListJobs(ctx context.Context, spID string) ([]*Job, error) {
	return c.listJobs(ctx, spID, PermSynchronization)
}

// listJobs is ListJobs naming permission in a refusal.
func (c *Client) listJobs(ctx context.Context, spID, permission string) ([]*Job, error) {
	resp, err := c.sdk.ServicePrincipals().ByServicePrincipalId(spID).Synchronization().Jobs().Get(ctx, nil)
	if err != nil {
		return nil, wrap(err, "list the provisioning jobs", "service principal "+spID, permission)
	}
	var out []*Job
	for _, j := range resp.GetValue() {
		out = append(out, jobFrom(j))
	}
	return out, nil
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
	body := serviceprincipals.NewItemSynchronizationJobsItemRestartPostRequestBody()
	criteria := models.NewSynchronizationJobRestartCriteria()
	scope := models.SynchronizationJobRestartScope(models.WATERMARK_SYNCHRONIZATIONJOBRESTARTSCOPE | models.ESCROWS_SYNCHRONIZATIONJOBRESTARTSCOPE | models.QUARANTINESTATE_SYNCHRONIZATIONJOBRESTARTSCOPE)
	criteria.SetResetScope(&scope)
	body.SetCriteria(criteria)
	err := c.sdk.ServicePrincipals().ByServicePrincipalId(spID).Synchronization().Jobs().BySynchronizationJobId(jobID).Restart().Post(ctx, body, nil)
	return wrap(err, "restart the provisioning job", jobID, PermSynchronization)
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
