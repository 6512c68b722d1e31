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
)

// jobsUpgrade is `yarngate jobs upgrade`: POST /v1/jobs/{id}/upgrade, and with --wait the upgrade's end.
func (c *cli) jobsUpgrade() *cobra.Command {
	var (
		upgradeID, mode, jar, jarID, jarPath, entryClass, flinkVersion string
		parallelism                                                    int
		conf                                                           []string
		allowNonRestored, wait                                         bool
		healthTimeout, timeout                                         time.Duration
	)
	cmd := &cobra.Command{
		Use:   "upgrade ID [flags] [-- ARGS...]",
		Short: "Move a running job to a new spec (jar, arguments, parallelism, configuration, Flink version), keeping its state",
		Long: `Upgrade a running job: the gateway stops it (with a savepoint in mode savepoint, the default; canceled keeping its
latest checkpoint in mode last-state; canceled in mode stateless), launches the new spec restoring that state, and
rolls back to the previous spec from the same state when the new one does not run and complete a checkpoint in time.
Flags that are not given keep the job's current spec; the program arguments are what follows -- (they replace the
current ones); -D pairs replace the job's Flink configuration as a whole. With --wait the command follows the upgrade
and exits 0 when it SUCCEEDED, 3 when it ROLLED_BACK or FAILED, 7 when --timeout passed.`,
		Example: `  yarngate jobs upgrade application_1700000000000_0042 --jar target/job-2.jar --wait
  yarngate jobs upgrade application_1700000000000_0042 -p 4 --mode last-state --wait -- --window 5m`,
		Args: func(cmd *cobra.Command, args []string) error {
			if n := cmd.ArgsLenAtDash(); n == 0 || n < 0 && len(args) != 1 || n > 1 {
				return usagef("jobs upgrade takes one job id, then the program arguments after --")
			}
			return nil
		},
		ValidArgsFunction: c.completeIDs(jobIDs),
		RunE: func(cmd *cobra.Command, args []string) error {
			fs := cmd.Flags()
			req := api.UpgradeRequest{UpgradeID: upgradeID, Mode: api.UpgradeMode(mode), JarID: jarID, JarPath: jarPath,
				FlinkVersion: flinkVersion, AllowNonRestoredState: allowNonRestored, HealthTimeoutSeconds: int(healthTimeout.Seconds())}
			if req.UpgradeID == "" {
				b := make([]byte, 12)
				rand.Read(b)
				req.UpgradeID = "cli-" + hex.EncodeToString(b) // the command's own retries refer to one upgrade
			}
			if jar != "" && (jarID != "" || jarPath != "") {
				return usagef("--jar, --jar-id and --jar-path exclude each other")
			}
			if fs.Changed("class") {
				req.EntryClass = &entryClass
			}
			if fs.Changed("parallelism") {
				req.Parallelism = &parallelism
			}
			if len(conf) > 0 {
				cfg, err := flinkConfig(nil, conf)
				if err != nil {
					return err
				}
				req.FlinkConfig = cfg
			}
			if cmd.ArgsLenAtDash() == 1 {
				req.Args = args[1:]
			}
			cl, err := c.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if jar != "" {
				j, _, err := uploadJar(cmd, cl, jar)
				if err != nil {
					return err
				}
				fmt.Fprintf(c.stderr, "jar %s is %s\n", jar, j.ID)
				req.JarID = j.ID
			}
			job, err := retry(ctx, c.stderr, func() (api.Job, error) { return cl.UpgradeJob(ctx, args[0], req) })
			if err != nil {
				return err
			}
			if wait {
				fmt.Fprintf(c.stderr, "upgrade %s of %s started; waiting for its end\n", req.UpgradeID, job.ID)
				wctx, cancel := context.WithCancel(ctx)
				if timeout > 0 {
					wctx, cancel = context.WithTimeout(ctx, timeout)
				}
				defer cancel()
				done, err := cl.WaitUpgrade(wctx, job.ID, req.UpgradeID)
				if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
					_ = c.printJob(job)
					return codeError{exitTimeout, fmt.Errorf("upgrade %s of job %s has not ended after %v", req.UpgradeID, job.ID, timeout)}
				}
				if err != nil {
					return err
				}
				job = done
			}
			if err := c.printJob(job); err != nil {
				return err
			}
			return upgradeOutcome(job, req.UpgradeID)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&upgradeID, "upgrade-id", "", "your id of this upgrade: the same id again answers the upgrade it started (default: a random one)")
	fs.StringVar(&mode, "mode", "", "savepoint (default), last-state or stateless")
	fs.StringVar(&jar, "jar", "", "a local jar file to upload and run instead")
	fs.StringVar(&jarID, "jar-id", "", "a staged jar's id to run instead")
	fs.StringVar(&jarPath, "jar-path", "", "an hdfs:// URI of a jar to run instead")
	fs.StringVar(&entryClass, "class", "", "main class")
	fs.StringVar(&flinkVersion, "flink-version", "", "Flink version to move to, such as 2")
	fs.IntVarP(&parallelism, "parallelism", "p", 0, "default parallelism")
	fs.StringArrayVarP(&conf, "conf", "D", nil, "Flink configuration key=value (repeatable; replaces the job's configuration)")
	fs.BoolVar(&allowNonRestored, "allow-non-restored-state", false, "let the new spec drop state that maps to none of its operators")
	fs.DurationVar(&healthTimeout, "health-timeout", 0, "how long the new spec may take to run and complete a checkpoint before it is rolled back (default: the gateway's)")
	fs.BoolVar(&wait, "wait", false, "wait until the upgrade ended; exit 3 if it rolled back or failed")
	fs.DurationVar(&timeout, "timeout", 0, "give up waiting after this long (exit 7); 0: no limit")
	cmd.RegisterFlagCompletionFunc("mode", cobra.FixedCompletions([]string{string(api.UpgradeSavepoint), string(api.UpgradeLastState), string(api.UpgradeStateless)}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// upgradeOutcome is the exit status of an upgrade that ended: nil when it SUCCEEDED or has not ended (not
// waited for), exit 3 when it rolled back or failed.
func upgradeOutcome(j api.Job, upgradeID string) error {
	u := j.Upgrade
	if u == nil || u.ID != upgradeID || !u.Final() || u.Step == "SUCCEEDED" {
		return nil
	}
	return codeError{exitFailed, fmt.Errorf("upgrade %s of job %s %s: %s", upgradeID, j.ID, u.Step, deref(u.Failure))}
}
