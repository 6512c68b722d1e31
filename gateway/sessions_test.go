package gateway

import (
	"strings"
	"testing"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/yarnclient"
)

func TestSessionJobIDs(t *testing.T) {
	jid := "0123456789abcdef0123456789abcdef"
	for _, tc := range []struct {
		id      string
		session bool
		valid   bool
	}{
		{testAppID, false, true},
		{testSessionID + "." + jid, true, true},
		{testSessionID + "." + strings.ToUpper(jid), false, false},
		{testSessionID + "." + jid[:31], false, false},
		{testSessionID + ".", false, false},
		{"sj-" + jid, false, false},
		{testSessionID + "." + jid + ".x", false, false},
	} {
		s, f, ok := parseSessionJobID(tc.id)
		if ok != tc.session || (ok && (s != testSessionID || f != jid)) {
			t.Errorf("parseSessionJobID(%q) = %q, %q, %v", tc.id, s, f, ok)
		}
		if ValidJobID(tc.id) != tc.valid {
			t.Errorf("ValidJobID(%q) = %v", tc.id, !tc.valid)
		}
	}
	if got := sessionJobID(testSessionID, jid); got != testSessionID+"."+jid {
		t.Errorf("sessionJobID = %q", got)
	}
}

func TestDeriveSessionState(t *testing.T) {
	tests := []struct {
		yarn      yarnclient.AppState
		final     yarnclient.FinalStatus
		answers   bool
		stopping  bool
		wantState api.SessionState
	}{
		{yarnclient.StateAccepted, yarnclient.FinalUndefined, false, false, api.SessionStarting},
		{yarnclient.StateAccepted, yarnclient.FinalUndefined, true, false, api.SessionRunning}, // HA: new attempt leads
		{yarnclient.StateRunning, yarnclient.FinalUndefined, false, false, api.SessionStarting},
		{yarnclient.StateRunning, yarnclient.FinalUndefined, true, false, api.SessionRunning},
		{yarnclient.StateRunning, yarnclient.FinalUndefined, true, true, api.SessionStopping},
		{yarnclient.StateFinished, yarnclient.FinalSucceeded, false, true, api.SessionStopped},
		{yarnclient.StateKilled, yarnclient.FinalKilled, false, false, api.SessionStopped},
		{yarnclient.StateFinished, yarnclient.FinalFailed, false, false, api.SessionFailed},
		{yarnclient.StateFailed, yarnclient.FinalFailed, false, false, api.SessionFailed},
	}
	for _, tc := range tests {
		app := &yarnclient.App{State: tc.yarn, FinalStatus: tc.final}
		if got := deriveSessionState(app, tc.answers, tc.stopping); got != tc.wantState {
			t.Errorf("%s/%s answers=%v stopping=%v → %s, want %s", tc.yarn, tc.final, tc.answers, tc.stopping, got, tc.wantState)
		}
	}
	if !api.SessionStopping.Reached(api.SessionRunning) || api.SessionStarting.Reached(api.SessionRunning) || !api.SessionFailed.Reached(api.SessionRunning) {
		t.Error("reached is wrong")
	}
}
