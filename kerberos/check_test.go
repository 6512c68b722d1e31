package kerberos

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestCheckKeytab runs CheckKeytab up to the KDC: what fails before the exchange, and an unreachable KDC.
// A KDC that answers is the integration tests' (app, TestKerberizedGateway).
func TestCheckKeytab(t *testing.T) {
	dir := t.TempDir()
	krb5 := filepath.Join(dir, "krb5.conf")
	conf := fmt.Sprintf("[libdefaults]\n  default_realm = EXAMPLE.COM\n  udp_preference_limit = 1\n[realms]\n  EXAMPLE.COM = {\n    kdc = 127.0.0.1:%d\n  }\n", closedPort(t))
	if err := os.WriteFile(krb5, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(writeKeytab(t, dir, "alice"))
	if err != nil {
		t.Fatal(err)
	}
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	for _, tc := range []struct {
		name        string
		ctx         context.Context
		krb5Conf    string
		data        []byte
		reason      string
		unavailable bool
	}{
		{"KDC down", t.Context(), krb5, good, "the KDC cannot be reached (it is down or unreachable, or krb5.conf names the wrong host or port)", true},
		{"not a keytab", t.Context(), krb5, []byte("nope"), "the keytab cannot be parsed", false},
		{"no krb5.conf", t.Context(), filepath.Join(dir, "missing"), good, "krb5.conf does not exist", false},
		{"canceled", canceled, krb5, good, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckKeytab(tc.ctx, tc.krb5Conf, "alice@EXAMPLE.COM", tc.data)
			if errors.Is(err, ErrKDCUnavailable) != tc.unavailable {
				t.Errorf("CheckKeytab = %v; wraps ErrKDCUnavailable: %v, want %v", err, !tc.unavailable, tc.unavailable)
			}
			var le *LoginError
			switch {
			case tc.reason == "":
				if !errors.Is(err, context.Canceled) {
					t.Errorf("CheckKeytab = %v, want context.Canceled", err)
				}
			case !errors.As(err, &le) || le.Reason != tc.reason:
				t.Errorf("CheckKeytab = %v, want the reason %q", err, tc.reason)
			}
		})
	}
}
