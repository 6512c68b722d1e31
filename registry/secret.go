package registry

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// TableSecrets holds secrets every gateway instance sharing the store uses alike (keys of HMACs), one per
// name. Each is written once and never changes.
const TableSecrets = "secrets"

// SecretSize is the size in bytes of a secret Secret generates.
const SecretSize = 32

// storedSecret is the value of a secret's key.
type storedSecret struct {
	Secret    []byte    `json:"secret"`
	CreatedAt time.Time `json:"createdAt"`
}

// Secret returns the secret stored under name. When none is stored yet it generates SecretSize random bytes
// and stores them with an exclusive create, so that every instance sharing the store ends up with the same
// secret, whichever of them created it. The secret is as confidential as the store.
func (r *Registry) Secret(ctx context.Context, name string) ([]byte, error) {
	k := key(TableSecrets, name)
	for range 3 {
		e, err := r.store.Get(ctx, k)
		if err == nil {
			var s storedSecret
			if err := json.Unmarshal(e.Value, &s); err != nil || len(s.Secret) < SecretSize/2 {
				return nil, fmt.Errorf("registry: secret %s: stored value is not a secret", name)
			}
			return s.Secret, nil
		}
		if !errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("registry: secret %s: %w", name, err)
		}
		s := storedSecret{Secret: make([]byte, SecretSize), CreatedAt: r.now().UTC()}
		rand.Read(s.Secret)
		b, err := json.Marshal(s)
		if err != nil {
			return nil, err
		}
		if _, err := r.store.Create(ctx, k, b); err == nil {
			return s.Secret, nil
		} else if !errors.Is(err, ErrExists) {
			return nil, fmt.Errorf("registry: create secret %s: %w", name, err)
		}
		// Another instance created it first: read theirs.
	}
	return nil, fmt.Errorf("registry: secret %s: %w", name, ErrConflict)
}
