package cli

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

func newConfigCmd(g *globals, env Env) *cobra.Command {
	var asEnv bool
	var get string
	cmd := &cobra.Command{
		Use:   "config [--env | --get KEY]",
		Short: "check the configuration and print it, secrets redacted",
		Long: `Read the configuration as "farm start" would: the file (-c, default
conf/farm.cfg), then environment variables. Print the effective values as
JSON, secrets redacted, and the warnings on stderr. A broken file is an
error naming the file and the line, and exit status 2.

For scripts: --env prints KEY=VALUE lines, values as an environment
variable would give them (plain text: 44444, 127.0.0.1, True), one a
line, sorted, secrets redacted as above; --get KEY prints one key's value
alone, and fails (exit 2) for a key the configuration does not hold. For
farm's own keys --get prints the value itself, but for a password inside
a URL: WRITE_TOKEN_FILE's path, hidden in the listings, is for scripts
that create the file. Other keys naming a secret stay hidden.`,
		Example: `  farm config
  farm -c conf/farm_uwsgi.cfg config --get DATASTORE`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := g.load(env)
			if err != nil {
				return err
			}
			for _, w := range cfg.Warnings {
				fmt.Fprintln(env.Stderr, "warning:", w)
			}
			if get != "" {
				v, ok := cfg.ScriptValue(get)
				if !ok {
					return usageError{fmt.Errorf("%s: no key %s", configName(cfg), get)}
				}
				fmt.Fprintln(env.Stdout, plain(v))
				return nil
			}
			vals := cfg.Values()
			switch {
			case asEnv:
				keys := make([]string, 0, len(vals))
				for k := range vals {
					keys = append(keys, k)
				}
				slices.Sort(keys)
				for _, k := range keys {
					fmt.Fprintf(env.Stdout, "%s=%s\n", k, plain(vals[k]))
				}
			default:
				printValue(env.Stdout, vals)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asEnv, "env", false, "print KEY=VALUE lines")
	cmd.Flags().StringVar(&get, "get", "", "print the value of KEY alone")
	cmd.MarkFlagsMutuallyExclusive("env", "get")
	return cmd
}

// plain spells a value as an environment variable gives it; a line break
// in a string would end the line, so it is shown escaped.
func plain(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case bool:
		if t {
			return "True"
		}
		return "False"
	case int64:
		return strconv.FormatInt(t, 10)
	case string:
		if strings.ContainsAny(t, "\r\n") {
			return strconv.Quote(t)
		}
		return t
	}
	return fmt.Sprint(v)
}
