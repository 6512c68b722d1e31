package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/client"
)

// savepointFlags are the flags of jobs savepoint and jobs stop.
type savepointFlags struct {
	triggerID, format, dir string
	wait                   bool
	timeout                time.Duration
}

func (f *savepointFlags) register(cmd *cobra.Command, waitWhat string) {
	fs := cmd.Flags()
	fs.StringVar(&f.triggerID, "trigger-id", "", "your id of this request: the same id again answers with the same savepoint (default: a random one)")
	fs.StringVar(&f.format, "format", "", "CANONICAL (default, portable) or NATIVE (the state backend's own, faster)")
	fs.StringVar(&f.dir, "dir", "", "target directory (default: the job's state.savepoints.dir, else the gateway's per-job directory)")
	fs.BoolVar(&f.wait, "wait", false, "wait until "+waitWhat+"; exit 3 if the savepoint failed")
	fs.DurationVar(&f.timeout, "timeout", 0, "give up waiting after this long (exit 7); 0: no limit")
	cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{string(api.FormatCanonical), string(api.FormatNative)}, cobra.ShellCompDirectiveNoFileComp))
}

// trigger returns the trigger id: the flag's, else a random one, so that the command's own retries and
// --wait refer to one savepoint.
func (f *savepointFlags) trigger() string {
	if f.triggerID != "" {
		return f.triggerID
	}
	b := make([]byte, 12)
	rand.Read(b)
	return "cli-" + hex.EncodeToString(b)
}

func (f *savepointFlags) waitContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if f.timeout > 0 {
		return context.WithTimeout(ctx, f.timeout)
	}
	return context.WithCancel(ctx)
}

func (c *cli) jobsSavepoint() *cobra.Command {
	var f savepointFlags
	cmd := &cobra.Command{
		Use:   "savepoint ID",
		Short: "Take a savepoint of a running job (it keeps running)",
		Example: `  yarngate jobs savepoint application_1700000000000_0042 --wait
  yarngate jobs savepoint application_1700000000000_0042 --format NATIVE --trigger-id nightly-2026-12-07`,
		Args:              exactArgs(1),
		ValidArgsFunction: c.completeIDs(jobIDs),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.client()
			if err != nil {
				return err
			}
			sp, err := cl.TriggerSavepoint(cmd.Context(), args[0], api.SavepointRequest{
				TriggerID: f.trigger(), Format: api.SavepointFormat(f.format), TargetDirectory: f.dir})
			if err != nil {
				return err
			}
			return c.finishSavepoint(cmd.Context(), cl, args[0], sp, &f)
		},
	}
	f.register(cmd, "the savepoint is written")
	return cmd
}

func (c *cli) jobsStop() *cobra.Command {
	var f savepointFlags
	var drain bool
	cmd := &cobra.Command{
		Use:   "stop ID",
		Short: "Stop a job with a savepoint (it ends FINISHED; restore it with jobs submit -f and savepoint.path)",
		Example: `  yarngate jobs stop application_1700000000000_0042 --wait
  yarngate jobs stop application_1700000000000_0042 --drain --wait   # a final stop: event-time windows flushed`,
		Args:              exactArgs(1),
		ValidArgsFunction: c.completeIDs(jobIDs),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.client()
			if err != nil {
				return err
			}
			sp, err := cl.StopJob(cmd.Context(), args[0], api.StopRequest{Savepoint: true, Drain: drain,
				TriggerID: f.trigger(), Format: api.SavepointFormat(f.format), TargetDirectory: f.dir})
			if err != nil {
				return err
			}
			return c.finishSavepoint(cmd.Context(), cl, args[0], sp, &f)
		},
	}
	f.register(cmd, "the savepoint is written and the job stopped")
	cmd.Flags().BoolVar(&drain, "drain", false, "emit MAX_WATERMARK before the savepoint (flushes event-time windows: for a final stop, not one to resume from)")
	return cmd
}

// finishSavepoint waits for the savepoint when asked, prints it, and exits 3 if it failed.
func (c *cli) finishSavepoint(ctx context.Context, cl *client.Client, jobID string, sp api.Savepoint, f *savepointFlags) error {
	if f.wait && sp.State == api.SavepointInProgress {
		wctx, cancel := f.waitContext(ctx)
		defer cancel()
		done, err := cl.WaitSavepoint(wctx, jobID, sp.TriggerID)
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			_ = c.printSavepoint(sp) // what is known; the timeout is the error
			return codeError{exitTimeout, fmt.Errorf("savepoint %s of job %s is still IN_PROGRESS after %v", sp.TriggerID, jobID, f.timeout)}
		}
		if err != nil {
			return err
		}
		sp = done
	}
	if err := c.printSavepoint(sp); err != nil {
		return err
	}
	if sp.State == api.SavepointFailed {
		return codeError{exitFailed, fmt.Errorf("savepoint %s of job %s failed: %s", sp.TriggerID, jobID, deref(sp.Failure))}
	}
	return nil
}

func (c *cli) jobsSavepoints() *cobra.Command {
	return &cobra.Command{
		Use:               "savepoints ID",
		Short:             "List a job's savepoints, newest first",
		Args:              exactArgs(1),
		ValidArgsFunction: c.completeIDs(jobIDs),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.client()
			if err != nil {
				return err
			}
			sps, err := cl.ListSavepoints(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if c.json() {
				if sps == nil {
					sps = []api.Savepoint{}
				}
				return c.printJSON(api.SavepointList{Savepoints: sps})
			}
			rows := [][]string{{"TRIGGER", "STATE", "FORMAT", "STOP", "REQUESTED", "PATH"}}
			for _, sp := range sps {
				rows = append(rows, []string{sp.TriggerID, string(sp.State), string(sp.Format), fmt.Sprint(sp.Stop),
					sp.RequestedAt.Format(time.RFC3339), deref(sp.Path)})
			}
			return c.table(rows)
		},
	}
}

// printSavepoint prints one savepoint.
func (c *cli) printSavepoint(sp api.Savepoint) error {
	if c.json() {
		return c.printJSON(sp)
	}
	return c.fields([][2]string{
		{"trigger", sp.TriggerID}, {"state", string(sp.State)}, {"job", sp.JobID}, {"application", sp.ApplicationID},
		{"flinkJobId", sp.FlinkJobID}, {"format", string(sp.Format)}, {"stop", fmt.Sprint(sp.Stop)},
		{"path", deref(sp.Path)}, {"failure", deref(sp.Failure)}, {"requested", sp.RequestedAt.Format(time.RFC3339)},
	})
}
