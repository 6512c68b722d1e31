package job

import (
	"errors"
	"strings"
	"testing"

	"github.com/yarngate/yarngate/api"
)

func TestWebhooksOf(t *testing.T) {
	check := func(url, secret string) error {
		if !strings.HasPrefix(url, "https://") {
			return errors.New("scheme must be https")
		}
		if secret != "ops" {
			return errors.New("secret not configured")
		}
		return nil
	}
	ok := api.Webhook{URL: "https://hooks.example.com/x", Secret: "ops", Events: []string{"state"}}
	for _, tc := range []struct {
		name   string
		check  func(string, string) error
		in     []api.Webhook
		fields []string // the fields the SpecError names; nil: accepted
	}{
		{"none", nil, nil, nil},
		{"accepted", check, []api.Webhook{ok}, nil},
		{"disabled", nil, []api.Webhook{ok}, []string{"notifications"}},
		{"too many", check, []api.Webhook{ok, ok, ok, ok, ok}, []string{"notifications"}},
		{"refused url", check, []api.Webhook{{URL: "http://x", Secret: "ops"}}, []string{"notifications[0]"}},
		{"unknown event", check, []api.Webhook{ok, {URL: ok.URL, Secret: "ops", Events: []string{"lunch"}}}, []string{"notifications[1].events"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Service{opts: Options{CheckWebhook: tc.check}}
			got, err := s.webhooksOf(tc.in)
			if tc.fields == nil {
				if err != nil || len(got) != len(tc.in) {
					t.Fatalf("webhooksOf = %v, %v", got, err)
				}
				return
			}
			var se *api.SpecError
			if !errors.As(err, &se) {
				t.Fatalf("error %v, want a SpecError", err)
			}
			for _, f := range tc.fields {
				if !strings.Contains(se.Error(), f) {
					t.Errorf("%v does not name %s", se, f)
				}
			}
		})
	}
}
