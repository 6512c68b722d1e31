package job

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/yarngate/yarngate/authn"
	"github.com/yarngate/yarngate/hdfs"
	"github.com/yarngate/yarngate/registry"
)

// ErrJarInUse: a jar cannot be deleted while a job that has not ended runs it.
var ErrJarInUse = errors.New("jar in use")

// jarOwnership is what the services need to know who owns staged jars and which jobs run them;
// *registry.Registry implements it.
type jarOwnership interface {
	JarOwners(ctx context.Context, id string) ([]string, error)
	JarsOwned(ctx context.Context, user string) (map[string]bool, error)
	AddJarOwner(ctx context.Context, id, user string) error
	RemoveJarOwner(ctx context.Context, id, user string) (int, error)
	List(keep func(*registry.Summary) bool) []registry.Record
}

// JarOwnership turns on owners of jars: every upload makes its caller an owner of the (content-addressed)
// jar; a caller sees, uses and deletes only the jars they own (administrators all); a jar leaves storage
// when its last owner deletes it, and not while a job that has not ended runs it. Jars staged before owners
// were recorded belong to user, the gateway's own. Without it (a gateway that launches nothing, so has no
// registry), jars are shared.
type JarOwnership struct {
	// Registry records owners and the jobs. Required.
	Registry jarOwnership
	// Admins see and delete every jar.
	Admins Admins
	// User is the gateway's own user: the caller without a principal, and the owner of unowned jars.
	User string
}

// caller is the principal of ctx, else the gateway's user.
func (o *JarOwnership) caller(ctx context.Context) authn.Principal { return callerOf(ctx, o.User) }

func (o *JarOwnership) admin(p authn.Principal) bool {
	return o.Admins.include(p)
}

// mayUse reports whether the caller may see and use jar id.
func (o *JarOwnership) mayUse(ctx context.Context, id string) (bool, error) {
	p := o.caller(ctx)
	if o.admin(p) {
		return true, nil
	}
	owners, err := o.Registry.JarOwners(ctx, id)
	if err != nil {
		return false, err
	}
	if len(owners) == 0 {
		return p.User == o.User, nil // staged before owners were recorded: the gateway's
	}
	return slices.Contains(owners, p.User), nil
}

// inUse returns a job that has not ended and runs jar id, or "".
func (o *JarOwnership) inUse(id string) string {
	live := o.Registry.List(func(rec *registry.Summary) bool {
		return !rec.Terminal && rec.Kind != registry.KindSession
	})
	for _, rec := range live {
		var spec struct {
			JarID string `json:"jarId"`
		}
		if len(rec.Spec) > 0 && json.Unmarshal(rec.Spec, &spec) == nil && spec.JarID == id {
			return rec.ID
		}
	}
	return ""
}

// SetOwnership turns on owners of jars (see JarOwnership).
func (s *JarService) SetOwnership(o *JarOwnership) { s.owners = o }

// checkUse fails with ErrStagedJarNotFound when the caller may not use jar id.
func (s *JarService) checkUse(ctx context.Context, id string) error {
	if s.owners == nil {
		return nil
	}
	ok, err := s.owners.mayUse(ctx, id)
	if err != nil {
		return fmt.Errorf("owners of jar %s: %w", id, err)
	}
	if !ok {
		return fmt.Errorf("jar %s: %w", id, hdfs.ErrNotFound)
	}
	return nil
}

// remove deletes the caller's ownership of jar id and the jar itself with its last owner, unless a job
// that has not ended runs it.
func (s *JarService) remove(ctx context.Context, id string) (removed bool, err error) {
	if s.owners == nil {
		return true, s.store.Delete(ctx, id)
	}
	if err := s.checkUse(ctx, id); err != nil {
		return false, err
	}
	if _, err := s.store.Get(ctx, id); err != nil {
		return false, err
	}
	p := s.owners.caller(ctx)
	owners, err := s.owners.Registry.JarOwners(ctx, id)
	if err != nil {
		return false, fmt.Errorf("owners of jar %s: %w", id, err)
	}
	last := len(owners) == 0 || len(owners) == 1 && owners[0] == p.User || s.owners.admin(p) && !slices.Contains(owners, p.User)
	if last {
		if job := s.owners.inUse(id); job != "" {
			return false, fmt.Errorf("%w: job %s runs it", ErrJarInUse, job)
		}
	}
	if s.owners.admin(p) && !slices.Contains(owners, p.User) {
		// An administrator deletes the jar for everyone.
		for _, o := range owners {
			if _, err := s.owners.Registry.RemoveJarOwner(ctx, id, o); err != nil {
				return false, fmt.Errorf("owners of jar %s: %w", id, err)
			}
		}
	} else if len(owners) > 0 {
		left, err := s.owners.Registry.RemoveJarOwner(ctx, id, p.User)
		if err != nil {
			return false, fmt.Errorf("owners of jar %s: %w", id, err)
		}
		if left > 0 {
			return false, nil // others still own it
		}
	}
	return true, s.store.Delete(ctx, id)
}
