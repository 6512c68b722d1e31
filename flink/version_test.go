package flink

import "testing"

func TestClaimMode(t *testing.T) {
	for _, tc := range []struct {
		version, mode string
		key           string
		refused       bool
	}{
		{"1.20.3", "", "execution.state-recovery.claim-mode", false},
		{"1.20.3", "CLAIM", "execution.state-recovery.claim-mode", false},
		{"1.20.3", "NO_CLAIM", "execution.state-recovery.claim-mode", false},
		{"1.20.3", "LEGACY", "execution.state-recovery.claim-mode", false},
		{"2.2.1", "CLAIM", "execution.state-recovery.claim-mode", false},
		{"2.2.1", "LEGACY", "execution.state-recovery.claim-mode", true},
		{"2.2.1", "claim", "execution.state-recovery.claim-mode", true},
		{"1.19.1", "LEGACY", "execution.savepoint-restore-mode", false},
	} {
		v, err := ParseVersion(tc.version)
		if err != nil {
			t.Fatal(err)
		}
		if got := v.ClaimModeKey(); got != tc.key {
			t.Errorf("%s: ClaimModeKey = %q, want %q", tc.version, got, tc.key)
		}
		if why := v.CheckClaimMode(tc.mode); (why != "") != tc.refused {
			t.Errorf("%s: CheckClaimMode(%q) = %q, refused %v", tc.version, tc.mode, why, tc.refused)
		}
	}
}
