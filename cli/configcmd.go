package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newConfigCmd(g *globals, env Env) *cobra.Command {
	return &cobra.Command{
		Use:   "config",
		Short: "check the configuration and print it, secrets redacted",
		Long: `Read the configuration as "farm start" would: the file (-c, default
conf/farm.cfg), then environment variables. Print the effective values as
JSON, secrets redacted, and the warnings on stderr. A broken file is an
error naming the file and the line, and exit status 2.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := g.load(env)
			if err != nil {
				return err
			}
			for _, w := range cfg.Warnings {
				fmt.Fprintln(env.Stderr, "warning:", w)
			}
			printValue(env.Stdout, cfg.Values())
			return nil
		},
	}
}
