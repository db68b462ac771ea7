package main

import (
	"context"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/pluginserver"
	entranetskope "github.com/entranetskope/terraform-provider-entranetskope/internal/provider"
)

// BenchmarkCalls is the CPU of each call Terraform makes per instance in a no-change plan, for the
// no-op resource through the framework and answered at the protocol: what the framework costs a
// plugin per instance, which the provider's fast path (pluginserver.FastPath) saves.
func BenchmarkCalls(b *testing.B) {
	ctx := context.Background()
	server := &protocolServer{ProviderServer: pluginserver.New(withNoop{entranetskope.New("bench")()}, nil)()}
	sch, err := server.GetProviderSchema(ctx, &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		b.Fatal(err)
	}
	typ := sch.ResourceSchemas[frameworkType].ValueType()
	str := func(s string) tftypes.Value { return tftypes.NewValue(tftypes.String, s) }
	tt := typ.(tftypes.Object).AttributeTypes["timeouts"]
	state := tftypes.NewValue(typ, map[string]tftypes.Value{
		"id": str("x"), "service_principal_id": str("3b1a9c4e-7f62-4d85-b0e3-6c2f1d8a9e47"), "principal_id": str("8e2f4a6c-1b3d-4e5f-9a7b-0c1d2e3f4a5b"),
		"app_role_id": str("a7c3e1d2-0000-4000-8000-000000000001"), "principal_type": str("User"), "principal_display_name": str("Alice"),
		"timeouts": tftypes.NewValue(tt, nil),
	})
	config := tftypes.NewValue(typ, map[string]tftypes.Value{
		"id": tftypes.NewValue(tftypes.String, nil), "service_principal_id": str("3b1a9c4e-7f62-4d85-b0e3-6c2f1d8a9e47"), "principal_id": str("8e2f4a6c-1b3d-4e5f-9a7b-0c1d2e3f4a5b"),
		"app_role_id": tftypes.NewValue(tftypes.String, nil), "principal_type": tftypes.NewValue(tftypes.String, nil), "principal_display_name": tftypes.NewValue(tftypes.String, nil),
		"timeouts": tftypes.NewValue(tt, nil),
	})
	sdv, _ := tfprotov6.NewDynamicValue(typ, state)
	cdv, _ := tfprotov6.NewDynamicValue(typ, config)
	rawJSON := []byte(`{"id":"x","service_principal_id":"3b1a9c4e-7f62-4d85-b0e3-6c2f1d8a9e47","principal_id":"8e2f4a6c-1b3d-4e5f-9a7b-0c1d2e3f4a5b","app_role_id":"a7c3e1d2-0000-4000-8000-000000000001","principal_type":"User","principal_display_name":"Alice","timeouts":null}`)
	// Terraform sends state as JSON to UpgradeResourceState, and as msgpack to the others.
	for _, tn := range []string{frameworkType, protocolType} {
		b.Run(tn+"/ValidateResourceConfig", func(b *testing.B) {
			for range b.N {
				r, err := server.ValidateResourceConfig(ctx, &tfprotov6.ValidateResourceConfigRequest{TypeName: tn, Config: &cdv})
				if err != nil || len(r.Diagnostics) > 0 {
					b.Fatal(err, r.Diagnostics)
				}
			}
		})
		b.Run(tn+"/UpgradeResourceState", func(b *testing.B) {
			for range b.N {
				r, err := server.UpgradeResourceState(ctx, &tfprotov6.UpgradeResourceStateRequest{TypeName: tn, RawState: &tfprotov6.RawState{JSON: rawJSON}})
				if err != nil || len(r.Diagnostics) > 0 {
					b.Fatal(err, r.Diagnostics)
				}
			}
		})
		b.Run(tn+"/ReadResource", func(b *testing.B) {
			for range b.N {
				r, err := server.ReadResource(ctx, &tfprotov6.ReadResourceRequest{TypeName: tn, CurrentState: &sdv})
				if err != nil || len(r.Diagnostics) > 0 {
					b.Fatal(err, r.Diagnostics)
				}
			}
		})
		b.Run(tn+"/PlanResourceChange", func(b *testing.B) {
			for range b.N {
				r, err := server.PlanResourceChange(ctx, &tfprotov6.PlanResourceChangeRequest{TypeName: tn, Config: &cdv, PriorState: &sdv, ProposedNewState: &sdv})
				if err != nil || len(r.Diagnostics) > 0 {
					b.Fatal(err, r.Diagnostics)
				}
			}
		})
	}
}

// With WriteLatencyEnv set (the bench's latency-each form), the protocol resource's creates and
// deletes wait that long before answering, and its other calls do not.
func TestProtocolWritesWaitTheLatency(t *testing.T) {
	const latency = 300 * time.Millisecond
	t.Setenv(WriteLatencyEnv, "300")
	ctx := context.Background()
	server := &protocolServer{ProviderServer: pluginserver.New(withNoop{entranetskope.New("bench")()}, nil)()}
	sch, err := server.GetProviderSchema(ctx, &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	typ := sch.ResourceSchemas[protocolType].ValueType()
	tt := typ.(tftypes.Object).AttributeTypes["timeouts"]
	str := func(s string) tftypes.Value { return tftypes.NewValue(tftypes.String, s) }
	unknown := tftypes.NewValue(tftypes.String, tftypes.UnknownValue)
	value := func(id, display tftypes.Value) *tfprotov6.DynamicValue {
		dv, err := tfprotov6.NewDynamicValue(typ, tftypes.NewValue(typ, map[string]tftypes.Value{
			"id": id, "service_principal_id": str("sp"), "principal_id": str("p"),
			"app_role_id": str("r"), "principal_type": str("User"), "principal_display_name": display,
			"timeouts": tftypes.NewValue(tt, nil),
		}))
		if err != nil {
			t.Fatal(err)
		}
		return &dv
	}
	null, _ := tfprotov6.NewDynamicValue(typ, tftypes.NewValue(typ, nil))
	state := value(str("x"), str("Alice"))
	for _, c := range []struct {
		name           string
		prior, planned *tfprotov6.DynamicValue
		waits          bool
	}{
		{"create", &null, value(unknown, unknown), true},
		{"update", state, value(str("x"), str("Bob")), false},
		{"delete", state, &null, true},
	} {
		start := time.Now()
		resp, err := server.ApplyResourceChange(ctx, &tfprotov6.ApplyResourceChangeRequest{TypeName: protocolType, PriorState: c.prior, PlannedState: c.planned, Config: c.planned})
		took := time.Since(start)
		if err != nil || len(resp.Diagnostics) > 0 {
			t.Fatalf("%s: %v %v", c.name, err, resp.Diagnostics)
		}
		if waited := took >= latency; waited != c.waits {
			t.Errorf("%s took %v: waited %v, want %v (latency %v)", c.name, took, waited, c.waits, latency)
		}
	}
}
