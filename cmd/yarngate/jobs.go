package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/client"
	"go.yaml.in/yaml/v3"
)

// jobsCommand is `yarngate jobs`.
func (c *cli) jobsCommand() *cobra.Command {
	return groupCommand("jobs", "Submit, follow, list and cancel jobs, read their logs, take savepoints and stop with one",
		c.jobsSubmit(), c.jobsGet(), c.jobsList(), c.jobsCancel(), c.jobsLogs(), c.jobsSavepoint(), c.jobsStop(),
		c.jobsSavepoints(), c.jobsUpgrade())
}

// specFlags are the flags that describe a job or session request; set ones override the -f file.
type specFlags struct {
	file, name, queue, flinkVersion, jmMemory, tmMemory, keytabID, proxyUser string
	slots                                                                    int
	conf, viewACL, modifyACL                                                 []string
}

// register adds the flags shared by jobs submit and sessions create.
func (s *specFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVarP(&s.file, "file", "f", "", "the request as a JSON or YAML file (the fields of docs/API.md); flags override it")
	fs.StringVar(&s.name, "name", "", "name (YARN application name)")
	fs.StringVar(&s.queue, "queue", "", "YARN queue")
	fs.StringVar(&s.flinkVersion, "flink-version", "", "Flink version, such as 1.20 or 2 (default: the gateway's)")
	fs.StringVar(&s.jmMemory, "jm-memory", "", "JobManager memory, such as 1600m")
	fs.StringVar(&s.tmMemory, "tm-memory", "", "TaskManager memory, such as 1728m")
	fs.IntVar(&s.slots, "slots", 0, "task slots per TaskManager")
	fs.StringArrayVarP(&s.conf, "conf", "D", nil, "Flink configuration key=value (repeatable)")
	fs.StringVar(&s.keytabID, "keytab-id", "", "a stored keytab the cluster logs in with (Kerberized clusters)")
	fs.StringVar(&s.proxyUser, "proxy-user", "", "act for this user (needs the gateway's auth.proxyUsers rights)")
	fs.StringSliceVar(&s.viewACL, "view-acl", nil, "users, group:<name> or * who may also see it")
	fs.StringSliceVar(&s.modifyACL, "modify-acl", nil, "users, group:<name> or * who may also act on it")
	cmd.MarkFlagFilename("file", "json", "yaml", "yml")
}

// readSpec decodes the -f file into v strictly (unknown fields are errors), from JSON or YAML.
func readSpec(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	trimmed := bytes.TrimSpace(data)
	if !bytes.HasPrefix(trimmed, []byte("{")) {
		var doc any
		if err := yaml.Unmarshal(data, &doc); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if trimmed, err = json.Marshal(doc); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// flinkConfig parses key=value pairs over cfg.
func flinkConfig(cfg map[string]any, pairs []string) (map[string]any, error) {
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return nil, usagef("-D %q: want key=value", p)
		}
		if cfg == nil {
			cfg = map[string]any{}
		}
		cfg[k] = v
	}
	return cfg, nil
}

// apply sets the fields the flags name; it returns the common parts for the caller to place.
func (s *specFlags) apply(cmd *cobra.Command, name, queue, version *string, jm **api.JobManagerSpec, tm **api.TaskManagerSpec,
	conf *map[string]any, keytab, proxy *string, acl **api.ACL) error {
	fs := cmd.Flags()
	set := func(flag string, dst *string, v string) {
		if fs.Changed(flag) {
			*dst = v
		}
	}
	set("name", name, s.name)
	set("queue", queue, s.queue)
	set("flink-version", version, s.flinkVersion)
	set("keytab-id", keytab, s.keytabID)
	set("proxy-user", proxy, s.proxyUser)
	if fs.Changed("jm-memory") {
		if *jm == nil {
			*jm = &api.JobManagerSpec{}
		}
		(*jm).Memory = s.jmMemory
	}
	if fs.Changed("tm-memory") || fs.Changed("slots") {
		if *tm == nil {
			*tm = &api.TaskManagerSpec{}
		}
		if fs.Changed("tm-memory") {
			(*tm).Memory = s.tmMemory
		}
		if fs.Changed("slots") {
			slots := s.slots
			(*tm).Slots = &slots
		}
	}
	cfg, err := flinkConfig(*conf, s.conf)
	if err != nil {
		return err
	}
	*conf = cfg
	if fs.Changed("view-acl") || fs.Changed("modify-acl") {
		if *acl == nil {
			*acl = &api.ACL{}
		}
		if fs.Changed("view-acl") {
			(*acl).View = s.viewACL
		}
		if fs.Changed("modify-acl") {
			(*acl).Modify = s.modifyACL
		}
	}
	return nil
}

// waitFlags are --wait and --timeout.
type waitFlags struct {
	state   string
	timeout time.Duration
}

func (w *waitFlags) register(cmd *cobra.Command, states []string, what string) {
	cmd.Flags().StringVar(&w.state, "wait", "", "wait until the "+what+" is in this state, has passed it or ended ("+strings.Join(states, ", ")+"); the exit code says how it ended")
	cmd.Flags().DurationVar(&w.timeout, "timeout", 0, "give up waiting after this long (exit 7); 0: no limit")
	cmd.RegisterFlagCompletionFunc("wait", cobra.FixedCompletions(states, cobra.ShellCompDirectiveNoFileComp))
}

// context returns the context of the wait.
func (w *waitFlags) context(ctx context.Context) (context.Context, context.CancelFunc) {
	if w.timeout > 0 {
		return context.WithTimeout(ctx, w.timeout)
	}
	return context.WithCancel(ctx)
}

// jobWaitState parses --wait for a job.
func jobWaitState(s string) (api.JobState, error) {
	st, ok := api.ParseJobState(s)
	if !ok || (st.Terminal() && st != api.StateFinished) {
		return "", usagef("--wait %q: want SUBMITTED, ACCEPTED, STARTING, RUNNING or FINISHED", s)
	}
	return st, nil
}

// newIdempotencyKey returns a random key for one submission, so that the command's own retries never
// launch twice.
func newIdempotencyKey() string { return "yarngate-cli-" + strings.ToLower(rand.Text()) }

// submitRetryFor bounds how long the command retries a submission that got no answer or a 5xx/429, with
// the same idempotency key (so that a retry never launches twice); retryBackoffMax caps one pause.
const (
	submitRetryFor  = 2 * time.Minute
	retryBackoffMax = 15 * time.Second
)

// retryable reports whether a failed call is worth repeating with the same idempotency key.
func retryable(err error) bool {
	var e *client.Error
	if errors.As(err, &e) {
		return e.StatusCode >= 500 || e.StatusCode == 429
	}
	return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// retry calls f until it succeeds, fails for good, or submitRetryFor has passed, pausing between attempts
// (doubling from 2s up to retryBackoffMax, or the gateway's Retry-After when it gives one).
func retry[T any](ctx context.Context, stderr io.Writer, f func() (T, error)) (T, error) {
	deadline := time.Now().Add(submitRetryFor)
	pause := 2 * time.Second
	for {
		v, err := f()
		if err == nil || !retryable(err) {
			return v, err
		}
		wait := pause
		var e *client.Error
		if errors.As(err, &e) && e.Body.RetryAfter > 0 {
			wait = time.Duration(e.Body.RetryAfter) * time.Second
		}
		if time.Now().Add(wait).After(deadline) {
			return v, err
		}
		fmt.Fprintf(stderr, "yarngate: %v; retrying in %v\n", err, wait)
		select {
		case <-ctx.Done():
			return v, ctx.Err()
		case <-time.After(wait):
		}
		pause = min(2*pause, retryBackoffMax)
	}
}

func (c *cli) jobsSubmit() *cobra.Command {
	var (
		spec                                      specFlags
		wait                                      waitFlags
		jar, jarID, jarPath, entryClass, key      string
		session, savepoint, claimMode             string
		parallelism                               int
		allowNonRestored, multipleJobs, killOnInt bool
	)
	cmd := &cobra.Command{
		Use:   "submit [flags] [-- ARGS...]",
		Short: "Launch a job: a local jar (--jar, uploaded first), a staged one (--jar-id) or one in HDFS (--jar-path)",
		Long: `Launch a job. The request comes from flags, or from a JSON or YAML file (-f) whose fields the flags override;
the program arguments are what follows --. With --wait the command waits for the state on the gateway's long
poll, prints the job then, and exits 0 only when the job reached it (FINISHED: only when it finished); a job
that ended otherwise exits 3 (FAILED), 4 (CANCELED), 5 (KILLED) or 6 (LOST), a --timeout that passed 7.`,
		Example: `  yarngate jobs submit --jar target/job.jar --name nightly --wait RUNNING -- --mode unbounded
  yarngate jobs submit -f job.yaml --wait FINISHED --timeout 30m`,
		RunE: func(cmd *cobra.Command, args []string) error {
			var req api.JobRequest
			if spec.file != "" {
				if err := readSpec(spec.file, &req); err != nil {
					return err
				}
			}
			if err := spec.apply(cmd, &req.Name, &req.Queue, &req.FlinkVersion, &req.JobManager, &req.TaskManager,
				&req.FlinkConfig, &req.KeytabID, &req.ProxyUser, &req.ACL); err != nil {
				return err
			}
			fs := cmd.Flags()
			if fs.Changed("jar-id") {
				req.JarID, req.JarPath = jarID, ""
			}
			if fs.Changed("jar-path") {
				req.JarPath, req.JarID = jarPath, ""
			}
			if fs.Changed("class") {
				req.EntryClass = entryClass
			}
			if fs.Changed("parallelism") {
				req.Parallelism = &parallelism
			}
			if fs.Changed("session") {
				req.Target, req.SessionID = "session", session
			}
			if fs.Changed("savepoint") {
				req.Savepoint = &api.SavepointSpec{Path: savepoint, AllowNonRestoredState: allowNonRestored, ClaimMode: api.ClaimMode(claimMode)}
			}
			if fs.Changed("multiple-jobs") {
				req.MultipleJobs = multipleJobs
			}
			if cmd.ArgsLenAtDash() >= 0 || len(args) > 0 {
				if cmd.ArgsLenAtDash() > 0 {
					return usagef("unexpected arguments %q before --: program arguments follow --", args[:cmd.ArgsLenAtDash()])
				}
				req.Args = args
			}
			if req.Args == nil {
				req.Args = []string{}
			}
			var target api.JobState
			if wait.state != "" {
				var err error
				if target, err = jobWaitState(wait.state); err != nil {
					return err
				}
			}
			if jar != "" && (fs.Changed("jar-id") || fs.Changed("jar-path")) {
				return usagef("--jar, --jar-id and --jar-path exclude each other")
			}
			cl, err := c.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if jar != "" {
				j, created, err := uploadJar(cmd, cl, jar)
				if err != nil {
					return err
				}
				verb := "uploaded"
				if !created {
					verb = "already staged:"
				}
				fmt.Fprintf(c.stderr, "%s %s (jar %s)\n", verb, jar, j.ID)
				req.JarID, req.JarPath = j.ID, ""
			}
			if key == "" {
				key = newIdempotencyKey()
			}
			job, err := retry(ctx, c.stderr, func() (api.Job, error) { return cl.SubmitJob(ctx, req, key) })
			if err != nil {
				return err
			}
			if target == "" {
				return c.printJob(job)
			}
			fmt.Fprintf(c.stderr, "submitted %s (%s); waiting for %s\n", job.ID, job.State, target)
			return c.waitJob(ctx, cl, job, target, wait)
		},
	}
	spec.register(cmd)
	wait.register(cmd, []string{"SUBMITTED", "ACCEPTED", "STARTING", "RUNNING", "FINISHED"}, "job")
	fs := cmd.Flags()
	fs.StringVar(&jar, "jar", "", "a local jar file to upload and run")
	fs.StringVar(&jarID, "jar-id", "", "a staged jar's id (yarngate jars upload)")
	fs.StringVar(&jarPath, "jar-path", "", "an hdfs:// URI of a jar")
	fs.StringVar(&entryClass, "class", "", "main class (default: the jar's Main-Class)")
	fs.IntVarP(&parallelism, "parallelism", "p", 0, "default parallelism")
	fs.StringVar(&session, "session", "", "run in this session (target session) instead of a cluster of its own")
	fs.StringVar(&savepoint, "savepoint", "", "restore from this savepoint or retained checkpoint")
	fs.BoolVar(&allowNonRestored, "allow-non-restored-state", false, "with --savepoint: skip state that maps to no operator")
	fs.StringVar(&claimMode, "claim-mode", "", "with --savepoint: NO_CLAIM (default: Flink never deletes the snapshot), CLAIM (the job owns it) or LEGACY (Flink 1.x)")
	fs.BoolVar(&multipleJobs, "multiple-jobs", false, "let main() run several Flink jobs")
	fs.StringVar(&key, "idempotency-key", "", "Idempotency-Key (default: a new random one; the command retries with it)")
	fs.BoolVar(&killOnInt, "cancel-on-interrupt", false, "with --wait: cancel the job when the command is interrupted")
	cmd.MarkFlagFilename("jar", "jar")
	cmd.RegisterFlagCompletionFunc("jar-id", c.completeIDs(jarIDs))
	cmd.RegisterFlagCompletionFunc("session", c.completeIDs(sessionIDs))
	cmd.PreRunE = func(cmd *cobra.Command, _ []string) error {
		if killOnInt && wait.state == "" {
			return usagef("--cancel-on-interrupt needs --wait")
		}
		c.cancelOnInterrupt = killOnInt
		return nil
	}
	return cmd
}

// waitJob waits for job to reach target and prints it; the error carries the exit code of its state.
func (c *cli) waitJob(ctx context.Context, cl *client.Client, job api.Job, target api.JobState, wait waitFlags) error {
	wctx, cancel := wait.context(ctx)
	defer cancel()
	last, err := cl.WaitJob(wctx, job.ID, target)
	if last.ID == "" {
		last = job
	}
	if err != nil {
		switch {
		case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
			c.printJob(last)
			return codeError{exitTimeout, fmt.Errorf("job %s is %s after %v, not %s", last.ID, last.State, wait.timeout, target)}
		case errors.Is(err, context.Canceled) && c.cancelOnInterrupt:
			cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer ccancel()
			if j, cerr := cl.CancelJob(cctx, job.ID, false); cerr == nil {
				fmt.Fprintf(c.stderr, "yarngate: interrupted; canceling %s (%s)\n", j.ID, j.State)
			} else {
				fmt.Fprintf(c.stderr, "yarngate: interrupted; cancel %s: %v\n", job.ID, cerr)
			}
		}
		return err
	}
	if err := c.printJob(last); err != nil {
		return err
	}
	if code := jobExit(last.State, target); code != exitOK {
		msg := fmt.Errorf("job %s ended %s", last.ID, last.State)
		if f := deref(last.Flink.Failure); f != "" {
			msg = fmt.Errorf("%w: %s", msg, f)
		} else if last.YARN.Diagnostics != "" {
			msg = fmt.Errorf("%w: %s", msg, last.YARN.Diagnostics)
		}
		return codeError{code, msg}
	}
	return nil
}

// printJob prints one job.
func (c *cli) printJob(j api.Job) error {
	if c.json() {
		return c.printJSON(j)
	}
	flinkState := deref(j.Flink.State)
	upgrade := ""
	if u := j.Upgrade; u != nil {
		upgrade = strings.Join(strings.Fields(fmt.Sprintf("%s %s %s", u.ID, u.Mode, u.Step)), " ")
		if u.Failure != nil {
			upgrade += ": " + *u.Failure
		}
	}
	return c.fields([][2]string{
		{"id", j.ID}, {"name", j.Name}, {"state", string(j.State)}, {"target", j.Target}, {"owner", j.Owner},
		{"yarn", strings.Trim(j.YARN.State+" "+j.YARN.FinalStatus, " ")}, {"queue", j.YARN.Queue},
		{"flink", strings.Trim(flinkState+" "+j.Flink.Version, " ")}, {"flinkJobId", j.Flink.JobID},
		{"failure", deref(j.Flink.Failure)}, {"diagnostics", j.YARN.Diagnostics}, {"upgrade", upgrade},
		{"yarnUi", j.Links.YARN}, {"flinkUi", deref(j.Links.FlinkUI)},
		{"created", j.CreatedAt.Format(time.RFC3339)}, {"updated", j.UpdatedAt.Format(time.RFC3339)},
	})
}

func (c *cli) jobsGet() *cobra.Command {
	var wait waitFlags
	cmd := &cobra.Command{
		Use:               "get ID",
		Short:             "Show a job; with --wait, once it reached a state",
		Args:              exactArgs(1),
		ValidArgsFunction: c.completeIDs(jobIDs),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.client()
			if err != nil {
				return err
			}
			if wait.state == "" {
				j, err := cl.GetJob(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				return c.printJob(j)
			}
			target, err := jobWaitState(wait.state)
			if err != nil {
				return err
			}
			return c.waitJob(cmd.Context(), cl, api.Job{ID: args[0]}, target, wait)
		},
	}
	wait.register(cmd, []string{"SUBMITTED", "ACCEPTED", "STARTING", "RUNNING", "FINISHED"}, "job")
	return cmd
}

func (c *cli) jobsList() *cobra.Command {
	var state string
	var pageSize int
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List your jobs (and those shared with you), newest first",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if state != "" {
				st, ok := api.ParseJobState(state)
				if !ok {
					return usagef("--state %q: not a job state", state)
				}
				state = string(st)
			}
			cl, err := c.client()
			if err != nil {
				return err
			}
			jobs, err := cl.ListJobs(cmd.Context(), client.ListOptions{State: state, PageSize: pageSize})
			if err != nil {
				return err
			}
			if c.json() {
				return c.printJSON(api.JobList{Jobs: jobs})
			}
			rows := [][]string{{"ID", "NAME", "STATE", "FLINK", "OWNER", "CREATED"}}
			for _, j := range jobs {
				rows = append(rows, []string{j.ID, j.Name, string(j.State), j.Flink.Version, j.Owner, ago(j.CreatedAt)})
			}
			return c.table(rows)
		},
	}
	var states []string
	for _, s := range api.JobStates() {
		states = append(states, string(s))
	}
	cmd.Flags().StringVar(&state, "state", "", "only jobs in this state")
	cmd.Flags().IntVar(&pageSize, "page-size", 0, "jobs asked per page (the list follows every page)")
	cmd.RegisterFlagCompletionFunc("state", cobra.FixedCompletions(states, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func (c *cli) jobsCancel() *cobra.Command {
	var kill bool
	var wait bool
	cmd := &cobra.Command{
		Use:               "cancel ID",
		Short:             "Cancel a job through Flink (--kill: kill its YARN application)",
		Args:              exactArgs(1),
		ValidArgsFunction: c.completeIDs(jobIDs),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.client()
			if err != nil {
				return err
			}
			j, err := cl.CancelJob(cmd.Context(), args[0], kill)
			if err != nil {
				return err
			}
			if wait && !j.Terminal {
				if j, err = cl.WaitJob(cmd.Context(), j.ID, api.StateFinished); err != nil {
					return err
				}
			}
			return c.printJob(j)
		},
	}
	cmd.Flags().BoolVar(&kill, "kill", false, "kill the YARN application instead of canceling through Flink")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until the job has ended")
	return cmd
}

// jobIDs lists the caller's jobs, for completion.
func jobIDs(cl *client.Client, cmd *cobra.Command) ([]cobra.Completion, error) {
	jobs, err := cl.ListJobs(cmd.Context(), client.ListOptions{})
	var ids []cobra.Completion
	for _, j := range jobs {
		ids = append(ids, cobra.CompletionWithDesc(j.ID, j.Name+" "+string(j.State)))
	}
	return ids, err
}

// parseOffset parses a byte count such as 65536, 64k or 1m.
func parseOffset(s string) (int64, error) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(strings.ToLower(s), "k"):
		mult, s = 1<<10, s[:len(s)-1]
	case strings.HasSuffix(strings.ToLower(s), "m"):
		mult, s = 1<<20, s[:len(s)-1]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, usagef("%q: want a byte count such as 65536, 64k or 1m", s)
	}
	return n * mult, nil
}
