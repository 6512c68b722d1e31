package jobmanager

import "testing"

func TestDriverFailure(t *testing.T) {
	tests := []struct{ name, log, want string }{
		{"main method error", "2026 INFO x\n2026 ERROR y - Fatal error\norg.apache.flink.util.FlinkException: boom\n" +
			"Caused by: org.apache.flink.client.program.ProgramInvocationException: The main method caused an error: failing on purpose (--fail)\n" +
			"\tat a.b\nCaused by: java.lang.IllegalArgumentException: failing on purpose (--fail)\n",
			"failing on purpose (--fail)"},
		{"deepest cause", "x\nCaused by: java.io.IOException: a\n\tat q\nCaused by: java.net.ConnectException: refused\n", "java.net.ConnectException: refused"},
		{"clean log", "2026 INFO all good\n", ""},
		{"empty", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := DriverFailure(tc.log); got != tc.want {
				t.Fatalf("DriverFailure = %q, want %q", got, tc.want)
			}
		})
	}
}
