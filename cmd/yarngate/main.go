// Command yarngate is the YARN-native submission gateway for Apache Flink, and its command-line client.
//
//	yarngate serve [--config FILE] [--listen ADDR] [flags]   run the gateway until SIGINT or SIGTERM
//	yarngate config [--config FILE] [flags]                  print the effective configuration (secrets redacted)
//	yarngate version                                          print the version
//	yarngate jars upload|list|rm                              stage, list and remove jars
//	yarngate jobs submit|get|list|cancel|logs                 launch jobs, follow them, read their logs
//	yarngate sessions create|list|stop                        session clusters
//	yarngate completion bash|zsh|fish|powershell              shell completion
//
// Configuration of serve: defaults < YAML file < YARNGATE_* environment < flags; `yarngate serve -h` lists
// the flags. Everything else of the server lives in package app. The client commands talk to a gateway at
// $YARNGATE_ADDR (--addr) through package client; docs/CLI.md describes them, their environment and their
// exit codes.
//
// Unless GOGC is set, serve runs the garbage collector at GOGC=200 instead of 100: the HDFS client
// allocates two 64 KiB buffers per packet it sends, and with the gateway's small live heap the default
// collects hundreds of times per large upload. On the 2-core benchmark machine this moves upload
// throughput from about 0.85 to parity with Hadoop's own client, for a peak RSS of about 40 MiB during a
// 1 GiB upload (64 MiB budget).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/gin-gonic/gin"
	"github.com/spf13/cobra"
	"github.com/yarngate/yarngate/app"
	"github.com/yarngate/yarngate/config"
)

// defaultGCPercent is the GOGC serve uses unless the environment sets one (see the command doc).
const defaultGCPercent = 200

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage: yarngate <command> [flags]

server commands:
  serve       run the gateway until SIGINT or SIGTERM
  config      print the effective configuration (secrets redacted)
  version     print the version

client commands (gateway at $YARNGATE_ADDR or --addr):
  jars        upload, list and remove jars
  jobs        submit, get, list, cancel jobs and read their logs
  sessions    create, list and stop session clusters
  completion  shell completion scripts (bash, zsh, fish, powershell)

Run 'yarngate <command> --help' for a command's flags; docs/CLI.md has the whole story.
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "yarngate", buildVersion())
		return 0
	case "help", "-h", "--help", "-help":
		if len(args) == 1 {
			fmt.Fprint(stdout, usage)
			return 0
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCommand(stdout, stderr)
	root.SetArgs(args)
	return exitCode(root.ExecuteContext(ctx), stderr)
}

// newRootCommand builds the command tree.
func newRootCommand(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "yarngate",
		Short:         "YARN-native submission gateway for Apache Flink, and its client",
		SilenceErrors: true,
		SilenceUsage:  true,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError{fmt.Errorf("unknown command %q", args[0])}
			}
			return nil
		},
		RunE: func(*cobra.Command, []string) error {
			fmt.Fprint(stderr, usage)
			return codeOnly(exitUsage)
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		&cobra.Command{
			Use:                "serve [flags]",
			Short:              "Run the gateway until SIGINT or SIGTERM",
			DisableFlagParsing: true, // the flag package of config parses them, as before
			RunE: func(_ *cobra.Command, args []string) error {
				return codeOnly(serve(args, stderr))
			},
		},
		&cobra.Command{
			Use:                "config [flags]",
			Short:              "Print the effective configuration (secrets redacted)",
			DisableFlagParsing: true,
			RunE: func(_ *cobra.Command, args []string) error {
				return codeOnly(printConfig(args, stdout, stderr))
			},
		},
		&cobra.Command{
			Use:   "version",
			Short: "Print the version",
			Args:  cobra.NoArgs,
			Run:   func(*cobra.Command, []string) { fmt.Fprintln(stdout, "yarngate", buildVersion()) },
		},
	)
	addClientCommands(root)
	return root
}

// loadConfig parses the flags of a subcommand and loads the layered configuration.
func loadConfig(name string, args []string, stderr io.Writer) (config.Config, error) {
	fs := flag.NewFlagSet("yarngate "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	config.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		return config.Config{}, err
	}
	if fs.NArg() > 0 {
		return config.Config{}, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	return config.Load(config.LoadOptions{Environ: os.Environ(), Flags: fs})
}

func serve(args []string, stderr io.Writer) int {
	cfg, err := loadConfig("serve", args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "yarngate:", err)
		return 2
	}
	logger, err := app.NewLogger(cfg.Log, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "yarngate:", err)
		return 2
	}
	gin.SetMode(gin.ReleaseMode) // process-wide: no debug route dump, no debug warnings
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger.Info("starting yarngate", "version", buildVersion(), "listen", cfg.Listen, "user", cfg.User)
	if err := app.Run(ctx, app.Options{Config: cfg, Logger: logger}); err != nil {
		logger.Error("yarngate failed", "error", err)
		return 1
	}
	return 0
}

func printConfig(args []string, stdout, stderr io.Writer) int {
	cfg, err := loadConfig("config", args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "yarngate:", err)
		return 2
	}
	out, err := cfg.YAML()
	if err != nil {
		fmt.Fprintln(stderr, "yarngate:", err)
		return 1
	}
	stdout.Write(out)
	return 0
}

// buildVersion returns the -ldflags version, else the module version or VCS revision, else "dev".
func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			return v
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return "dev-" + s.Value[:12]
			}
		}
	}
	return "dev"
}
