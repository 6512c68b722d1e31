package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/client"
)

// defaultLogTail is how much of the end of a log `jobs logs` prints without --all or --tail.
const defaultLogTail = 64 << 10

// defaultLogFile is the file `jobs logs` prints without --file.
const defaultLogFile = "jobmanager.log"

func (c *cli) jobsLogs() *cobra.Command {
	var (
		container, file, tail string
		follow, all, list     bool
	)
	cmd := &cobra.Command{
		Use:   "logs ID",
		Short: "Print a job's log: the JobManager's jobmanager.log (its last 64 KiB) unless told otherwise",
		Long: `Print a log file of one of a job's containers. Without flags: the JobManager container's jobmanager.log,
its last 64 KiB (--tail to change it, --all for the whole file). --list lists the containers and their files;
--container and --file pick another. -f follows the file until the container ends (or Ctrl-C).`,
		Example: `  yarngate jobs logs application_1767225600000_0042 -f
  yarngate jobs logs application_1767225600000_0042 --list
  yarngate jobs logs application_1767225600000_0042 --container container_1767225600000_0042_01_000002 --file taskmanager.log --all`,
		Args:              exactArgs(1),
		ValidArgsFunction: c.completeIDs(jobIDs),
		RunE: func(cmd *cobra.Command, args []string) error {
			offset := int64(-defaultLogTail)
			if cmd.Flags().Changed("tail") {
				if all {
					return usagef("--tail and --all exclude each other")
				}
				n, err := parseOffset(tail)
				if err != nil {
					return err
				}
				offset = -n
			}
			if all {
				offset = 0
			}
			cl, err := c.client()
			if err != nil {
				return err
			}
			ctx, id := cmd.Context(), args[0]
			if list || container == "" {
				logs, err := cl.JobLogs(ctx, id)
				if err != nil {
					return err
				}
				if list {
					return c.printLogList(logs)
				}
				if container, err = pickJobManager(logs); err != nil {
					return fmt.Errorf("job %s: %w", id, err)
				}
			}
			body, err := cl.ReadJobLog(ctx, id, container, file, client.LogRange{Offset: offset, Follow: follow})
			if err != nil {
				return err
			}
			defer body.Close()
			_, err = io.Copy(c.stdout, body)
			if follow && ctx.Err() != nil {
				return nil // Ctrl-C ends a follow
			}
			if err != nil {
				return fmt.Errorf("read %s of %s: %w", file, container, err)
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&container, "container", "", "the container (default: the JobManager's; --list lists them)")
	fs.StringVar(&file, "file", defaultLogFile, "the log file, such as jobmanager.out or taskmanager.log")
	fs.BoolVarP(&follow, "follow", "f", false, "keep printing what is appended until the container ends")
	fs.BoolVar(&all, "all", false, "the whole file, not its end")
	fs.StringVar(&tail, "tail", "64k", "print the last this many bytes (65536, 64k, 1m)")
	fs.BoolVar(&list, "list", false, "list the containers and their log files")
	return cmd
}

// pickJobManager returns the JobManager container to read: the running one, else the last listed (the
// latest attempt).
func pickJobManager(logs api.LogList) (string, error) {
	var last string
	for _, ct := range logs.Containers {
		if ct.Role != "jobmanager" {
			continue
		}
		if ct.State == "RUNNING" {
			return ct.ContainerID, nil
		}
		last = ct.ContainerID
	}
	if last == "" {
		return "", errors.New("no JobManager container yet (the job has not started one; --list shows the containers)")
	}
	return last, nil
}

// printLogList prints a job's containers and their files.
func (c *cli) printLogList(logs api.LogList) error {
	if c.json() {
		if logs.Containers == nil {
			logs.Containers = []api.LogContainer{}
		}
		return c.printJSON(logs)
	}
	rows := [][]string{{"CONTAINER", "ROLE", "NODE", "STATE", "SOURCE", "FILE", "SIZE"}}
	for _, ct := range logs.Containers {
		if len(ct.Files) == 0 {
			rows = append(rows, []string{ct.ContainerID, ct.Role, ct.NodeID, ct.State, ct.Source, "", ""})
		}
		for _, f := range ct.Files {
			rows = append(rows, []string{ct.ContainerID, ct.Role, ct.NodeID, ct.State, ct.Source, f.Name, fmt.Sprint(f.Size)})
		}
	}
	return c.table(rows)
}
