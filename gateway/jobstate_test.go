package gateway

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/flink/jobmanager"
	"github.com/yarngate/yarngate/yarnclient"
)

func TestDeriveState(t *testing.T) {
	tests := []struct {
		name  string
		yarn  yarnclient.AppState
		final yarnclient.FinalStatus
		flink jobmanager.JobStatus
		want  api.JobState
	}{
		{"yarn NEW", yarnclient.StateNew, yarnclient.FinalUndefined, "", api.StateSubmitted},
		{"yarn NEW_SAVING", yarnclient.StateNewSaving, yarnclient.FinalUndefined, "", api.StateSubmitted},
		{"yarn SUBMITTED", yarnclient.StateSubmitted, yarnclient.FinalUndefined, "", api.StateSubmitted},
		{"yarn ACCEPTED", yarnclient.StateAccepted, yarnclient.FinalUndefined, "", api.StateAccepted},
		{"yarn ACCEPTED ignores a flink status", yarnclient.StateAccepted, yarnclient.FinalUndefined, "RUNNING", api.StateAccepted},
		{"running, jobmanager not answering", yarnclient.StateRunning, yarnclient.FinalUndefined, "", api.StateStarting},
		{"running, flink INITIALIZING", yarnclient.StateRunning, yarnclient.FinalUndefined, "INITIALIZING", api.StateStarting},
		{"running, flink CREATED", yarnclient.StateRunning, yarnclient.FinalUndefined, "CREATED", api.StateStarting},
		{"running, flink SUSPENDED", yarnclient.StateRunning, yarnclient.FinalUndefined, "SUSPENDED", api.StateStarting},
		{"running, flink status never heard of", yarnclient.StateRunning, yarnclient.FinalUndefined, "WHATEVER", api.StateStarting},
		{"running, flink RUNNING", yarnclient.StateRunning, yarnclient.FinalUndefined, "RUNNING", api.StateRunning},
		{"running, flink RESTARTING", yarnclient.StateRunning, yarnclient.FinalUndefined, "RESTARTING", api.StateRunning},
		{"running, flink FAILING", yarnclient.StateRunning, yarnclient.FinalUndefined, "FAILING", api.StateRunning},
		{"running, flink CANCELLING", yarnclient.StateRunning, yarnclient.FinalUndefined, "CANCELLING", api.StateRunning},
		{"running, flink RECONCILING", yarnclient.StateRunning, yarnclient.FinalUndefined, "RECONCILING", api.StateRunning},
		{"running, flink FINISHED", yarnclient.StateRunning, yarnclient.FinalUndefined, "FINISHED", api.StateFinished},
		{"running, flink FAILED", yarnclient.StateRunning, yarnclient.FinalUndefined, "FAILED", api.StateFailed},
		{"running, flink CANCELED", yarnclient.StateRunning, yarnclient.FinalUndefined, "CANCELED", api.StateCanceled},
		{"finished SUCCEEDED", yarnclient.StateFinished, yarnclient.FinalSucceeded, "", api.StateFinished},
		{"finished KILLED is a canceled job", yarnclient.StateFinished, yarnclient.FinalKilled, "", api.StateCanceled},
		{"finished FAILED", yarnclient.StateFinished, yarnclient.FinalFailed, "", api.StateFailed},
		{"finished UNDEFINED", yarnclient.StateFinished, yarnclient.FinalUndefined, "", api.StateFailed},
		{"finished without final status", yarnclient.StateFinished, "", "", api.StateFailed},
		{"finished, the report wins over a stale flink status", yarnclient.StateFinished, yarnclient.FinalSucceeded, "RUNNING", api.StateFinished},
		{"yarn FAILED", yarnclient.StateFailed, yarnclient.FinalFailed, "", api.StateFailed},
		{"yarn FAILED with undefined final status", yarnclient.StateFailed, yarnclient.FinalUndefined, "", api.StateFailed},
		{"yarn KILLED", yarnclient.StateKilled, yarnclient.FinalKilled, "", api.StateKilled},
		{"yarn KILLED while flink ran", yarnclient.StateKilled, yarnclient.FinalKilled, "RUNNING", api.StateKilled},
		{"unknown yarn state", "", "", "", api.StateSubmitted},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := deriveState(tc.yarn, tc.final, tc.flink); got != tc.want {
				t.Errorf("deriveState(%q, %q, %q) = %s, want %s", tc.yarn, tc.final, tc.flink, got, tc.want)
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
