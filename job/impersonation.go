package job

import (
	"context"
	"fmt"
	"regexp"
	"slices"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/authn"
)

// Impersonation says as whom launches run and who may submit for someone else. A launch runs as its
// effective user: the caller's short user name, or the proxyUser of the request when the caller may act for
// that user (ProxyUsers). The effective user owns the record (so authorization applies to it); the caller's
// principal is recorded as SubmittedBy.
type Impersonation struct {
	// Disabled runs every launch as the gateway's own user (Options.User), as versions before
	// impersonation did; owners are still the effective users.
	Disabled bool
	// Users and Groups limit whom launches may run as: a user listed in Users or a member of a group listed
	// in Groups. Both empty: every user but DenyUsers.
	Users, Groups []string
	// DenyUsers are never run as (the cluster's service accounts: root, hdfs, yarn, ...). The gateway's own
	// user is not impersonation and is always allowed.
	DenyUsers []string
	// ProxyUsers are the callers that may name another user in proxyUser, by short user name or full
	// principal, and whom each may act for.
	ProxyUsers map[string]ProxyRule
	// GroupsOf returns the groups of a user named in proxyUser (the gateway has not seen that user's
	// credentials); nil knows no groups.
	GroupsOf func(user string) []string
}

// ProxyRule is whom a proxy caller may act for: users listed in Users ("*": any user) and members of
// groups listed in Groups. Impersonation's allow and deny lists apply besides.
type ProxyRule struct {
	Users, Groups []string
}

// actor is who a request acts for.
type actor struct {
	// caller sent the request.
	caller authn.Principal
	// owner is the effective user: the owner of what the request creates; as is the principal the request
	// acts as (the caller, or the proxied user with the groups GroupsOf knows).
	owner string
	as    authn.Principal
	// runAs is the user the launched cluster runs as ("" for the gateway's own).
	runAs string
}

// clusterUser is the Hadoop user the launched cluster runs as: runAs, or the gateway's own user.
func (a actor) clusterUser(gatewayUser string) string {
	if a.runAs != "" {
		return a.runAs
	}
	return gatewayUser
}

// userName is a user name as Hadoop's and Kerberos' short names go.
var userName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,127}$`)

// actFor decides who a request acts for from its caller and proxyUser: a SpecError for a malformed name,
// ErrForbidden when the caller may not act for that user or launches may not run as the effective user.
func (s *Service) actFor(ctx context.Context, proxyUser string) (actor, error) {
	p := s.caller(ctx)
	a := actor{caller: p, owner: p.User, as: p}
	groups := p.Groups
	if proxyUser != "" && proxyUser != p.User {
		if !userName.MatchString(proxyUser) {
			return actor{}, &api.SpecError{Problems: []api.FieldProblem{{Field: "proxyUser", Reason: fmt.Sprintf("%q is not a user name", proxyUser)}}}
		}
		imp := s.opts.Impersonation
		rule, ok := imp.ProxyUsers[p.User]
		if !ok {
			rule, ok = imp.ProxyUsers[p.Name]
		}
		if !ok {
			return actor{}, fmt.Errorf("%w: %s may not submit for other users (proxyUser)", ErrForbidden, p.User)
		}
		if imp.GroupsOf != nil {
			groups = imp.GroupsOf(proxyUser)
		} else {
			groups = nil
		}
		if !rule.allows(proxyUser, groups) {
			return actor{}, fmt.Errorf("%w: %s may not submit for %s", ErrForbidden, p.User, proxyUser)
		}
		a.owner = proxyUser
		a.as = authn.Principal{Name: proxyUser, User: proxyUser, Groups: groups, Method: p.Method}
	}
	if a.owner == s.opts.User || s.opts.Impersonation.Disabled {
		return a, nil
	}
	if !s.opts.Impersonation.mayRunAs(a.owner, groups) {
		return actor{}, fmt.Errorf("%w: jobs may not run as %s", ErrForbidden, a.owner)
	}
	a.runAs = a.owner
	return a, nil
}

// allows reports whether a proxy rule lets its caller act for user, a member of groups.
func (r ProxyRule) allows(user string, groups []string) bool {
	if slices.Contains(r.Users, "*") || slices.Contains(r.Users, user) {
		return true
	}
	for _, g := range r.Groups {
		if slices.Contains(groups, g) {
			return true
		}
	}
	return false
}

// mayRunAs reports whether launches may run as user, a member of groups.
func (imp Impersonation) mayRunAs(user string, groups []string) bool {
	if slices.Contains(imp.DenyUsers, user) {
		return false
	}
	if len(imp.Users) == 0 && len(imp.Groups) == 0 {
		return true
	}
	return ProxyRule{Users: imp.Users, Groups: imp.Groups}.allows(user, groups)
}
