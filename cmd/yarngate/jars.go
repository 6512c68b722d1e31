package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/client"
)

// jarsCommand is `yarngate jars`.
func (c *cli) jarsCommand() *cobra.Command {
	return groupCommand("jars", "Upload, list and remove staged jars",
		&cobra.Command{
			Use:   "upload FILE.jar",
			Short: "Stage a jar in HDFS and print it (the same content again answers with the same id)",
			Args:  exactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				cl, err := c.client()
				if err != nil {
					return err
				}
				jar, _, err := uploadJar(cmd, cl, args[0])
				if err != nil {
					return err
				}
				if c.json() {
					return c.printJSON(jar)
				}
				return c.jarFields(jar)
			},
		},
		&cobra.Command{
			Use:   "list",
			Short: "List your staged jars, newest first",
			Args:  noArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				cl, err := c.client()
				if err != nil {
					return err
				}
				jars, err := cl.ListJars(cmd.Context())
				if err != nil {
					return err
				}
				if c.json() {
					return c.printJSON(api.JarList{Jars: jars})
				}
				rows := [][]string{{"ID", "NAME", "SIZE", "MAIN CLASS", "CREATED"}}
				for _, j := range jars {
					rows = append(rows, []string{j.ID, j.Name, fmt.Sprint(j.Size), deref(j.MainClass), ago(j.CreatedAt)})
				}
				return c.table(rows)
			},
		},
		&cobra.Command{
			Use:               "rm ID",
			Aliases:           []string{"delete"},
			Short:             "Remove a jar (your ownership of it; the jar goes with its last owner)",
			Args:              exactArgs(1),
			ValidArgsFunction: c.completeIDs(jarIDs),
			RunE: func(cmd *cobra.Command, args []string) error {
				cl, err := c.client()
				if err != nil {
					return err
				}
				if err := cl.DeleteJar(cmd.Context(), args[0]); err != nil {
					return err
				}
				if !c.json() {
					fmt.Fprintln(c.stderr, "removed jar", args[0])
				}
				return nil
			},
		},
	)
}

// uploadJar uploads a local jar file.
func uploadJar(cmd *cobra.Command, cl *client.Client, path string) (api.Jar, bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return api.Jar{}, false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return api.Jar{}, false, err
	}
	if !fi.Mode().IsRegular() {
		return api.Jar{}, false, fmt.Errorf("%s is not a file", path)
	}
	jar, created, err := cl.UploadJar(cmd.Context(), filepath.Base(path), f, fi.Size())
	if err != nil {
		return jar, created, fmt.Errorf("upload %s: %w", path, err)
	}
	return jar, created, nil
}

// jarFields prints one jar.
func (c *cli) jarFields(j api.Jar) error {
	return c.fields([][2]string{{"id", j.ID}, {"name", j.Name}, {"size", fmt.Sprint(j.Size)}, {"path", j.Path},
		{"mainClass", deref(j.MainClass)}, {"createdAt", j.CreatedAt.Format("2006-01-02T15:04:05Z07:00")}})
}

// jarIDs lists the caller's jar ids, for completion.
func jarIDs(cl *client.Client, cmd *cobra.Command) ([]cobra.Completion, error) {
	jars, err := cl.ListJars(cmd.Context())
	var ids []cobra.Completion
	for _, j := range jars {
		ids = append(ids, cobra.CompletionWithDesc(j.ID, j.Name))
	}
	return ids, err
}
