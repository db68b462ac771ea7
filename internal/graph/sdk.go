package graph

import (
	abstractions "github.com/microsoft/kiota-abstractions-go"
	absser "github.com/microsoft/kiota-abstractions-go/serialization"
	"github.com/microsoft/kiota-abstractions-go/store"
	jsonser "github.com/microsoft/kiota-serialization-json-go"
	textser "github.com/microsoft/kiota-serialization-text-go"
	"github.com/microsoftgraph/msgraph-sdk-go/applications"
	"github.com/microsoftgraph/msgraph-sdk-go/applicationswithappid"
	"github.com/microsoftgraph/msgraph-sdk-go/applicationtemplates"
	"github.com/microsoftgraph/msgraph-sdk-go/auditlogs"
	"github.com/microsoftgraph/msgraph-sdk-go/directory"
	"github.com/microsoftgraph/msgraph-sdk-go/serviceprincipals"
	"github.com/microsoftgraph/msgraph-sdk-go/serviceprincipalswithappid"
)

// sdkVersion is the msgraph-sdk-go release in go.mod, sent in the SdkVersion header as the root package does.
const sdkVersion = "1.89.0"

// sdkClient is the part of msgraph-sdk-go's service client this package calls. It is built from the
// request-builder packages alone: the root package links every Graph area (drives, sites, Teams,
// device management ...), which tripled the provider binary for nothing it ever sends.
type sdkClient struct {
	path    map[string]string
	adapter abstractions.RequestAdapter
}

// newSDKClient does what msgraphsdk.NewGraphServiceClient does for the builders below: register
// the JSON and text (de)serializers Graph answers with, point the path at the adapter's base URL
// and enable the backing store the models are generated for.
func newSDKClient(adapter abstractions.RequestAdapter) *sdkClient {
	abstractions.RegisterDefaultSerializer(func() absser.SerializationWriterFactory { return jsonser.NewJsonSerializationWriterFactory() })
	abstractions.RegisterDefaultSerializer(func() absser.SerializationWriterFactory { return textser.NewTextSerializationWriterFactory() })
	abstractions.RegisterDefaultDeserializer(func() absser.ParseNodeFactory { return jsonser.NewJsonParseNodeFactory() })
	abstractions.RegisterDefaultDeserializer(func() absser.ParseNodeFactory { return textser.NewTextParseNodeFactory() })
	adapter.EnableBackingStore(store.BackingStoreFactoryInstance)
	return &sdkClient{path: map[string]string{"baseurl": adapter.GetBaseUrl()}, adapter: adapter}
}

// params is a copy: the builders keep the map they are given and add their own segments to copies.
func (s *sdkClient) params() map[string]string {
	return map[string]string{"baseurl": s.path["baseurl"]}
}

func (s *sdkClient) Applications() *applications.ApplicationsRequestBuilder {
	return applications.NewApplicationsRequestBuilderInternal(s.params(), s.adapter)
}

func (s *sdkClient) ApplicationsWithAppId(appID *string) *applicationswithappid.ApplicationsWithAppIdRequestBuilder { //nolint:revive // the SDK's name
	return applicationswithappid.NewApplicationsWithAppIdRequestBuilderInternal(s.params(), s.adapter, appID)
}

func (s *sdkClient) ApplicationTemplates() *applicationtemplates.ApplicationTemplatesRequestBuilder {
	return applicationtemplates.NewApplicationTemplatesRequestBuilderInternal(s.params(), s.adapter)
}

// AuditLogs is the reports API: sign-ins, directory audits and provisioning logs, 164 KB of builders.
func (s *sdkClient) AuditLogs() *auditlogs.AuditLogsRequestBuilder {
	return auditlogs.NewAuditLogsRequestBuilderInternal(s.params(), s.adapter)
}

func (s *sdkClient) Directory() *directory.DirectoryRequestBuilder {
	return directory.NewDirectoryRequestBuilderInternal(s.params(), s.adapter)
}

func (s *sdkClient) ServicePrincipals() *serviceprincipals.ServicePrincipalsRequestBuilder {
	return serviceprincipals.NewServicePrincipalsRequestBuilderInternal(s.params(), s.adapter)
}

func (s *sdkClient) ServicePrincipalsWithAppId(appID *string) *serviceprincipalswithappid.ServicePrincipalsWithAppIdRequestBuilder { //nolint:revive // the SDK's name
	return serviceprincipalswithappid.NewServicePrincipalsWithAppIdRequestBuilderInternal(s.params(), s.adapter, appID)
}

// The users and groups request-builder packages each hold every path under them (a user's mail,
// calendar, drive, Teams ...), 3.5 MB of code apiece that the linker must keep, since
// terraform-plugin-go links reflect's MethodByName. The provider only lists users and groups inside
// $batch requests, so it builds those GETs itself, with the SDK's own URL templates.
const (
	usersTemplate             = "{+baseurl}/users{?%24filter,%24select,%24top}"
	groupsTemplate            = "{+baseurl}/groups{?%24filter,%24select,%24top}"
	groupNestedGroupsTemplate = "{+baseurl}/groups/{group%2Did}/members/graph.group{?%24filter,%24select,%24top}"
)

// listQuery is the query of a directory list, tagged as the SDK's generated query parameters are.
type listQuery struct {
	Filter *string  `uriparametername:"%24filter"`
	Select []string `uriparametername:"%24select"`
	Top    *int32   `uriparametername:"%24top"`
}

// list is a GET of a collection, as the SDK's ToGetRequestInformation builds it.
func (s *sdkClient) list(template string, path map[string]string, q listQuery) *abstractions.RequestInformation {
	params := s.params()
	for k, v := range path {
		params[k] = v
	}
	info := abstractions.NewRequestInformationWithMethodAndUrlTemplateAndPathParameters(abstractions.GET, template, params)
	info.AddQueryParameters(q)
	info.Headers.TryAdd("Accept", "application/json")
	return info
}
