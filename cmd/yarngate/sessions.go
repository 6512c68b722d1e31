package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/client"
)

// sessionsCommand is `yarngate sessions`.
func (c *cli) sessionsCommand() *cobra.Command {
	return groupCommand("sessions", "Create, list and stop Flink session clusters",
		c.sessionsCreate(), c.sessionsGet(), c.sessionsList(), c.sessionsStop())
}

// sessionWaitState parses --wait for a session.
func sessionWaitState(s string) (api.SessionState, error) {
	st, ok := api.ParseSessionState(s)
	if !ok {
		return "", usagef("--wait %q: not a session state (STARTING, RUNNING, STOPPING, STOPPED)", s)
	}
	return st, nil
}

func (c *cli) sessionsCreate() *cobra.Command {
	var (
		spec specFlags
		wait waitFlags
		key  string
	)
	cmd := &cobra.Command{
		Use:   "create [flags]",
		Short: "Start a session cluster; with --wait RUNNING, until it takes jobs",
		Long: `Start a Flink session cluster on YARN. The request comes from flags, or from a JSON or YAML file (-f)
whose fields the flags override. With --wait RUNNING the command exits 0 once the session takes jobs, 3 when it
failed, 4 when it was stopped, 6 when it was lost, 7 after --timeout.`,
		Example: `  yarngate sessions create --name etl --slots 4 --wait RUNNING
  yarngate jobs submit --session <id> --jar-id <jar> --wait FINISHED`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var req api.SessionRequest
			if spec.file != "" {
				if err := readSpec(spec.file, &req); err != nil {
					return err
				}
			}
			if err := spec.apply(cmd, &req.Name, &req.Queue, &req.FlinkVersion, &req.JobManager, &req.TaskManager,
				&req.FlinkConfig, &req.KeytabID, &req.ProxyUser, &req.ACL); err != nil {
				return err
			}
			var target api.SessionState
			if wait.state != "" {
				var err error
				if target, err = sessionWaitState(wait.state); err != nil {
					return err
				}
			}
			cl, err := c.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if key == "" {
				key = newIdempotencyKey()
			}
			s, err := retry(ctx, c.stderr, func() (api.Session, error) { return cl.CreateSession(ctx, req, key) })
			if err != nil {
				return err
			}
			if target == "" {
				return c.printSession(s)
			}
			fmt.Fprintf(c.stderr, "created %s (%s); waiting for %s\n", s.ID, s.State, target)
			return c.waitSession(ctx, cl, s, target, wait)
		},
	}
	spec.register(cmd)
	wait.register(cmd, []string{"RUNNING", "STOPPED"}, "session")
	cmd.Flags().StringVar(&key, "idempotency-key", "", "Idempotency-Key (default: a new random one; the command retries with it)")
	return cmd
}

// waitSession waits for s to reach target and prints it; the error carries the exit code of its state.
func (c *cli) waitSession(ctx context.Context, cl *client.Client, s api.Session, target api.SessionState, wait waitFlags) error {
	wctx, cancel := wait.context(ctx)
	defer cancel()
	last, err := cl.WaitSession(wctx, s.ID, target)
	if last.ID == "" {
		last = s
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			c.printSession(last)
			return codeError{exitTimeout, fmt.Errorf("session %s is %s after %v, not %s", last.ID, last.State, wait.timeout, target)}
		}
		return err
	}
	if err := c.printSession(last); err != nil {
		return err
	}
	if code := sessionExit(last.State, target); code != exitOK {
		msg := fmt.Errorf("session %s ended %s", last.ID, last.State)
		if last.YARN.Diagnostics != "" {
			msg = fmt.Errorf("%w: %s", msg, last.YARN.Diagnostics)
		}
		return codeError{code, msg}
	}
	return nil
}

// printSession prints one session.
func (c *cli) printSession(s api.Session) error {
	if c.json() {
		return c.printJSON(s)
	}
	return c.fields([][2]string{
		{"id", s.ID}, {"name", s.Name}, {"state", string(s.State)}, {"owner", s.Owner}, {"flink", s.FlinkVersion},
		{"yarn", strings.Trim(s.YARN.State+" "+s.YARN.FinalStatus, " ")}, {"queue", s.YARN.Queue},
		{"diagnostics", s.YARN.Diagnostics}, {"yarnUi", s.Links.YARN}, {"flinkUi", deref(s.Links.FlinkUI)},
		{"created", s.CreatedAt.Format(time.RFC3339)}, {"updated", s.UpdatedAt.Format(time.RFC3339)},
	})
}

func (c *cli) sessionsGet() *cobra.Command {
	var wait waitFlags
	cmd := &cobra.Command{
		Use:               "get ID",
		Short:             "Show a session; with --wait, once it reached a state",
		Args:              exactArgs(1),
		ValidArgsFunction: c.completeIDs(sessionIDs),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.client()
			if err != nil {
				return err
			}
			if wait.state == "" {
				s, err := cl.GetSession(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				return c.printSession(s)
			}
			target, err := sessionWaitState(wait.state)
			if err != nil {
				return err
			}
			return c.waitSession(cmd.Context(), cl, api.Session{ID: args[0]}, target, wait)
		},
	}
	wait.register(cmd, []string{"RUNNING", "STOPPED"}, "session")
	return cmd
}

func (c *cli) sessionsList() *cobra.Command {
	var state string
	var pageSize int
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List your sessions (and those shared with you), newest first",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if state != "" {
				st, ok := api.ParseSessionState(state)
				if !ok {
					return usagef("--state %q: not a session state", state)
				}
				state = string(st)
			}
			cl, err := c.client()
			if err != nil {
				return err
			}
			sessions, err := cl.ListSessions(cmd.Context(), client.ListOptions{State: state, PageSize: pageSize})
			if err != nil {
				return err
			}
			if c.json() {
				return c.printJSON(api.SessionList{Sessions: sessions})
			}
			rows := [][]string{{"ID", "NAME", "STATE", "FLINK", "OWNER", "CREATED"}}
			for _, s := range sessions {
				rows = append(rows, []string{s.ID, s.Name, string(s.State), s.FlinkVersion, s.Owner, ago(s.CreatedAt)})
			}
			return c.table(rows)
		},
	}
	var states []string
	for _, s := range api.SessionStates() {
		states = append(states, string(s))
	}
	cmd.Flags().StringVar(&state, "state", "", "only sessions in this state")
	cmd.Flags().IntVar(&pageSize, "page-size", 0, "sessions asked per page (the list follows every page)")
	cmd.RegisterFlagCompletionFunc("state", cobra.FixedCompletions(states, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func (c *cli) sessionsStop() *cobra.Command {
	var wait waitFlags
	cmd := &cobra.Command{
		Use:               "stop ID",
		Short:             "Stop a session (its jobs end with it); --wait STOPPED waits until YARN ended it",
		Args:              exactArgs(1),
		ValidArgsFunction: c.completeIDs(sessionIDs),
		RunE: func(cmd *cobra.Command, args []string) error {
			var target api.SessionState
			if wait.state != "" {
				var err error
				if target, err = sessionWaitState(wait.state); err != nil {
					return err
				}
			}
			cl, err := c.client()
			if err != nil {
				return err
			}
			s, err := cl.StopSession(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if target == "" {
				return c.printSession(s)
			}
			return c.waitSession(cmd.Context(), cl, s, target, wait)
		},
	}
	wait.register(cmd, []string{"STOPPED"}, "session")
	return cmd
}

// sessionIDs lists the caller's sessions, for completion.
func sessionIDs(cl *client.Client, cmd *cobra.Command) ([]cobra.Completion, error) {
	sessions, err := cl.ListSessions(cmd.Context(), client.ListOptions{})
	var ids []cobra.Completion
	for _, s := range sessions {
		ids = append(ids, cobra.CompletionWithDesc(s.ID, s.Name+" "+string(s.State)))
	}
	return ids, err
}
