package provider

import (
	"encoding/json"
	"net/http"

	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
)

func decodeJSON(resp *http.Response, v any) error { return json.NewDecoder(resp.Body).Decode(v) }

// testServer is the provider's server as main serves it (Server), in the form the tests' provider
// factories take.
func testServer(newProvider func() provider.Provider) func() (tfprotov6.ProviderServer, error) {
	s := Server(newProvider)
	return func() (tfprotov6.ProviderServer, error) { return s(), nil }
}
