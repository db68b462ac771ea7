package pluginserver

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
)

type requestKey struct{}

// emptyProvider is a provider with nothing in it: what is measured here is the server around it.
type emptyProvider struct{}

func (emptyProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "empty"
}
func (emptyProvider) Schema(context.Context, provider.SchemaRequest, *provider.SchemaResponse) {}
func (emptyProvider) Configure(context.Context, provider.ConfigureRequest, *provider.ConfigureResponse) {
}
func (emptyProvider) DataSources(context.Context) []func() datasource.DataSource { return nil }
func (emptyProvider) Resources(context.Context) []func() resource.Resource       { return nil }

// heapGrowth answers n requests, each with a context carrying 16 KB (what terraform-plugin-go's
// per-request loggers weigh) and ended after its answer as gRPC ends it, and returns how much the
// in-use heap grew per request.
func heapGrowth(t *testing.T, srv tfprotov6.ProviderServer, n int) float64 {
	t.Helper()
	inUse := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := inUse()
	for range n {
		ctx, cancel := context.WithCancel(context.WithValue(context.Background(), requestKey{}, make([]byte, 16<<10)))
		if _, err := srv.GetMetadata(ctx, &tfprotov6.GetMetadataRequest{}); err != nil {
			t.Fatal(err)
		}
		cancel()
	}
	after := inUse()
	runtime.KeepAlive(srv)
	return (float64(after) - float64(before)) / float64(n)
}

// The framework keeps every request's context until StopProvider; the provider's server lets go of
// each once it is answered, so a long run does not keep every request it answered.
func TestNew_releasesRequestContexts(t *testing.T) {
	const n = 2000
	bare := heapGrowth(t, providerserver.NewProtocol6(emptyProvider{})(), n)
	ours := heapGrowth(t, New(emptyProvider{}, nil)(), n)
	t.Logf("heap kept per request: framework %.0f bytes, New %.0f bytes", bare, ours)
	if ours > 1024 {
		t.Errorf("New keeps %.0f bytes per request answered, want under 1 KB", ours)
	}
	if bare < 8<<10 {
		t.Errorf("the framework kept only %.0f bytes per request: it no longer keeps request contexts, and New's releasingServer can go", bare)
	}
}

// While a request is being answered its context is the request's: values, deadline, cancellation.
// Once answered it holds no value, and says the request ended.
func TestReleaseAfter(t *testing.T) {
	deadline := time.Now().Add(time.Hour)
	parent, cancel := context.WithDeadline(context.WithValue(context.Background(), requestKey{}, "v"), deadline)
	ctx, release := releaseAfter(parent)
	if ctx.Value(requestKey{}) != "v" {
		t.Error("value not passed on while answering")
	}
	if d, ok := ctx.Deadline(); !ok || !d.Equal(deadline) {
		t.Errorf("deadline %v %v, want %v", d, ok, deadline)
	}
	child, stopChild := context.WithCancel(ctx)
	defer stopChild()
	if ctx.Err() != nil || child.Err() != nil {
		t.Fatal("ended before the request did")
	}
	release()
	if ctx.Value(requestKey{}) != nil || child.Value(requestKey{}) != nil {
		t.Error("value still held after the answer")
	}
	if ctx.Err() != nil {
		t.Errorf("Err = %v before the request ended", ctx.Err())
	}
	cancel()
	select {
	case <-child.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("a context derived while answering was not cancelled with the request")
	}
	if !errors.Is(ctx.Err(), context.Canceled) || !errors.Is(child.Err(), context.Canceled) {
		t.Errorf("Err = %v, %v; want context.Canceled", ctx.Err(), child.Err())
	}

	// Released after the request ended: its error is kept.
	parent2, cancel2 := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel2()
	<-parent2.Done()
	ctx2, release2 := releaseAfter(parent2)
	release2()
	if !errors.Is(ctx2.Err(), context.DeadlineExceeded) {
		t.Errorf("Err = %v, want context.DeadlineExceeded", ctx2.Err())
	}
}
