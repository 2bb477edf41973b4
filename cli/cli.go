// Package cli is farm's command line: the server (farm start) and the
// client commands, as the original farm's CLI had them and then some. It
// wires the other packages together; cmd/farm only calls Run.
package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strings"

	"github.com/spf13/cobra"

	"github.com/farmhq/farm"
	"github.com/farmhq/farm/client"
	"github.com/farmhq/farm/config"
	"github.com/farmhq/farm/redact"
	"github.com/farmhq/farm/token"
)

// Exit statuses, documented in the README.
const (
	ExitError       = 1 // anything else
	ExitUsage       = 2 // bad command line or configuration
	ExitUnreachable = 3 // the server could not be reached
	ExitHTTP        = 4 // the server answered with an HTTP error status
)

// usageError marks errors of the command line itself.
type usageError struct{ error }

// ExitCode maps an error from Run to the process's exit status.
func ExitCode(err error) int {
	var ce *client.ConnError
	var se *client.StatusError
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ce):
		return ExitUnreachable
	case errors.As(err, &se):
		return ExitHTTP
	case errors.As(err, &ue):
		return ExitUsage
	}
	return ExitError
}

// Env is what a command sees of its process: Mat Ryer's run(ctx, args,
// getenv, stdin, stdout, stderr), gathered so tests can run commands in
// process.
type Env struct {
	Getenv func(string) (string, bool)
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// globals are the flags every command shares.
type globals struct {
	config     string
	verbose    bool
	include    bool
	cpuProfile string

	stopProfile func()
}

// Run runs the farm command line with args (without the program name).
func Run(ctx context.Context, args []string, env Env) error {
	if env.Getenv == nil {
		env.Getenv = os.LookupEnv
	}
	if env.Stdin == nil {
		env.Stdin = strings.NewReader("")
	}
	g := &globals{}
	root := newRoot(ctx, g, env)
	root.SetArgs(args)
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	err := root.ExecuteContext(ctx)
	if err != nil && !isReported(err) && isCobraUsage(err) {
		return usageError{err}
	}
	return err
}

// isCobraUsage tells cobra's own argument errors from the commands' errors.
func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "accepts ", "requires at least", "invalid argument", "flag needs an argument", "required flag"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

func isReported(err error) bool {
	var ce *client.ConnError
	var se *client.StatusError
	var ue usageError
	return errors.As(err, &ce) || errors.As(err, &se) || errors.As(err, &ue)
}

func newRoot(ctx context.Context, g *globals, env Env) *cobra.Command {
	root := &cobra.Command{
		Use:   "farm [-c CONFIG] [-v] [-i] [-V] COMMAND",
		Short: "farm keeps a farm's animal records behind a REST API",
		Long: `farm keeps a farm's animal records behind a REST API.

"farm start" runs the server; the other commands are its clients, and find
it through the same configuration file (-c, default conf/farm.cfg).`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return usageError{fmt.Errorf("no command given; see farm --help")}
		},
	}
	root.CompletionOptions.DisableDefaultCmd = true
	pf := root.PersistentFlags()
	pf.StringVarP(&g.config, "config", "c", "", "configuration file (default "+config.DefaultPath+" when it exists)")
	pf.BoolVarP(&g.verbose, "verbose", "v", false, "tell more: request and response lines on stderr")
	pf.BoolVarP(&g.include, "include", "i", false, "print response headers, like curl -i")
	pf.StringVar(&g.cpuProfile, "cpuprofile", "", "write a CPU profile of the command to FILE (go tool pprof FILE)")
	// -V is a global option, as the synopsis has it: before or after the
	// other global options, before a command or after it, it prints the
	// version alone and runs nothing, the command's argument checks
	// included (versionFirst). Not cobra's own version flag: printing the
	// version alone takes a template of its, which links text/template
	// (4 MB more binary).
	var showVersion bool
	pf.BoolVarP(&showVersion, "version", "V", false, "print the version alone and exit, running no command")
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		if showVersion || g.cpuProfile == "" {
			return nil
		}
		f, err := os.Create(g.cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return err
		}
		g.stopProfile = func() { pprof.StopCPUProfile(); f.Close() }
		return nil
	}
	root.PersistentPostRun = func(cmd *cobra.Command, args []string) {
		if g.stopProfile != nil {
			g.stopProfile()
		}
	}
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error { return usageError{err} })

	root.AddCommand(
		newStart(g, env),
		newConfigCmd(g, env),
		newRequest(g, env, "get", "GET", "get URI...", "HTTP GET of each URI from the server"),
		newRequest(g, env, "post", "POST", "post URI DATA", "HTTP POST of JSON DATA (an id is added when missing)"),
		newRequest(g, env, "put", "PUT", "put URI DATA", "HTTP PUT of JSON DATA"),
		newRequest(g, env, "patch", "PATCH", "patch URI DATA", "HTTP PATCH of JSON DATA (a JSON Merge Patch)"),
		newRequest(g, env, "delete", "DELETE", "delete URI...", "HTTP DELETE of each URI"),
		newAnimal(g, env),
		newStress(g, env),
		newExport(g, env),
		newImport(g, env),
		newBackup(g, env),
		newWatch(g, env),
	)
	versionFirst(root, &showVersion, func() error {
		_, err := fmt.Fprintln(env.Stdout, farm.ReadBuild().Version)
		return err
	})
	return root
}

// versionFirst makes cmd and every command under it that runs print the
// version instead, when -V is given, without checking their arguments.
func versionFirst(cmd *cobra.Command, show *bool, print func() error) {
	for _, c := range cmd.Commands() {
		versionFirst(c, show, print)
	}
	run, runE := cmd.Run, cmd.RunE
	if run == nil && runE == nil {
		// A command of commands (farm animal): the version, or its help
		// (its arguments are left to cobra: an unknown command is one).
		cmd.RunE = func(c *cobra.Command, a []string) error {
			if *show {
				return print()
			}
			return c.Help()
		}
		return
	}
	args := cmd.Args
	cmd.Args = func(c *cobra.Command, a []string) error {
		if *show || args == nil {
			return nil
		}
		return args(c, a)
	}
	cmd.Run = nil
	cmd.RunE = func(c *cobra.Command, a []string) error {
		switch {
		case *show:
			return print()
		case runE != nil:
			return runE(c, a)
		}
		run(c, a)
		return nil
	}
}

// load reads the configuration named by -c.
func (g *globals) load(env Env) (*config.Config, error) {
	cfg, err := config.Load(g.config, env.Getenv)
	if err != nil {
		return nil, usageError{err}
	}
	if g.verbose {
		src := cfg.File
		if src == "" {
			src = "built-in defaults (no " + config.DefaultPath + ")"
		}
		fmt.Fprintf(env.Stderr, "* config from %s\n", src)
	}
	return cfg, nil
}

// client returns an API client for the server the configuration names.
func (g *globals) client(env Env) (*client.Client, error) {
	cfg, err := g.load(env)
	if err != nil {
		return nil, err
	}
	var c *client.Client
	_, hasHTTP := cfg.HTTPAddr()
	switch {
	case cfg.URL != "" || hasHTTP:
		c = client.New(cfg.ClientURL())
	case cfg.HTTPSocket != "":
		// The server listens only on sockets: talk HTTP on its socket.
		c = client.NewUnix(cfg.HTTPSocket)
	default:
		return nil, usageError{fmt.Errorf("%s: the server there speaks only uwsgi (UWSGI_SOCKET, UWSGI_ADDR); set FARM_URL to NGINX's address for the CLI", configName(cfg))}
	}
	if g.verbose {
		c.Trace = env.Stderr
		fmt.Fprintf(env.Stderr, "* farm at %s %s\n", redact.URLs(c.Base), c.Via)
	}
	c.Token = g.token(env, cfg)
	return c, nil
}

// token is the write token the CLI sends: FARM_TOKEN, else the first of
// the configuration's WRITE_TOKEN_FILE, else none. A token file this user
// cannot read leaves reads working; -v says why writes would get 401.
func (g *globals) token(env Env, cfg *config.Config) string {
	if t, ok := env.Getenv("FARM_TOKEN"); ok && strings.TrimSpace(t) != "" {
		if g.verbose {
			fmt.Fprintln(env.Stderr, "* write token from FARM_TOKEN")
		}
		return strings.TrimSpace(t)
	}
	if cfg == nil || cfg.WriteTokenFile == "" {
		return ""
	}
	t, err := token.First(cfg.WriteTokenFile)
	if g.verbose {
		if err != nil {
			fmt.Fprintf(env.Stderr, "* no write token: %v\n", err)
		} else {
			fmt.Fprintf(env.Stderr, "* write token from %s\n", cfg.WriteTokenFile)
		}
	}
	return t
}

func configName(cfg *config.Config) string {
	if cfg.File == "" {
		return "the built-in configuration"
	}
	return cfg.File
}

// printJSON pretty-prints a JSON body on w, keeping its member order; a
// body that is not JSON is written as it is.
func printJSON(w io.Writer, body []byte) {
	if len(body) == 0 {
		return
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, bytes.TrimSpace(body), "", "    "); err != nil {
		buf.Reset()
		buf.Write(body)
	}
	if b := buf.Bytes(); b[len(b)-1] != '\n' {
		buf.WriteByte('\n')
	}
	w.Write(buf.Bytes())
}

// printValue prints a value of the CLI's own as indented JSON.
func printValue(w io.Writer, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		fmt.Fprintln(w, v)
		return
	}
	printJSON(w, b)
}
