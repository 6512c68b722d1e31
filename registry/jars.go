package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// TableJars holds who owns each staged jar. Jars are content-addressed: the same bytes uploaded by two users
// are one jar with two owners; it is removed from storage when its last owner deletes it.
const TableJars = "jars"

// jarOwnersValue is the stored value of a jar's owners.
type jarOwnersValue struct {
	Owners    []string  `json:"owners"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// JarOwners returns the owners of a jar, sorted; none when nobody owns it (a jar staged before owners were
// recorded, or one whose owners all deleted it).
func (r *Registry) JarOwners(ctx context.Context, id string) ([]string, error) {
	e, err := r.store.Get(ctx, key(TableJars, id))
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("registry: owners of jar %s: %w", id, err)
	}
	v, err := decodeJarOwners(e)
	return v.Owners, err
}

// JarsOwned returns the ids of the jars user owns (every owned jar with user "").
func (r *Registry) JarsOwned(ctx context.Context, user string) (map[string]bool, error) {
	entries, err := r.store.List(ctx, TableJars)
	if err != nil {
		return nil, fmt.Errorf("registry: list jar owners: %w", err)
	}
	out := map[string]bool{}
	for _, e := range entries {
		v, err := decodeJarOwners(e)
		if err != nil {
			return nil, err
		}
		if user == "" || slices.Contains(v.Owners, user) {
			out[strings.TrimPrefix(e.Key, TableJars+"/")] = true
		}
	}
	return out, nil
}

// AddJarOwner records user as an owner of jar id.
func (r *Registry) AddJarOwner(ctx context.Context, id, user string) error {
	return r.changeJarOwners(ctx, id, func(owners []string) []string {
		if slices.Contains(owners, user) {
			return nil
		}
		owners = append(owners, user)
		slices.Sort(owners)
		return owners
	})
}

// RemoveJarOwner removes user from the owners of jar id and returns how many owners remain.
func (r *Registry) RemoveJarOwner(ctx context.Context, id, user string) (int, error) {
	remaining := 0
	err := r.changeJarOwners(ctx, id, func(owners []string) []string {
		out := slices.DeleteFunc(slices.Clone(owners), func(o string) bool { return o == user })
		remaining = len(out)
		if len(out) == len(owners) {
			return nil
		}
		return out
	})
	return remaining, err
}

// changeJarOwners applies change to a jar's owners with optimistic concurrency: change returns the new
// owners, or nil to leave them as they are; no owners left removes the entry.
func (r *Registry) changeJarOwners(ctx context.Context, id string, change func([]string) []string) error {
	k := key(TableJars, id)
	for range r.attempts {
		e, err := r.store.Get(ctx, k)
		found := err == nil
		var cur jarOwnersValue
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return fmt.Errorf("registry: owners of jar %s: %w", id, err)
		default:
			if cur, err = decodeJarOwners(e); err != nil {
				return err
			}
		}
		next := change(slices.Clone(cur.Owners))
		if next == nil {
			return nil
		}
		b, err := json.Marshal(jarOwnersValue{Owners: next, UpdatedAt: r.now().UTC()})
		if err != nil {
			return err
		}
		switch {
		case len(next) == 0 && found:
			err = r.store.Delete(ctx, k, e.Version)
		case len(next) == 0:
			return nil
		case !found:
			_, err = r.store.Create(ctx, k, b)
		default:
			_, err = r.store.Update(ctx, k, b, e.Version)
		}
		if err == nil {
			return nil
		}
		if !errors.Is(err, ErrConflict) && !errors.Is(err, ErrExists) && !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("registry: owners of jar %s: %w", id, err)
		}
	}
	return fmt.Errorf("registry: owners of jar %s: %w", id, ErrConflict)
}

func decodeJarOwners(e Entry) (jarOwnersValue, error) {
	var v jarOwnersValue
	if err := json.Unmarshal(e.Value, &v); err != nil {
		return jarOwnersValue{}, fmt.Errorf("registry: decode %s: %w", e.Key, err)
	}
	return v, nil
}
