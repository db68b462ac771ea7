// Package odata is the sandbox's one OData query engine for Microsoft Graph v1.0 collections: users,
// groups, group members, app role assignments, applications, service principals, application
// templates, and whatever collection comes next (audit logs).
//
// It owns, for every collection alike:
//
//   - the $filter grammar (eq, ne, in, gt/ge/lt/le, startswith, endswith, contains, not, and, or,
//     parentheses, lambda any over string collections, string/bool/GUID/DateTimeOffset/null literals),
//     with Graph's error status, code and message for every refusal;
//   - which property takes which operator, and which operators are "advanced queries" that need
//     `ConsistencyLevel: eventual` and $count=true (Property.Filter and Property.AdvancedFilter);
//   - $select (with the collection's default properties), $top, $count, $skip, refused options;
//   - one skip-token format, cursor paging over sorted keys (PageSorted), over unsorted lists
//     (PageOffset) and over rendered objects ordered by id (Query.Page), and @odata.nextLink.
//
// A collection is described by a Schema (see schemas.go for the ones the sandbox serves). The package
// knows nothing of the store, of HTTP handlers or of authorization: callers parse with Parse, fetch
// candidates (Query.Pinned names index lookups), filter with Query.Match, page, project with
// Query.Project and write the body from Query.Envelope.
package odata
