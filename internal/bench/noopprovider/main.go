// Command noopprovider is the bench's plugin floor: terraform-provider-entranetskope as main serves
// it (the same binary's code, protocol server and runtime settings), with two more resources of
// entranetskope_app_assignment's schema that make no request at all. The bench's no-op forms
// (plugin-each, protocol-each) use them in place of entranetskope_app_assignment, in the same
// configuration and the same one provider process. Measured against the terraform_data floor, they
// show what any plugin provider of that shape costs Terraform:
//   - entranetskope_noop_assignment goes through the framework like the provider's own resources;
//   - entranetskope_protocol_noop_assignment is answered at the protocol, without the framework:
//     each call does only what Terraform needs of any provider (state upgraded from JSON, computed
//     values planned and set on create), which is the least a plugin can do.
//
// With WriteLatencyEnv set (the bench's latency-each form), the protocol resource's creates and
// deletes each wait that many milliseconds before answering: one Graph request's latency, the least
// a provider that hears back from Graph about each write can take.
//
// For the bench's plan after 1% removed, both find gone, on refresh, the assignments of the
// principals listed in the file GoneEnv names (one object id per line; written by the bench before
// that plan), as entranetskope_app_assignment finds the assignments the bench deletes in Graph: the
// no-op forms then show what that drift costs Terraform, which a terraform_data floor never sees.
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6/tf6server"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/pluginserver"
	entranetskope "github.com/entranetskope/terraform-provider-entranetskope/internal/provider"
)

func main() {
	pluginserver.Tune()
	framework := pluginserver.New(withNoop{entranetskope.New("bench")()}, nil)
	server := func() tfprotov6.ProviderServer { return &protocolServer{ProviderServer: framework()} }
	if err := tf6server.Serve("registry.terraform.io/entranetskope/entranetskope", server); err != nil {
		log.Fatal(err)
	}
}

// withNoop is the provider with the no-op framework resource added.
type withNoop struct{ provider.Provider }

func (p withNoop) Resources(ctx context.Context) []func() resource.Resource {
	resources := p.Provider.Resources(ctx)
	for _, r := range resources {
		var md resource.MetadataResponse
		r().Metadata(ctx, resource.MetadataRequest{ProviderTypeName: "entranetskope"}, &md)
		if md.TypeName == "entranetskope_app_assignment" {
			return append(resources, func() resource.Resource { return &assignment{real: r()} })
		}
	}
	panic("the provider has no entranetskope_app_assignment")
}

// assignment is a resource with entranetskope_app_assignment's schema (validators and plan
// modifiers included) that does nothing.
type assignment struct{ real resource.Resource }

var ids atomic.Int64

func (a *assignment) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_noop_assignment"
}

func (a *assignment) Schema(ctx context.Context, req resource.SchemaRequest, resp *resource.SchemaResponse) {
	a.real.Schema(ctx, req, resp)
}

func (a *assignment) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	state, err := fill(req.Plan.Raw, nil)
	if err != nil {
		resp.Diagnostics.AddError("fill", err.Error())
		return
	}
	resp.State.Raw = state
}

// Read keeps the state as it is (the framework answers with the prior state), or finds the
// assignment gone when its principal is listed as gone.
func (a *assignment) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	if len(gone()) == 0 {
		return
	}
	var principal string
	resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("principal_id"), &principal)...)
	if gone()[principal] {
		resp.State.RemoveResource(ctx)
	}
}

// GoneEnv names the file listing the principals whose assignments a refresh finds gone.
const GoneEnv = "ENTRANETSKOPE_NOOP_GONE"

// gone is the set GoneEnv lists, read once per provider process (Terraform starts one per command);
// no file, no drift.
var gone = sync.OnceValue(func() map[string]bool {
	set := map[string]bool{}
	b, err := os.ReadFile(os.Getenv(GoneEnv))
	if err != nil {
		return set
	}
	for _, id := range strings.Fields(string(b)) {
		set[id] = true
	}
	return set
})

// WriteLatencyEnv names the milliseconds each create and delete of protocolType waits before it
// answers (unset or 0: none).
const WriteLatencyEnv = "ENTRANETSKOPE_NOOP_WRITE_LATENCY_MS"

// writeLatency is what WriteLatencyEnv says, read once per provider process.
var writeLatency = sync.OnceValue(func() time.Duration {
	ms, err := strconv.Atoi(os.Getenv(WriteLatencyEnv))
	if err != nil || ms < 0 {
		return 0
	}
	return time.Duration(ms) * time.Millisecond
})

func (a *assignment) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	resp.State.Raw = req.Plan.Raw
}

func (a *assignment) Delete(context.Context, resource.DeleteRequest, *resource.DeleteResponse) {}

// protocolType is the resource answered at the protocol; it has the framework resource's schema.
const (
	frameworkType = "entranetskope_noop_assignment"
	protocolType  = "entranetskope_protocol_noop_assignment"
)

// protocolServer is the framework's server, with protocolType's calls answered here.
type protocolServer struct {
	tfprotov6.ProviderServer
	typ tftypes.Type // protocolType's value type, from the first GetProviderSchema
}

func (s *protocolServer) GetMetadata(ctx context.Context, req *tfprotov6.GetMetadataRequest) (*tfprotov6.GetMetadataResponse, error) {
	resp, err := s.ProviderServer.GetMetadata(ctx, req)
	if err == nil {
		resp.Resources = append(resp.Resources, tfprotov6.ResourceMetadata{TypeName: protocolType})
	}
	return resp, err
}

func (s *protocolServer) GetProviderSchema(ctx context.Context, req *tfprotov6.GetProviderSchemaRequest) (*tfprotov6.GetProviderSchemaResponse, error) {
	resp, err := s.ProviderServer.GetProviderSchema(ctx, req)
	if err == nil && resp.ResourceSchemas[frameworkType] != nil {
		resp.ResourceSchemas[protocolType] = resp.ResourceSchemas[frameworkType]
		s.typ = resp.ResourceSchemas[protocolType].ValueType()
	}
	return resp, err
}

func (s *protocolServer) ValidateResourceConfig(ctx context.Context, req *tfprotov6.ValidateResourceConfigRequest) (*tfprotov6.ValidateResourceConfigResponse, error) {
	if req.TypeName != protocolType {
		return s.ProviderServer.ValidateResourceConfig(ctx, req)
	}
	return &tfprotov6.ValidateResourceConfigResponse{}, nil
}

func (s *protocolServer) UpgradeResourceState(ctx context.Context, req *tfprotov6.UpgradeResourceStateRequest) (*tfprotov6.UpgradeResourceStateResponse, error) {
	if req.TypeName != protocolType {
		return s.ProviderServer.UpgradeResourceState(ctx, req)
	}
	v, err := req.RawState.UnmarshalWithOpts(s.typ, tfprotov6.UnmarshalOpts{ValueFromJSONOpts: tftypes.ValueFromJSONOpts{IgnoreUndefinedAttributes: true}})
	if err != nil {
		return nil, err
	}
	dv, err := tfprotov6.NewDynamicValue(s.typ, v)
	return &tfprotov6.UpgradeResourceStateResponse{UpgradedState: &dv}, err
}

func (s *protocolServer) ReadResource(ctx context.Context, req *tfprotov6.ReadResourceRequest) (*tfprotov6.ReadResourceResponse, error) {
	if req.TypeName != protocolType {
		return s.ProviderServer.ReadResource(ctx, req)
	}
	if len(gone()) > 0 {
		state, err := req.CurrentState.Unmarshal(s.typ)
		if err != nil {
			return nil, err
		}
		attrs := map[string]tftypes.Value{}
		var principal string
		if err := state.As(&attrs); err == nil && attrs["principal_id"].As(&principal) == nil && gone()[principal] {
			null, err := tfprotov6.NewDynamicValue(s.typ, tftypes.NewValue(s.typ, nil))
			return &tfprotov6.ReadResourceResponse{NewState: &null}, err
		}
	}
	return &tfprotov6.ReadResourceResponse{NewState: req.CurrentState, Private: req.Private}, nil
}

// PlanResourceChange plans the computed values unknown on create; otherwise the proposed state
// (the prior state's computed values with the configuration) is the plan.
func (s *protocolServer) PlanResourceChange(ctx context.Context, req *tfprotov6.PlanResourceChangeRequest) (*tfprotov6.PlanResourceChangeResponse, error) {
	if req.TypeName != protocolType {
		return s.ProviderServer.PlanResourceChange(ctx, req)
	}
	resp := &tfprotov6.PlanResourceChangeResponse{PlannedState: req.ProposedNewState, PlannedPrivate: req.PriorPrivate}
	prior, err := req.PriorState.Unmarshal(s.typ)
	if err != nil || !prior.IsNull() {
		return resp, err
	}
	planned, err := s.fillValue(req.ProposedNewState, tftypes.UnknownValue)
	resp.PlannedState = planned
	return resp, err
}

func (s *protocolServer) ApplyResourceChange(ctx context.Context, req *tfprotov6.ApplyResourceChangeRequest) (*tfprotov6.ApplyResourceChangeResponse, error) {
	if req.TypeName != protocolType {
		return s.ProviderServer.ApplyResourceChange(ctx, req)
	}
	resp := &tfprotov6.ApplyResourceChangeResponse{NewState: req.PlannedState, Private: req.PlannedPrivate}
	var err error
	planned, uerr := req.PlannedState.Unmarshal(s.typ)
	if uerr != nil {
		return resp, uerr
	}
	if prior, uerr := req.PriorState.Unmarshal(s.typ); uerr != nil {
		return resp, uerr
	} else if d := writeLatency(); d > 0 && (prior.IsNull() || planned.IsNull()) {
		select { // a create or a delete: one write's round trip
		case <-time.After(d):
		case <-ctx.Done():
			return resp, ctx.Err()
		}
	}
	if planned.IsNull() || planned.IsFullyKnown() {
		return resp, nil // destroyed, or nothing left to set
	}
	resp.NewState, err = s.fillValue(req.PlannedState, nil)
	return resp, err
}

// fillValue is fill on an encoded value.
func (s *protocolServer) fillValue(v *tfprotov6.DynamicValue, value any) (*tfprotov6.DynamicValue, error) {
	val, err := v.Unmarshal(s.typ)
	if err != nil {
		return nil, err
	}
	if val, err = fill(val, value); err != nil {
		return nil, err
	}
	dv, err := tfprotov6.NewDynamicValue(s.typ, val)
	return &dv, err
}

// fill sets the computed attributes that are null or unknown in val to value, or, with a nil value,
// to what a create returns.
func fill(val tftypes.Value, value any) (tftypes.Value, error) {
	attrs := map[string]tftypes.Value{}
	if err := val.As(&attrs); err != nil {
		return val, err
	}
	created := map[string]string{
		"id":                     fmt.Sprintf("noop-%d", ids.Add(1)),
		"app_role_id":            "00000000-0000-0000-0000-000000000001",
		"principal_type":         "User",
		"principal_display_name": "noop",
	}
	for name, created := range created {
		if attrs[name].IsNull() || !attrs[name].IsKnown() {
			if value == nil {
				attrs[name] = tftypes.NewValue(tftypes.String, created)
			} else {
				attrs[name] = tftypes.NewValue(tftypes.String, value)
			}
		}
	}
	return tftypes.NewValue(val.Type(), attrs), nil
}
