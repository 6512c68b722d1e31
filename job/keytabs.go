package job

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/keytab"
	"github.com/yarngate/yarngate/launch"
)

// Errors of keytabs, rendered by the HTTP layer.
var (
	// ErrKeytabsDisabled: the cluster does not use Kerberos, so the gateway keeps no keytabs.
	ErrKeytabsDisabled = errors.New("keytabs are only kept on a Kerberized cluster")
	// ErrKeytabNotFound: a job or session names a keytab that is not stored.
	ErrKeytabNotFound = errors.New("the keytab is not stored")
	// ErrKeytabUserMismatch: a job or session names a keytab whose principal is not the user it runs as.
	ErrKeytabUserMismatch = errors.New("the keytab's principal is not the job's user")
)

// keytabStore is what the keytab service needs of the store; *keytab.Store implements it.
type keytabStore interface {
	Add(ctx context.Context, body io.Reader, principal string) (keytab.Keytab, error)
	Get(ctx context.Context, id string) (keytab.Keytab, error)
	List(ctx context.Context) ([]keytab.Keytab, error)
	Delete(ctx context.Context, id string) error
	Read(ctx context.Context, id string) (keytab.Keytab, []byte, error)
}

// KeytabService keeps users' keytabs for launches on a Kerberized cluster: uploads (validated, tried
// against the KDC, stored as secrets), metadata reads and deletes for the HTTP layer, and the keytab of a
// launch for the job service. Key material is never logged or rendered. A nil *KeytabService (a cluster
// without Kerberos) refuses everything with ErrKeytabsDisabled.
type KeytabService struct {
	store  keytabStore
	logger *slog.Logger
}

// NewKeytabService returns a KeytabService over store (usually a *keytab.Store).
func NewKeytabService(store keytabStore, logger *slog.Logger) *KeytabService {
	return &KeytabService{store: store, logger: logger}
}

// Upload validates and stores a keytab (body, at most keytab.MaxSize bytes), keeping the keys of principal
// ("" for the keytab's only principal).
func (s *KeytabService) Upload(ctx context.Context, body io.Reader, principal string) (api.Keytab, error) {
	if s == nil {
		return api.Keytab{}, ErrKeytabsDisabled
	}
	k, err := s.store.Add(ctx, body, principal)
	if err != nil {
		return api.Keytab{}, fmt.Errorf("upload keytab: %w", err)
	}
	s.logger.InfoContext(ctx, "keytab stored", "requestId", RequestID(ctx), "id", k.ID, "principal", k.Principal, "keys", len(k.Keys))
	return KeytabToAPI(k), nil
}

// Get describes one keytab.
func (s *KeytabService) Get(ctx context.Context, id string) (api.Keytab, error) {
	if s == nil {
		return api.Keytab{}, ErrKeytabsDisabled
	}
	k, err := s.store.Get(ctx, id)
	if err != nil {
		return api.Keytab{}, fmt.Errorf("get keytab: %w", err)
	}
	return KeytabToAPI(k), nil
}

// List describes every keytab, newest first.
func (s *KeytabService) List(ctx context.Context) ([]api.Keytab, error) {
	if s == nil {
		return nil, ErrKeytabsDisabled
	}
	ks, err := s.store.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list keytabs: %w", err)
	}
	out := make([]api.Keytab, 0, len(ks))
	for _, k := range ks {
		out = append(out, KeytabToAPI(k))
	}
	return out, nil
}

// Delete removes a keytab; clusters launched with it keep their copy until they end.
func (s *KeytabService) Delete(ctx context.Context, id string) error {
	if s == nil {
		return ErrKeytabsDisabled
	}
	if err := s.store.Delete(ctx, id); err != nil {
		return fmt.Errorf("delete keytab: %w", err)
	}
	s.logger.InfoContext(ctx, "keytab deleted", "requestId", RequestID(ctx), "id", id)
	return nil
}

// forLaunch reads the keytab a job or session names and checks that its principal maps to user, the user
// the cluster runs as (the gateway's own user for now: per-caller users come later, and then this is the
// caller's). The mapping is Hadoop's default auth_to_local rule: the principal's first component.
func (s *KeytabService) forLaunch(ctx context.Context, id, user string) (*launch.Keytab, error) {
	if s == nil {
		return nil, &api.SpecError{Problems: []api.FieldProblem{{Field: "keytabId", Reason: "the cluster does not use Kerberos: no keytab is needed"}}}
	}
	k, data, err := s.store.Read(ctx, id)
	if errors.Is(err, keytab.ErrNotFound) {
		return nil, fmt.Errorf("%w: %w", ErrKeytabNotFound, err)
	}
	if err != nil {
		return nil, fmt.Errorf("keytab of the launch: %w", err)
	}
	if keytab.ShortName(k.Principal) != user {
		return nil, fmt.Errorf("%w: keytab %s holds %s, the job runs as %s", ErrKeytabUserMismatch, id, k.Principal, user)
	}
	return &launch.Keytab{Principal: k.Principal, Data: data}, nil
}

// KeytabToAPI renders a stored keytab as the API's keytab object.
func KeytabToAPI(k keytab.Keytab) api.Keytab {
	out := api.Keytab{ID: k.ID, Principal: k.Principal, CreatedAt: k.Created.UTC(), Keys: make([]api.KeytabKey, 0, len(k.Keys))}
	for _, key := range k.Keys {
		out.Keys = append(out.Keys, api.KeytabKey{Version: key.Version, EncryptionType: key.EncryptionType})
	}
	return out
}

// ValidKeytabID reports whether id has the form of a keytab id (32 lower-case hex digits).
func ValidKeytabID(id string) bool { return keytab.ValidID(id) }
