package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/resource"
)

// actionRecord gives a resource that records an action (a provision on demand, a restart) its Read,
// Update and Delete: the action is not an object Entra holds, so refresh keeps the record as it is,
// an update that does not run the action again (timeouts, a confirmation) saves the plan, and
// destroy forgets the record without undoing anything.
type actionRecord struct{}

func (actionRecord) Read(_ context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	resp.State.Raw = req.State.Raw
}

func (actionRecord) Update(_ context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	resp.State.Raw = req.Plan.Raw
}

func (actionRecord) Delete(context.Context, resource.DeleteRequest, *resource.DeleteResponse) {}
