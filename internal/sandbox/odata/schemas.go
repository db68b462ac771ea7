package odata

// The collections the sandbox serves. Filter support follows Graph's documentation per property where
// the sandbox already honoured it; anything not listed here is refused with Graph's code, so a provider
// that leans on more finds out here rather than in a customer's tenant.

// props builds properties of one kind taking the same operators.
func props(kind Kind, filter, advanced Ops, names ...string) []Property {
	out := make([]Property, len(names))
	for i, n := range names {
		out[i] = Property{Name: n, Kind: kind, Filter: filter, AdvancedFilter: advanced}
	}
	return out
}

func concat(lists ...[]Property) []Property {
	var out []Property
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// Directory objects: eq, in and startsWith by default; ne, not and endsWith as advanced queries.
var (
	userProps = concat(
		props(String, Basic, AdvancedOps, "id", "userPrincipalName", "mail", "displayName", "givenName", "surname", "mailNickname"),
		props(Bool, Eq|In, Ne|Not, "accountEnabled"),
		props(String, 0, 0, "jobTitle", "mobilePhone", "officeLocation", "preferredLanguage"),
		props(DateTime, 0, 0, "createdDateTime", "deletedDateTime"),
		props(StringCollection, 0, 0, "businessPhones"),
	)
	groupProps = concat(
		props(String, Basic, AdvancedOps, "id", "displayName", "mailNickname", "mail", "description"),
		props(Bool, Eq|In, Ne|Not, "mailEnabled", "securityEnabled"),
		props(Bool, 0, 0, "isAssignableToRole"),
		props(String, 0, 0, "classification", "membershipRule", "membershipRuleProcessingState", "securityIdentifier", "visibility"),
		props(DateTime, 0, 0, "createdDateTime", "deletedDateTime", "renewedDateTime"),
		props(StringCollection, 0, 0, "groupTypes", "proxyAddresses"),
	)
)

// Users is /users.
var Users = NewSchema(Schema{
	TypeName: "Microsoft.DirectoryServices.User", Resource: "User", Advanced: true, Properties: userProps,
	Defaults: []string{"businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone", "officeLocation", "preferredLanguage", "surname", "userPrincipalName", "id"},
})

// Groups is /groups.
var Groups = NewSchema(Schema{
	TypeName: "Microsoft.DirectoryServices.Group", Resource: "Group", Advanced: true, Properties: groupProps,
	Defaults: []string{"id", "deletedDateTime", "classification", "createdDateTime", "description", "displayName", "groupTypes",
		"isAssignableToRole", "mail", "mailEnabled", "mailNickname", "membershipRule", "membershipRuleProcessingState",
		"proxyAddresses", "renewedDateTime", "securityEnabled", "securityIdentifier", "visibility"},
})

// DirectoryObjects is a collection of mixed directory objects (group members): $select may name any
// property of a user, group or service principal; $filter only id. Its handler renders each object's
// own defaults (Defaults is nil: Project copies what it is given).
var DirectoryObjects = NewSchema(Schema{
	TypeName: "Microsoft.DirectoryServices.DirectoryObject", Resource: "DirectoryObject", Advanced: true,
	Properties: func() []Property {
		seen := map[string]bool{}
		var out []Property
		for _, p := range concat(userProps, groupProps,
			props(String, 0, 0, "appId", "appDisplayName", "servicePrincipalType"),
			props(Bool, 0, 0, "appRoleAssignmentRequired"),
			props(StringCollection, 0, 0, "servicePrincipalNames", "tags"),
			props(Complex, 0, 0, "appRoles")) {
			if p.Name == "id" {
				p.Filter, p.AdvancedFilter = Basic, AdvancedOps
			} else {
				p.Filter, p.AdvancedFilter = 0, 0
			}
			if !seen[p.Name] {
				seen[p.Name] = true
				out = append(out, p)
			}
		}
		return out
	}(),
})

// AppRoleAssignments is appRoleAssignedTo and appRoleAssignments, on service principals, users and
// groups. Graph filters them only on resourceId (eq) and principalDisplayName (eq, startswith):
// principalId, appRoleId and principalType answer 400 (the SDK model's documentation;
// msgraph-sdk-dotnet issue 2306; microsoft-graph-docs-contrib issue 8934). GUIDs are unquoted literals.
var AppRoleAssignments = NewSchema(Schema{
	TypeName: "Microsoft.DirectoryServices.AppRoleAssignment", Resource: "AppRoleAssignment", Advanced: true,
	Properties: concat(
		props(GUID, Eq, 0, "resourceId"),
		props(String, Eq|StartsWith, 0, "principalDisplayName"),
		props(GUID, 0, 0, "principalId", "appRoleId"),
		props(String, 0, 0, "id", "principalType", "resourceDisplayName"),
		props(DateTime, 0, 0, "createdDateTime", "deletedDateTime"),
	),
	Defaults: []string{"id", "deletedDateTime", "appRoleId", "createdDateTime", "principalDisplayName", "principalId", "principalType", "resourceDisplayName", "resourceId"},
})

// Applications is /applications and /directory/deletedItems/microsoft.graph.application. Graph supports
// advanced queries here; the sandbox has always refused ne and not on them, and so does this schema
// without ConsistencyLevel. notes, description and the other properties the sandbox does not render are
// listed so that $select and $filter know them as Graph does (null, and Request_UnsupportedQuery).
var Applications = NewSchema(Schema{
	TypeName: "Microsoft.DirectoryServices.Application", Resource: "Application", Advanced: true, SelectKeepsID: true,
	Properties: concat(
		props(String, Eq|In, Ne|Not, "id", "appId"),
		props(String, Eq|In|StartsWith, Ne|Not|EndsWith, "displayName"),
		props(String, Eq, Ne|Not, "applicationTemplateId", "signInAudience"),
		props(String, 0, 0, "notes", "description", "publisherDomain", "groupMembershipClaims"),
		props(DateTime, 0, 0, "createdDateTime", "deletedDateTime"),
		props(StringCollection, 0, 0, "identifierUris", "tags"),
		props(Complex, 0, 0, "appRoles", "web", "spa", "api", "info", "requiredResourceAccess", "passwordCredentials", "keyCredentials"),
	),
})

// ServicePrincipals is /servicePrincipals. tags and servicePrincipalNames take lambdas: any(t:t eq 'x')
// and any(t:startswith(t,'x')).
var ServicePrincipals = NewSchema(Schema{
	TypeName: "Microsoft.DirectoryServices.ServicePrincipal", Resource: "ServicePrincipal", Advanced: true, SelectKeepsID: true,
	Properties: concat(
		props(String, Eq|In, Ne|Not, "id", "appId"),
		props(String, Eq|In|StartsWith, Ne|Not|EndsWith, "displayName"),
		props(String, Eq|StartsWith, Ne|Not|EndsWith, "appDisplayName"),
		props(String, Eq, Ne|Not, "applicationTemplateId", "servicePrincipalType"),
		props(Bool, Eq, Ne|Not, "accountEnabled", "appRoleAssignmentRequired"),
		props(StringCollection, Any|Eq|StartsWith, Not, "tags", "servicePrincipalNames"),
		props(String, 0, 0, "notes", "description", "appOwnerOrganizationId", "preferredSingleSignOnMode", "signInAudience"),
		props(DateTime, 0, 0, "deletedDateTime"),
		props(StringCollection, 0, 0, "replyUrls", "alternativeNames", "notificationEmailAddresses"),
		props(Complex, 0, 0, "appRoles", "oauth2PermissionScopes", "info", "passwordCredentials", "keyCredentials"),
	),
})

// ApplicationTemplates is /applicationTemplates, the gallery. It is not a directory collection: no
// advanced queries (a guess), $skip allowed, contains() on displayName and inside categories/any.
var ApplicationTemplates = NewSchema(Schema{
	TypeName: "microsoft.graph.applicationTemplate", Resource: "applicationTemplate", SelectKeepsID: true, AllowSkip: true,
	Properties: concat(
		props(String, Eq|StartsWith|Contains, 0, "displayName"),
		props(StringCollection, Any|Eq|StartsWith|Contains, 0, "categories"),
		props(String, 0, 0, "id", "publisher", "description", "homePageUrl", "logoUrl"),
		props(StringCollection, 0, 0, "supportedProvisioningTypes", "supportedSingleSignOnModes"),
	),
})

// ProvisioningObjectSummaries is /auditLogs/provisioning, Entra's provisioning logs. Graph documents
// $filter with eq, contains, gt and lt, "all case sensitive", per property: activityDateTime (eq, gt,
// lt); id, jobId, cycleId, changeId, tenantId, provisioningAction and initiatedBy (eq, contains);
// servicePrincipal's id and name (eq); sourceIdentity's and targetIdentity's identityType, id and
// displayName, the systems' displayName and provisioningStatusInfo's status (eq, contains). It is
// a reports collection, not a directory one: no advanced queries and no $count.
// Guess: initiatedBy filters on its displayName and id, servicePrincipal's "name" is its displayName,
// and $top takes at most 999, like the directory (the page documents no maximum).
var ProvisioningObjectSummaries = NewSchema(Schema{
	TypeName: "microsoft.graph.provisioningObjectSummary", Resource: "provisioningObjectSummary", SelectKeepsID: true,
	CaseSensitive: true,
	Properties: concat(
		props(DateTime, Eq|Gt|Lt, 0, "activityDateTime"),
		props(String, Eq|Contains, 0, "id", "jobId", "cycleId", "changeId", "tenantId", "provisioningAction",
			"initiatedBy/id", "initiatedBy/displayName",
			"sourceIdentity/id", "sourceIdentity/displayName", "sourceIdentity/identityType",
			"targetIdentity/id", "targetIdentity/displayName", "targetIdentity/identityType",
			"sourceSystem/displayName", "targetSystem/displayName", "provisioningStatusInfo/status"),
		props(String, Eq, 0, "servicePrincipal/id", "servicePrincipal/displayName"),
		props(Complex, 0, 0, "initiatedBy", "servicePrincipal", "sourceIdentity", "targetIdentity", "sourceSystem",
			"targetSystem", "provisioningStatusInfo", "provisioningSteps", "modifiedProperties"),
		// An Int32 the engine has no kind for: selectable, never filtered.
		props(Complex, 0, 0, "durationInMilliseconds"),
	),
})
