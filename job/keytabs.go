package job

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/authn"
	"github.com/yarngate/yarngate/keytab"
	"github.com/yarngate/yarngate/launch"
)

// Errors of keytabs, rendered by the HTTP layer.
var (
	// ErrKeytabsDisabled: the cluster does not use Kerberos, so the gateway keeps no keytabs.
	ErrKeytabsDisabled = errors.New("keytabs are only kept on a Kerberized cluster")
	// ErrKeytabNotFound: a job or session names a keytab that is not stored, or that its caller may not use.
	ErrKeytabNotFound = errors.New("the keytab is not stored")
	// ErrKeytabUserMismatch: a job or session names a keytab whose principal is not the user its cluster runs as.
	ErrKeytabUserMismatch = errors.New("the keytab's principal is not the user the cluster runs as")
)

// keytabStore is what the keytab service needs of the store; *keytab.Store implements it.
type keytabStore interface {
	Add(ctx context.Context, body io.Reader, principal, owner string) (keytab.Keytab, error)
	Get(ctx context.Context, id string) (keytab.Keytab, error)
	List(ctx context.Context) ([]keytab.Keytab, error)
	Delete(ctx context.Context, id string) error
	Read(ctx context.Context, id string) (keytab.Keytab, []byte, error)
}

// KeytabOptions configure a KeytabService.
type KeytabOptions struct {
	// Store keeps the keytabs (usually a *keytab.Store). Required.
	Store keytabStore
	// User is the gateway's Hadoop user: the caller of a request without a principal (a gateway without
	// authentication), as in Options.User. Required.
	User string
	// Admins may see, delete and use every keytab, as they may every job.
	Admins Admins
	// UserOf maps a keytab's principal to the Hadoop user a cluster logging in with it acts as: the
	// cluster's auth_to_local rules (app passes authn.Rules.ShortName of auth.authToLocal). Default: the
	// principal's first component (keytab.ShortName), which is what Hadoop's DEFAULT rule gives in the
	// default realm.
	UserOf func(principal string) (string, error)
	// Logger receives a line per upload and delete, never key material. Default: discard.
	Logger *slog.Logger
}

func (o *KeytabOptions) validate() error {
	if o.Store == nil || o.User == "" {
		return errors.New("keytab service: Store and User are required")
	}
	if o.UserOf == nil {
		o.UserOf = func(principal string) (string, error) { return keytab.ShortName(principal), nil }
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// KeytabService keeps users' keytabs for launches on a Kerberized cluster: uploads (validated, tried
// against the KDC, stored as secrets with their uploader as owner), metadata reads and deletes for the HTTP
// layer, and the keytab of a launch for the job service. Key material is never logged or rendered. A nil
// *KeytabService (a cluster without Kerberos) refuses everything with ErrKeytabsDisabled.
//
// A keytab is its owner's: only the owner and administrators list, get, delete or launch with it. To
// anyone else it does not exist (ErrStoredKeytabNotFound, ErrKeytabNotFound: 404), as with jobs a caller
// may not see. Keytabs have no ACL: a keytab is a password, not something to share.
type KeytabService struct {
	opts KeytabOptions
}

// NewKeytabService returns a KeytabService.
func NewKeytabService(opts KeytabOptions) (*KeytabService, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	return &KeytabService{opts: opts}, nil
}

// may reports whether p may see and use k: its owner and administrators.
func (s *KeytabService) may(p authn.Principal, k keytab.Keytab) bool {
	return (k.Owner != "" && k.Owner == p.User) || s.opts.Admins.include(p)
}

// Upload validates and stores a keytab (body, at most keytab.MaxSize bytes), keeping the keys of principal
// ("" for the keytab's only principal). The caller owns it.
func (s *KeytabService) Upload(ctx context.Context, body io.Reader, principal string) (api.Keytab, error) {
	if s == nil {
		return api.Keytab{}, ErrKeytabsDisabled
	}
	p := callerOf(ctx, s.opts.User)
	k, err := s.opts.Store.Add(ctx, body, principal, p.User)
	if err != nil {
		return api.Keytab{}, fmt.Errorf("upload keytab: %w", err)
	}
	s.opts.Logger.InfoContext(ctx, "keytab stored", "requestId", RequestID(ctx), "id", k.ID, "principal", k.Principal,
		"owner", k.Owner, "keys", len(k.Keys))
	return KeytabToAPI(k), nil
}

// Get describes one keytab of the caller's (any keytab for an administrator).
func (s *KeytabService) Get(ctx context.Context, id string) (api.Keytab, error) {
	if s == nil {
		return api.Keytab{}, ErrKeytabsDisabled
	}
	k, err := s.visible(ctx, id)
	if err != nil {
		return api.Keytab{}, fmt.Errorf("get keytab: %w", err)
	}
	return KeytabToAPI(k), nil
}

// visible returns the keytab id describes when the caller may see it, else an error wrapping
// keytab.ErrNotFound.
func (s *KeytabService) visible(ctx context.Context, id string) (keytab.Keytab, error) {
	k, err := s.opts.Store.Get(ctx, id)
	if err != nil {
		return keytab.Keytab{}, err
	}
	if p := callerOf(ctx, s.opts.User); !s.may(p, k) {
		return keytab.Keytab{}, fmt.Errorf("%w: %s is %s's, not %s's", keytab.ErrNotFound, id, k.Owner, p.User)
	}
	return k, nil
}

// List describes the caller's keytabs (every keytab for an administrator), newest first.
func (s *KeytabService) List(ctx context.Context) ([]api.Keytab, error) {
	if s == nil {
		return nil, ErrKeytabsDisabled
	}
	ks, err := s.opts.Store.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list keytabs: %w", err)
	}
	p := callerOf(ctx, s.opts.User)
	out := make([]api.Keytab, 0, len(ks))
	for _, k := range ks {
		if s.may(p, k) {
			out = append(out, KeytabToAPI(k))
		}
	}
	return out, nil
}

// Delete removes a keytab of the caller's (any keytab for an administrator); clusters launched with it
// keep their copy until they end.
func (s *KeytabService) Delete(ctx context.Context, id string) error {
	if s == nil {
		return ErrKeytabsDisabled
	}
	if _, err := s.visible(ctx, id); err != nil {
		return fmt.Errorf("delete keytab: %w", err)
	}
	if err := s.opts.Store.Delete(ctx, id); err != nil {
		return fmt.Errorf("delete keytab: %w", err)
	}
	s.opts.Logger.InfoContext(ctx, "keytab deleted", "requestId", RequestID(ctx), "id", id, "by", callerOf(ctx, s.opts.User).User)
	return nil
}

// forLaunch reads the keytab a job or session names, for its caller: a keytab the caller may not use (not
// the owner, not an administrator) is ErrKeytabNotFound, as one that is not stored. Its principal must map
// (KeytabOptions.UserOf) to runAs, the Hadoop user the cluster runs as: the keytab must be the identity
// the cluster already has, or the cluster would act as someone else once it logs in with it: the launch's
// effective user with impersonation, the gateway's own user without (actor.clusterUser).
func (s *KeytabService) forLaunch(ctx context.Context, id, runAs string) (*launch.Keytab, error) {
	if s == nil {
		return nil, &api.SpecError{Problems: []api.FieldProblem{{Field: "keytabId", Reason: "the cluster does not use Kerberos: no keytab is needed"}}}
	}
	k, data, err := s.opts.Store.Read(ctx, id)
	if err == nil {
		if p := callerOf(ctx, s.opts.User); !s.may(p, k) {
			clear(data)
			err = fmt.Errorf("%w: %s is %s's, not %s's", keytab.ErrNotFound, id, k.Owner, p.User)
		}
	}
	if errors.Is(err, keytab.ErrNotFound) {
		return nil, fmt.Errorf("%w: %w", ErrKeytabNotFound, err)
	}
	if err != nil {
		return nil, fmt.Errorf("keytab of the launch: %w", err)
	}
	user, err := s.opts.UserOf(k.Principal)
	if err != nil {
		clear(data)
		return nil, fmt.Errorf("%w: keytab %s holds %s, which no auth_to_local rule maps: %v", ErrKeytabUserMismatch, id, k.Principal, err)
	}
	if user != runAs {
		clear(data)
		return nil, fmt.Errorf("%w: keytab %s holds %s (user %s), the cluster runs as %s", ErrKeytabUserMismatch, id, k.Principal, user, runAs)
	}
	return &launch.Keytab{Principal: k.Principal, Data: data}, nil
}

// KeytabToAPI renders a stored keytab as the API's keytab object.
func KeytabToAPI(k keytab.Keytab) api.Keytab {
	out := api.Keytab{ID: k.ID, Principal: k.Principal, Owner: k.Owner, CreatedAt: k.Created.UTC(), Keys: make([]api.KeytabKey, 0, len(k.Keys))}
	for _, key := range k.Keys {
		out.Keys = append(out.Keys, api.KeytabKey{Version: key.Version, EncryptionType: key.EncryptionType})
	}
	return out
}

// ValidKeytabID reports whether id has the form of a keytab id (32 lower-case hex digits).
func ValidKeytabID(id string) bool { return keytab.ValidID(id) }
