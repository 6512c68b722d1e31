package gateway

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/yarngate/yarngate/flink/jobmanager"
	"github.com/yarngate/yarngate/yarnclient"
)

func TestDeriveState(t *testing.T) {
	tests := []struct {
		name  string
		yarn  yarnclient.AppState
		final yarnclient.FinalStatus
		flink jobmanager.JobStatus
		want  JobState
	}{
		{"yarn NEW", yarnclient.StateNew, yarnclient.FinalUndefined, "", StateSubmitted},
		{"yarn NEW_SAVING", yarnclient.StateNewSaving, yarnclient.FinalUndefined, "", StateSubmitted},
		{"yarn SUBMITTED", yarnclient.StateSubmitted, yarnclient.FinalUndefined, "", StateSubmitted},
		{"yarn ACCEPTED", yarnclient.StateAccepted, yarnclient.FinalUndefined, "", StateAccepted},
		{"yarn ACCEPTED ignores a flink status", yarnclient.StateAccepted, yarnclient.FinalUndefined, "RUNNING", StateAccepted},
		{"running, jobmanager not answering", yarnclient.StateRunning, yarnclient.FinalUndefined, "", StateStarting},
		{"running, flink INITIALIZING", yarnclient.StateRunning, yarnclient.FinalUndefined, "INITIALIZING", StateStarting},
		{"running, flink CREATED", yarnclient.StateRunning, yarnclient.FinalUndefined, "CREATED", StateStarting},
		{"running, flink SUSPENDED", yarnclient.StateRunning, yarnclient.FinalUndefined, "SUSPENDED", StateStarting},
		{"running, flink status never heard of", yarnclient.StateRunning, yarnclient.FinalUndefined, "WHATEVER", StateStarting},
		{"running, flink RUNNING", yarnclient.StateRunning, yarnclient.FinalUndefined, "RUNNING", StateRunning},
		{"running, flink RESTARTING", yarnclient.StateRunning, yarnclient.FinalUndefined, "RESTARTING", StateRunning},
		{"running, flink FAILING", yarnclient.StateRunning, yarnclient.FinalUndefined, "FAILING", StateRunning},
		{"running, flink CANCELLING", yarnclient.StateRunning, yarnclient.FinalUndefined, "CANCELLING", StateRunning},
		{"running, flink RECONCILING", yarnclient.StateRunning, yarnclient.FinalUndefined, "RECONCILING", StateRunning},
		{"running, flink FINISHED", yarnclient.StateRunning, yarnclient.FinalUndefined, "FINISHED", StateFinished},
		{"running, flink FAILED", yarnclient.StateRunning, yarnclient.FinalUndefined, "FAILED", StateFailed},
		{"running, flink CANCELED", yarnclient.StateRunning, yarnclient.FinalUndefined, "CANCELED", StateCanceled},
		{"finished SUCCEEDED", yarnclient.StateFinished, yarnclient.FinalSucceeded, "", StateFinished},
		{"finished KILLED is a canceled job", yarnclient.StateFinished, yarnclient.FinalKilled, "", StateCanceled},
		{"finished FAILED", yarnclient.StateFinished, yarnclient.FinalFailed, "", StateFailed},
		{"finished UNDEFINED", yarnclient.StateFinished, yarnclient.FinalUndefined, "", StateFailed},
		{"finished without final status", yarnclient.StateFinished, "", "", StateFailed},
		{"finished, the report wins over a stale flink status", yarnclient.StateFinished, yarnclient.FinalSucceeded, "RUNNING", StateFinished},
		{"yarn FAILED", yarnclient.StateFailed, yarnclient.FinalFailed, "", StateFailed},
		{"yarn FAILED with undefined final status", yarnclient.StateFailed, yarnclient.FinalUndefined, "", StateFailed},
		{"yarn KILLED", yarnclient.StateKilled, yarnclient.FinalKilled, "", StateKilled},
		{"yarn KILLED while flink ran", yarnclient.StateKilled, yarnclient.FinalKilled, "RUNNING", StateKilled},
		{"unknown yarn state", "", "", "", StateSubmitted},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := deriveState(tc.yarn, tc.final, tc.flink); got != tc.want {
				t.Errorf("deriveState(%q, %q, %q) = %s, want %s", tc.yarn, tc.final, tc.flink, got, tc.want)
			}
		})
	}
}

func TestJobStateTerminal(t *testing.T) {
	terminal := map[JobState]bool{StateFinished: true, StateFailed: true, StateCanceled: true, StateKilled: true, StateLost: true}
	if len(jobStates) != 9 {
		t.Fatalf("%d states, want 9: %v", len(jobStates), jobStates)
	}
	for _, s := range jobStates {
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
			if got := tc.state.reached(tc.target); got != tc.want {
				t.Errorf("%s.reached(%s) = %v, want %v", tc.state, tc.target, got, tc.want)
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

func TestFlinkJobID(t *testing.T) {
	tests := []struct {
		name    string
		appID   string
		want    string
		wantErr bool
	}{
		{"typical", "application_1767225600000_0042", "0000019b76daa800000000000000002a", false},
		{"sequence beyond four digits", "application_1_9999", "0000000000000001000000000000270f", false},
		{"zeros", "application_0_0", "00000000000000000000000000000000", false},
		{"largest", "application_18446744073709551615_18446744073709551615", "ffffffffffffffffffffffffffffffff", false},
		{"empty", "", "", true},
		{"no sequence", "application_1767225600000", "", true},
		{"empty sequence", "application_1767225600000_", "", true},
		{"letters", "application_abc_1", "", true},
		{"negative", "application_-1_2", "", true},
		{"wrong prefix", "job_1767225600000_0042", "", true},
		{"upper-case prefix", "APPLICATION_1_2", "", true},
		{"too many parts", "application_1_2_3", "", true},
		{"timestamp overflows", "application_18446744073709551616_1", "", true},
		{"attempt id", "appattempt_1767225600000_0042_000001", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := flinkJobID(tc.appID)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("flinkJobID(%q) = %q, %v; want %q, error %v", tc.appID, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestCleanDiagnostics(t *testing.T) {
	trace := "Application application_1_2 failed 1 times due to AM Container exited with exitCode: 1\n" +
		"Failing this attempt.Diagnostics: [2026-01-02 03:04:05]Exception from container-launch.\n" +
		"org.apache.flink.client.program.ProgramInvocationException: The main method caused an error: boom\n" +
		"\tat org.apache.flink.client.program.PackagedProgram.callMainMethod(PackagedProgram.java:373)\n" +
		"\tat org.apache.flink.client.program.PackagedProgram.invokeInteractiveModeForExecution(PackagedProgram.java:223)\n" +
		"Caused by: java.lang.IllegalStateException: boom\n" +
		"    at com.example.Job.main(Job.java:12)\n" +
		"\t... 12 more\n" +
		"\n" +
		"For more detailed output, check the application tracking page.\n"
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"empty", "", ""},
		{"plain message", "Application killed by user.", "Application killed by user."},
		{"stack frames removed, messages kept",
			trace,
			"Application application_1_2 failed 1 times due to AM Container exited with exitCode: 1\n" +
				"Failing this attempt.Diagnostics: [2026-01-02 03:04:05]Exception from container-launch.\n" +
				"org.apache.flink.client.program.ProgramInvocationException: The main method caused an error: boom\n" +
				"Caused by: java.lang.IllegalStateException: boom\n" +
				"For more detailed output, check the application tracking page."},
		{"blank lines and indentation dropped", "  first\r\n\n\t\n  second  ", "first\nsecond"},
		{"at the limit", strings.Repeat("x", diagnosticsLimit), strings.Repeat("x", diagnosticsLimit)},
		{"over the limit", strings.Repeat("x", diagnosticsLimit+100), strings.Repeat("x", diagnosticsLimit) + "…"},
		{"cut between runes", "a" + strings.Repeat("ü", diagnosticsLimit), "a" + strings.Repeat("ü", diagnosticsLimit/2-1) + "…"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := cleanDiagnostics(tc.in)
			if got != tc.want {
				t.Errorf("cleanDiagnostics() =\n%q\nwant\n%q", got, tc.want)
			}
			if !utf8.ValidString(got) {
				t.Errorf("cleanDiagnostics() returned invalid UTF-8")
			}
			if len(got) > diagnosticsLimit+len("…") {
				t.Errorf("len = %d, over the limit", len(got))
			}
		})
	}
}
