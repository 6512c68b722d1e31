package launch

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/yarngate/yarngate/delegation"
)

// fakeTokens hands out one HDFS token.
type fakeTokens struct{ maxDate time.Time }

func (f fakeTokens) HDFSToken(_ context.Context, user string) (delegation.Token, error) {
	return delegation.Token{Kind: delegation.KindHDFS, Service: "127.0.0.1:26000", Owner: user, Renewer: "yarn", MaxDate: f.maxDate}, nil
}
func (fakeTokens) Renewer() string { return "yarn" }

func TestSecurity(t *testing.T) {
	maxDate := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	l := &Launcher{opts: Options{Kerberos: &Kerberos{Tokens: fakeTokens{maxDate}, Krb5Conf: []byte("[libdefaults]")},
		Logger: slog.New(slog.DiscardHandler)}}
	for _, tc := range []struct {
		name   string
		keytab *Keytab
	}{
		{"without a keytab", nil},
		{"with a keytab", &Keytab{Principal: "yarngate@EXAMPLE.COM", Data: []byte{5, 2}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sec, creds, err := l.security(t.Context(), "yarngate", tc.keytab)
			if err != nil {
				t.Fatal(err)
			}
			if len(sec.Tokens) != 1 || sec.Tokens["127.0.0.1:26000"] == "" || sec.TokenRenewer != "yarn" || !creds.HDFSTokenExpires.Equal(maxDate) {
				t.Errorf("security %+v, credentials %+v", sec, creds)
			}
			want := ""
			if tc.keytab != nil {
				want = tc.keytab.Principal
			}
			if sec.Principal != want || creds.Principal != want || (len(sec.Keytab) > 0) != (tc.keytab != nil) {
				t.Errorf("keytab of %q shipped for %q, credentials say %q; want %q", sec.Keytab, sec.Principal, creds.Principal, want)
			}
		})
	}
}
