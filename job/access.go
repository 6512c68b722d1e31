package job

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/authn"
	"github.com/yarngate/yarngate/registry"
)

// ErrForbidden: the caller may see the object but not do what it asked.
var ErrForbidden = errors.New("forbidden")

// Admins are the users and groups that may see and act on everything.
type Admins struct {
	Users, Groups []string
}

// access is what a caller may do with a record.
type access int

const (
	accessView access = iota
	accessModify
)

// caller returns the principal of the request ctx belongs to. Without one (a call from inside the gateway,
// or a gateway without authentication), the caller is the gateway's own user.
func (s *Service) caller(ctx context.Context) authn.Principal { return callerOf(ctx, s.opts.User) }

// callerOf returns the principal of the request ctx belongs to, or, without one, the gateway's own user.
func callerOf(ctx context.Context, gatewayUser string) authn.Principal {
	if p, ok := authn.FromContext(ctx); ok {
		return p
	}
	return authn.Principal{Name: gatewayUser, User: gatewayUser, Method: authn.MethodNone}
}

// admin reports whether p is an administrator.
func (s *Service) admin(p authn.Principal) bool { return s.opts.Admins.include(p) }

// include reports whether p is one of the administrators, by user or by group.
func (a Admins) include(p authn.Principal) bool {
	if slices.Contains(a.Users, p.User) {
		return true
	}
	for _, g := range a.Groups {
		if p.InGroup(g) {
			return true
		}
	}
	return false
}

// may reports whether p may have access a to rec: administrators and the owner always, others as its ACL
// grants (modify implies view).
func (s *Service) may(p authn.Principal, rec *registry.Record, a access) bool {
	return s.mayOwned(p, rec.Owner, rec.ACL, a)
}

// mayOwned is may for a record of this owner and ACL.
func (s *Service) mayOwned(p authn.Principal, owner string, acl *registry.ACL, a access) bool {
	if s.admin(p) || owner == p.User {
		return true
	}
	if acl == nil {
		return false
	}
	if grants(acl.Modify, p) {
		return true
	}
	return a == accessView && grants(acl.View, p)
}

// mayJob is may for job records: who may modify a session (or a registered cluster) may also see and act
// on the jobs in it.
func (s *Service) mayJob(p authn.Principal, rec *registry.Record, a access) bool {
	sum := registry.Summary{Kind: rec.Kind, ApplicationID: rec.ApplicationID, Owner: rec.Owner, ACL: rec.ACL}
	return s.mayJobSummary(p, &sum, a)
}

// mayJobSummary is mayJob from a record's summary (which holds every field it reads), so that a list
// checks access before it decodes a record.
func (s *Service) mayJobSummary(p authn.Principal, sum *registry.Summary, a access) bool {
	if s.mayOwned(p, sum.Owner, sum.ACL, a) {
		return true
	}
	if sum.Kind != registry.KindSessionJob && sum.Kind != registry.KindClusterJob {
		return false
	}
	sess, ok := s.opts.Registry.Lookup(sum.ApplicationID)
	return ok && s.mayOwned(p, sess.Owner, sess.ACL, accessModify)
}

// grants reports whether an ACL list names p: as a user, through one of its groups, or with "*".
func grants(list []string, p authn.Principal) bool {
	for _, e := range list {
		if e == "*" || e == p.User {
			return true
		}
		if g, ok := strings.CutPrefix(e, "group:"); ok && p.InGroup(g) {
			return true
		}
	}
	return false
}

// maxACLEntries bounds each list of an ACL.
const maxACLEntries = 64

// aclEntry is a user or group name as Hadoop's and Kerberos' short names go.
var aclEntry = regexp.MustCompile(`^(\*|(group:)?[A-Za-z0-9_][A-Za-z0-9_.@-]{0,127})$`)

// aclFrom validates a request's ACL and returns it as recorded (nil for none).
func aclFrom(a *api.ACL) (*registry.ACL, error) {
	if a == nil || len(a.View) == 0 && len(a.Modify) == 0 {
		return nil, nil
	}
	var se api.SpecError
	for field, list := range map[string][]string{"acl.view": a.View, "acl.modify": a.Modify} {
		if len(list) > maxACLEntries {
			se.Add(field, "at most %d entries", maxACLEntries)
		}
		for _, e := range list {
			if !aclEntry.MatchString(e) {
				se.Add(field, "%q is not a user name, group:<name> or *", e)
			}
		}
	}
	if len(se.Problems) > 0 {
		return nil, &se
	}
	return &registry.ACL{View: slices.Clone(a.View), Modify: slices.Clone(a.Modify)}, nil
}

// renderACL is a record's ACL in API form.
func renderACL(a *registry.ACL) *api.ACL {
	if a == nil {
		return nil
	}
	return &api.ACL{View: slices.Clone(a.View), Modify: slices.Clone(a.Modify)}
}

// forbidden is the error of a caller who may see rec but not act on it.
func forbidden(p authn.Principal, action string, rec *registry.Record) error {
	return fmt.Errorf("%w: %s may not %s %s (owner %s)", ErrForbidden, p.User, action, rec.ID, rec.Owner)
}
