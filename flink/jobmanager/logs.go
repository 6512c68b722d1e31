package jobmanager

import "strings"

// mainMethodError is how Flink's client reports an exception thrown by the user's main()
// (ProgramInvocationException).
const mainMethodError = "The main method caused an error: "

// DriverFailure finds why an application's driver (the user's main() in the JobManager) failed, in the
// text of a JobManager log: the message of "The main method caused an error: ...", or else the deepest
// "Caused by: ..." of the log. It returns "" when the log names no failure. It is a fallback for when the
// JobManager and its job archive cannot tell (Flink does not archive the placeholder job it records for a
// failed main()).
func DriverFailure(log string) string {
	var deepest string
	for _, line := range strings.Split(log, "\n") {
		line = strings.TrimSpace(line)
		if i := strings.Index(line, mainMethodError); i >= 0 {
			if msg := strings.TrimSpace(line[i+len(mainMethodError):]); msg != "" {
				return truncate(msg, 1024)
			}
		}
		if c, ok := strings.CutPrefix(line, "Caused by: "); ok {
			deepest = c
		}
	}
	return truncate(deepest, 1024)
}
