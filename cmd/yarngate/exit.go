package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/client"
)

// Exit codes of the yarngate command (docs/CLI.md). A command that waits (--wait) for a job or session
// exits with the code of the state it ended in when that is not the one waited for.
const (
	// exitOK: done; with --wait, the state waited for (or past it) was reached.
	exitOK = 0
	// exitError: the command failed (the gateway refused it, could not be reached, a file could not be read).
	exitError = 1
	// exitUsage: bad command line.
	exitUsage = 2
	// exitFailed: the job (or session) ended FAILED.
	exitFailed = 3
	// exitCanceled: the job ended CANCELED, or the session ended STOPPED, before the state waited for.
	exitCanceled = 4
	// exitKilled: the job's YARN application was killed (KILLED).
	exitKilled = 5
	// exitLost: the gateway lost the job or session (LOST).
	exitLost = 6
	// exitTimeout: --timeout passed before the state waited for was reached.
	exitTimeout = 7
	// exitInterrupted: SIGINT or SIGTERM ended the command (as shells report a signal: 128+2).
	exitInterrupted = 130
)

// exitError carries an exit code other than exitError, with an optional message to print.
type codeError struct {
	code int
	err  error // nil: nothing to print
}

func (e codeError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e codeError) Unwrap() error { return e.err }

// codeOnly returns nil for exit code 0, else an error that exits with code and prints nothing.
func codeOnly(code int) error {
	if code == 0 {
		return nil
	}
	return codeError{code: code}
}

// usageError is a bad command line (exitUsage).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usagef returns a usageError.
func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// exactArgs is cobra.ExactArgs whose error is a usageError.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}

// noArgs is cobra.NoArgs whose error is a usageError.
func noArgs(cmd *cobra.Command, args []string) error {
	if err := cobra.NoArgs(cmd, args); err != nil {
		return usageError{err}
	}
	return nil
}

// exitCode prints err (if it says anything) to stderr and returns the exit code it stands for.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	var ce codeError
	if errors.As(err, &ce) {
		if ce.err != nil {
			fmt.Fprintln(stderr, "yarngate:", ce.err)
		}
		return ce.code
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintln(stderr, "yarngate:", ue.err)
		fmt.Fprintln(stderr, "Run 'yarngate --help' or 'yarngate <command> --help' for usage.")
		return exitUsage
	}
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(stderr, "yarngate: interrupted")
		return exitInterrupted
	}
	fmt.Fprintln(stderr, "yarngate:", err)
	var ae *client.Error
	if errors.As(err, &ae) {
		for _, d := range ae.Body.Details {
			fmt.Fprintf(stderr, "  %s: %s\n", d.Field, d.Reason)
		}
		if ae.Body.RetryAfter > 0 {
			fmt.Fprintf(stderr, "  retry after %ds\n", ae.Body.RetryAfter)
		}
	}
	return exitError
}

// jobExit is the exit code for a job in state st after a wait for target: exitOK when st is target, past it
// without having ended, or FINISHED; else the code of its end.
func jobExit(st, target api.JobState) int {
	switch {
	case st == api.StateFinished || st == target || (!st.Terminal() && st.Reached(target)):
		return exitOK
	case !st.Reached(target):
		return exitTimeout
	case st == api.StateFailed:
		return exitFailed
	case st == api.StateCanceled:
		return exitCanceled
	case st == api.StateKilled:
		return exitKilled
	}
	return exitLost
}

// sessionExit is the exit code for a session in state st after a wait for target.
func sessionExit(st, target api.SessionState) int {
	switch {
	case st == target || (!st.Terminal() && st.Reached(target)):
		return exitOK
	case !st.Reached(target):
		return exitTimeout
	case st == api.SessionFailed:
		return exitFailed
	case st == api.SessionStopped:
		return exitCanceled
	}
	return exitLost
}
