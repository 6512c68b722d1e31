package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"time"

	"github.com/yarngate/yarngate/authn"
	"github.com/yarngate/yarngate/config"
	"github.com/yarngate/yarngate/hdfs"
	"github.com/yarngate/yarngate/job"
	"github.com/yarngate/yarngate/kerberos"
	"github.com/yarngate/yarngate/keytab"
)

// newKeytabService returns the keytab service of a Kerberized cluster (nil without a login): keytabs in HDFS
// under the staging root, each upload tried against the KDC of the gateway's krb5.conf, owned by their
// uploader (administrators: auth.admins).
func newKeytabService(cfg config.Config, store *hdfs.Store, login *kerberos.Login, logger *slog.Logger) (*job.KeytabService, error) {
	if login == nil {
		return nil, nil
	}
	krb5Conf := cfg.Kerberos.Krb5Conf
	ks, err := keytab.New(keytab.Options{Files: keytabFS{store}, Root: cfg.HDFS.StagingRoot,
		Verify: func(ctx context.Context, principal string, data []byte) error {
			err := kerberos.CheckKeytab(ctx, krb5Conf, principal, data)
			if errors.Is(err, kerberos.ErrKDCUnavailable) {
				return fmt.Errorf("%w: %w", keytab.ErrVerifyUnavailable, err)
			}
			return err
		}})
	if err != nil {
		return nil, err
	}
	// The cluster maps a keytab's principal to a user by its auth_to_local rules; the gateway's own (auth.authToLocal,
	// which should say what the cluster's hadoop.security.auth_to_local says) decide whether a keytab is of
	// the user a launch runs as.
	rules, err := authn.ParseRules(cfg.Auth.AuthToLocal, authRealm(cfg, logger))
	if err != nil {
		return nil, err
	}
	return job.NewKeytabService(job.KeytabOptions{Store: ks, User: cfg.User, UserOf: rules.ShortName,
		Admins: job.Admins{Users: cfg.Auth.Admins.Users, Groups: cfg.Auth.Admins.Groups}, Logger: logger})
}

// keytabFS adapts the HDFS store to keytab.FileSystem.
type keytabFS struct{ s *hdfs.Store }

func (f keytabFS) MkdirAll(ctx context.Context, name string, perm fs.FileMode) error {
	return f.s.MkdirAll(ctx, name, perm)
}

func (f keytabFS) Chmod(ctx context.Context, name string, perm fs.FileMode) error {
	return f.s.Chmod(ctx, name, perm)
}

func (f keytabFS) Create(ctx context.Context, name string) (io.WriteCloser, error) {
	return f.s.Create(ctx, name)
}

func (f keytabFS) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	return f.s.Open(ctx, name)
}

func (f keytabFS) RemoveAll(ctx context.Context, name string) error { return f.s.RemoveAll(ctx, name) }

func (f keytabFS) ModTime(ctx context.Context, name string) (time.Time, error) {
	st, err := f.s.Stat(ctx, name)
	return st.ModTime, err
}

func (f keytabFS) Names(ctx context.Context, dir string) ([]string, error) {
	entries, err := f.s.ReadDir(ctx, dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name)
	}
	return names, nil
}
