package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/yarngate/yarngate/client"
)

// Authentication modes of the client commands (--auth, $YARNGATE_AUTH).
const (
	authAuto     = "auto"     // the token if one is given, else Kerberos when a ticket cache exists, else none
	authToken    = "token"    // a bearer token, required
	authKerberos = "kerberos" // SPNEGO from the ticket cache, negotiated with the first request
	authNone     = "none"     // no credentials
)

// clientFlags are the flags every client command takes; each defaults to its environment variable.
type clientFlags struct {
	addr      string
	token     string
	tokenFile string
	auth      string
	caFile    string
	output    string
}

// register adds the flags to fs's persistent flags.
func (f *clientFlags) register(cmd *cobra.Command) {
	fs := cmd.PersistentFlags()
	fs.StringVar(&f.addr, "addr", os.Getenv("YARNGATE_ADDR"), "gateway URL, such as https://gateway.example.com:8443 ($YARNGATE_ADDR; default "+client.DefaultAddr+")")
	fs.StringVar(&f.token, "token", os.Getenv("YARNGATE_TOKEN"), "bearer token ($YARNGATE_TOKEN; prefer it or --token-file to this flag, which other users can see in ps)")
	fs.StringVar(&f.tokenFile, "token-file", os.Getenv("YARNGATE_TOKEN_FILE"), "file holding the bearer token ($YARNGATE_TOKEN_FILE)")
	fs.StringVar(&f.auth, "auth", envOr("YARNGATE_AUTH", authAuto), "authentication: auto, token, kerberos (ticket cache of kinit, $KRB5CCNAME) or none ($YARNGATE_AUTH)")
	fs.StringVar(&f.caFile, "ca-file", os.Getenv("YARNGATE_CA_FILE"), "PEM file of CA certificates to trust for HTTPS ($YARNGATE_CA_FILE)")
	fs.StringVarP(&f.output, "output", "o", envOr("YARNGATE_OUTPUT", "table"), "output format: table or json ($YARNGATE_OUTPUT)")
	cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"table", "json"}, cobra.ShellCompDirectiveNoFileComp))
	cmd.RegisterFlagCompletionFunc("auth", cobra.FixedCompletions([]string{authAuto, authToken, authKerberos, authNone}, cobra.ShellCompDirectiveNoFileComp))
}

// envOr returns the environment variable name, or def when it is unset or empty.
func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// options turns the flags into client options.
func (f *clientFlags) options() (client.Options, error) {
	if f.output != "table" && f.output != "json" {
		return client.Options{}, usagef("--output %q: want table or json", f.output)
	}
	opts := client.Options{Addr: f.addr, CAFile: f.caFile, UserAgent: "yarngate-cli/" + buildVersion()}
	if _, err := client.ParseAddr(f.addr); err != nil {
		return opts, usageError{err}
	}
	token := strings.TrimSpace(f.token)
	if token == "" && f.tokenFile != "" {
		b, err := os.ReadFile(f.tokenFile)
		if err != nil {
			return opts, fmt.Errorf("read the token file: %w", err)
		}
		if token = strings.TrimSpace(string(b)); token == "" {
			return opts, fmt.Errorf("the token file %s is empty", f.tokenFile)
		}
	}
	switch f.auth {
	case authAuto:
		if token != "" {
			opts.Token = token
		} else if client.CCacheExists() {
			opts.Kerberos = &client.KerberosOptions{} // negotiated only when the gateway asks for it
		}
	case authToken:
		if token == "" {
			return opts, usagef("--auth token needs a token: --token, --token-file, $YARNGATE_TOKEN or $YARNGATE_TOKEN_FILE")
		}
		opts.Token = token
	case authKerberos:
		opts.Kerberos = &client.KerberosOptions{Eager: true}
	case authNone:
	default:
		return opts, usagef("--auth %q: want auto, token, kerberos or none", f.auth)
	}
	return opts, nil
}

// cli is what the client commands share: the flags and, once built, the client.
type cli struct {
	flags clientFlags
	// cancelOnInterrupt: a wait that SIGINT or SIGTERM ends cancels the job (jobs submit --cancel-on-interrupt).
	cancelOnInterrupt bool
	stdout            io.Writer
	stderr            io.Writer
}

// client builds the client of the flags.
func (c *cli) client() (*client.Client, error) {
	opts, err := c.flags.options()
	if err != nil {
		return nil, err
	}
	return client.New(opts)
}

// json reports whether the output is JSON.
func (c *cli) json() bool { return c.flags.output == "json" }

// printJSON writes v as indented JSON.
func (c *cli) printJSON(v any) error {
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table writes rows (the first is the header) aligned in columns.
func (c *cli) table(rows [][]string) error {
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// fields writes name: value lines, skipping empty values.
func (c *cli) fields(kv [][2]string) error {
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 1, ' ', 0)
	for _, f := range kv {
		if f[1] != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", f[0], f[1])
		}
	}
	return tw.Flush()
}

// addClientCommands adds jars, jobs and sessions to root.
func addClientCommands(root *cobra.Command) {
	c := &cli{stdout: root.OutOrStdout(), stderr: root.ErrOrStderr()}
	for _, group := range []*cobra.Command{c.jarsCommand(), c.jobsCommand(), c.sessionsCommand()} {
		c.flags.register(group)
		root.AddCommand(group)
	}
}

// groupCommand is a command that only holds subcommands: without one it prints its help and exits 2.
func groupCommand(use, short string, subs ...*cobra.Command) *cobra.Command {
	g := &cobra.Command{
		Use:   use,
		Short: short,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unknown command %q for %q", args[0], cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SetOut(cmd.ErrOrStderr())
			cmd.Help()
			return codeOnly(exitUsage)
		},
	}
	g.AddCommand(subs...)
	return g
}

// ago renders a time as an age, such as "3m ago".
func ago(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := time.Since(t).Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return t.Local().Format("2006-01-02 15:04")
}

// deref returns *p, or "" for nil.
func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// completeIDs completes positional ids with list (only the first argument).
func (c *cli) completeIDs(list func(*client.Client, *cobra.Command) ([]cobra.Completion, error)) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		cl, err := c.client()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ids, err := list(cl, cmd)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return ids, cobra.ShellCompDirectiveNoFileComp
	}
}
