package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/farmhq/farm/config"
	"github.com/farmhq/farm/store/sqlite"
)

func newBackup(g *globals, env Env) *cobra.Command {
	return &cobra.Command{
		Use:   "backup FILE",
		Short: "copy the SQLite database, consistent, while farm serves",
		Long: `Copy the SQLite database the configuration names (-c) to FILE, a new
file, while farm's instances go on serving reads and writes: one
consistent snapshot (SQLite's VACUUM INTO), checked (PRAGMA
integrity_check) before it is renamed into place, so FILE is whole or
absent. It says how many records the copy holds. To restore, see
docs/operations.md ("Backups").`,
		Example: `  farm -c conf/farm_uwsgi.cfg backup /var/backups/farm-$(date +%F).db`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := g.load(env)
			if err != nil {
				return err
			}
			if cfg.Datastore != config.StoreSQLite {
				return usageError{fmt.Errorf("%s: DATASTORE is %s: backup copies SQLite databases (for any store, farm export writes every record)", configName(cfg), cfg.Datastore)}
			}
			start := time.Now()
			n, err := sqlite.Backup(cmd.Context(), cfg.SQLitePath, args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "backed up %s to %s: %d records, integrity ok, in %.1fs\n", cfg.SQLitePath, args[0], n, time.Since(start).Seconds())
			return nil
		},
	}
}
