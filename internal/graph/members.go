package graph

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

const groupUserMembersTemplate = "{+baseurl}/groups/{group%2Did}/members/graph.user{?%24filter,%24select,%24top}"

// userSelect is what the provider reads of a user: the properties Entra's provisioning maps to
// Netskope (userName from userPrincipalName or mail, externalId from the object id) and whether
// the account is enabled.
var userSelect = []string{"id", "userPrincipalName", "displayName", "mail", "accountEnabled"}

func userFrom(m map[string]any) User {
	s := func(k string) string { v, _ := m[k].(string); return v }
	enabled, _ := m["accountEnabled"].(bool)
	return User{ID: s("id"), UserPrincipalName: s("userPrincipalName"), DisplayName: s("displayName"), Mail: s("mail"), AccountEnabled: enabled}
}

// UsersAndGroupMembers reads the users with the given ids and the direct user members of the given
// groups (keyed by the group id as given): what Entra provisions to Netskope for an assignment. Both
// go in the same $batch requests (users by `id in` filters of 15 ids, one member listing per group);
// a group of more than 999 users goes on page by page.
func (c *Client) UsersAndGroupMembers(ctx context.Context, userIDs, groupIDs []string) ([]User, map[string][]User, error) {
	top := int32(999)
	var calls []batchCall
	for start := 0; start < len(userIDs); start += MaxInFilterValues {
		chunk := userIDs[start:min(start+MaxInFilterValues, len(userIDs))]
		quoted := make([]string, len(chunk))
		for i, v := range chunk {
			quoted[i] = "'" + odataQuote(v) + "'"
		}
		filter := "id in (" + strings.Join(quoted, ", ") + ")"
		calls = append(calls, batchCall{info: c.sdk.list(usersTemplate, nil, listQuery{Filter: &filter, Select: userSelect, Top: &top}),
			object: fmt.Sprintf("%d user ids", len(chunk))})
	}
	firstGroup := len(calls)
	for _, id := range groupIDs {
		calls = append(calls, batchCall{info: c.sdk.list(groupUserMembersTemplate, map[string]string{"group%2Did": id}, listQuery{Select: userSelect, Top: &top}),
			object: "group " + id})
	}
	outcomes, err := c.runBatches(ctx, calls, "read the users and the members of the groups", PermGroupRead+" and "+PermUserRead)
	if err != nil {
		return nil, nil, err
	}
	var users []User
	members := make(map[string][]User, len(groupIDs))
	for i, o := range outcomes {
		if o.Err != nil {
			return nil, nil, o.Err
		}
		page := o.Body
		for {
			vals, _ := page["value"].([]any)
			for _, v := range vals {
				m, ok := v.(map[string]any)
				if !ok {
					continue
				}
				if i < firstGroup {
					users = append(users, userFrom(m))
				} else {
					gid := groupIDs[i-firstGroup]
					members[gid] = append(members[gid], userFrom(m))
				}
			}
			next, _ := page["@odata.nextLink"].(string)
			if next == "" {
				break
			}
			page = nil
			path := strings.TrimPrefix(strings.TrimPrefix(next, c.base), "/")
			if err := c.raw(ctx, http.MethodGet, path, nil, &page, "list the members of a group", calls[i].object, PermGroupRead); err != nil {
				return nil, nil, err
			}
		}
	}
	return users, members, nil
}
