package api

import (
	"testing"
)

func TestJobStateTerminal(t *testing.T) {
	terminal := map[JobState]bool{StateFinished: true, StateFailed: true, StateCanceled: true, StateKilled: true, StateLost: true}
	if len(JobStates()) != 9 {
		t.Fatalf("%d states, want 9: %v", len(JobStates()), JobStates())
	}
	for _, s := range JobStates() {
		if s.Terminal() != terminal[s] {
			t.Errorf("%s.Terminal() = %v", s, s.Terminal())
		}
	}
}

func TestJobStateReached(t *testing.T) {
	tests := []struct {
		name   string
		state  JobState
		target JobState
		want   bool
	}{
		{"same transient state", StateSubmitted, StateSubmitted, true},
		{"before the target", StateSubmitted, StateAccepted, false},
		{"accepted is not yet running", StateAccepted, StateRunning, false},
		{"starting is not yet running", StateStarting, StateRunning, false},
		{"past the target", StateRunning, StateAccepted, true},
		{"running satisfies starting", StateRunning, StateStarting, true},
		{"failed ends a wait for running", StateFailed, StateRunning, true},
		{"killed ends a wait for submitted", StateKilled, StateSubmitted, true},
		{"lost ends a wait for running", StateLost, StateRunning, true},
		{"running does not satisfy finished", StateRunning, StateFinished, false},
		{"submitted does not satisfy canceled", StateSubmitted, StateCanceled, false},
		{"finished satisfies finished", StateFinished, StateFinished, true},
		{"another terminal state ends a wait for finished", StateFailed, StateFinished, true},
		{"killed ends a wait for canceled", StateKilled, StateCanceled, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.state.Reached(tc.target); got != tc.want {
				t.Errorf("%s.Reached(%s) = %v, want %v", tc.state, tc.target, got, tc.want)
			}
		})
	}
}

func TestParseJobState(t *testing.T) {
	tests := []struct {
		in     string
		want   JobState
		wantOK bool
	}{
		{"RUNNING", StateRunning, true},
		{"running", StateRunning, true},
		{"Canceled", StateCanceled, true},
		{"submitted", StateSubmitted, true},
		{"accepted", StateAccepted, true},
		{"starting", StateStarting, true},
		{"finished", StateFinished, true},
		{"failed", StateFailed, true},
		{"killed", StateKilled, true},
		{"lost", StateLost, true},
		{"", "", false},
		{"RUN", "", false},
		{"CANCELLED", "", false},
		{" RUNNING", "", false},
		{"SUCCEEDED", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, ok := ParseJobState(tc.in)
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("ParseJobState(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}
