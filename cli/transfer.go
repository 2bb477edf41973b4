package cli

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/farmhq/farm"
	"github.com/farmhq/farm/client"
	"github.com/farmhq/farm/config"
	"github.com/farmhq/farm/transfer"
)

// endpoint is where export reads and import writes: the store that the
// configuration names, opened here, or a running server's API (--url).
func (g *globals) endpoint(env Env, url string) (farm.AnimalStore, *client.Client, func(), error) {
	if url != "" {
		c := client.New(url)
		if g.verbose {
			c.Trace = env.Stderr
		}
		cfg, _ := g.load(env) // for its WRITE_TOKEN_FILE, when there is one
		c.Token = g.token(env, cfg)
		return nil, c, func() {}, nil
	}
	cfg, err := g.load(env)
	if err != nil {
		return nil, nil, nil, err
	}
	if cfg.Datastore == config.StoreRAM {
		return nil, nil, nil, usageError{fmt.Errorf("%s: DATASTORE is RAM, which lives in the server's memory: give --url to reach the server", configName(cfg))}
	}
	st, err := openStore(cfg, nil, true)
	if err != nil {
		return nil, nil, nil, err
	}
	return st, nil, func() { st.Close() }, nil
}

func newExport(g *globals, env Env) *cobra.Command {
	var out, url string
	cmd := &cobra.Command{
		Use:   "export [-o FILE] [--url URL]",
		Short: "write every record as NDJSON (one JSON object a line, by id)",
		Long: `Write every animal record as NDJSON: one JSON object a line, ordered by
id, to FILE or stdout. The records come from the store the configuration
names (-c), read directly (SQLite: from one consistent snapshot, while
servers go on writing), or from a running server through its API (--url).
"farm import" reads what this writes, into any store.`,
		Example: `  farm export -o animals.ndjson
  farm export --url http://127.0.0.1:44444 > animals.ndjson`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, c, done, err := g.endpoint(env, url)
			if err != nil {
				return err
			}
			defer done()
			var src farm.AnimalExporter = c
			total := int64(-1)
			if st != nil {
				src = transfer.Source(st)
				if _, n, err := st.ListAnimals(cmd.Context(), farm.AnimalFilter{}, farm.Page{}); err == nil {
					total = int64(n)
				}
			}
			w := env.Stdout
			var f *os.File
			if out != "" && out != "-" {
				// A new file beside the target, renamed into place once
				// whole: an interrupted export leaves no half file.
				f, err = os.CreateTemp(dirOf(out), ".export-*")
				if err != nil {
					return err
				}
				defer os.Remove(f.Name())
				w = f
			}
			p := newProgress(env.Stderr, "records", total)
			n, err := transfer.Export(cmd.Context(), src, w, p.set)
			p.finish()
			if err != nil {
				if f != nil {
					f.Close()
				}
				return fmt.Errorf("export: %w (after %d records)", err, n)
			}
			if f != nil {
				if err := f.Sync(); err != nil {
					return err
				}
				if err := f.Close(); err != nil {
					return err
				}
				if err := os.Rename(f.Name(), out); err != nil {
					return err
				}
			}
			fmt.Fprintf(env.Stderr, "exported %d records\n", n)
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "write to FILE instead of stdout")
	cmd.Flags().StringVar(&url, "url", "", "read through a running server's API at URL instead of the configured store")
	return cmd
}

func dirOf(path string) string {
	for i := len(path) - 1; i >= 0; i-- {
		if path[i] == '/' {
			return path[:i+1]
		}
	}
	return "."
}

func newImport(g *globals, env Env) *cobra.Command {
	var url, onConflict string
	var batch int
	cmd := &cobra.Command{
		Use:   "import [FILE|-] [--on-conflict skip|replace|fail] [--url URL]",
		Short: "read NDJSON (or a JSON array) of records into the store",
		Long: `Read animal records, NDJSON (one JSON object a line) or one JSON array,
from FILE or stdin, check each one as the API does, and write the valid
ones in batches (a transaction each) into the store the configuration names
(-c), or through a running server's API (--url). A record whose id exists
is skipped (the default), replaced, or ends the import (--on-conflict).

At the end it reports how many records were created, replaced, skipped and
rejected, with the line and reason of each rejected one, and exits 1 when
any was rejected. An import that was interrupted finishes when run again:
what it wrote before is skipped.`,
		Example: `  farm import animals.ndjson
  farm export --url http://old:44444 | farm import --on-conflict replace -`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			mode, ok := map[string]farm.ImportMode{"skip": farm.ImportSkip, "replace": farm.ImportReplace, "fail": farm.ImportFail}[onConflict]
			if !ok {
				return usageError{fmt.Errorf("--on-conflict must be skip, replace or fail, not %q", onConflict)}
			}
			if batch < 1 || batch > 10000 {
				return usageError{fmt.Errorf("--batch must be from 1 to 10000")}
			}
			var in io.Reader = env.Stdin
			size := int64(-1)
			if len(args) == 1 && args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer f.Close()
				if fi, err := f.Stat(); err == nil {
					size = fi.Size()
				}
				in = f
			}
			st, c, done, err := g.endpoint(env, url)
			if err != nil {
				return err
			}
			defer done()
			var dst farm.AnimalImporter = c
			if st != nil {
				dst = transfer.Sink(st)
			}
			p := newProgress(env.Stderr, "bytes", size)
			if size < 0 {
				p = newProgress(env.Stderr, "records", -1)
			}
			rep, err := transfer.Import(cmd.Context(), dst, in, transfer.Options{Mode: mode, Batch: batch,
				Progress: func(records, bytes int64) {
					if size >= 0 {
						p.set(bytes)
					} else {
						p.set(records)
					}
				},
				Note: func(msg string) {
					p.note(msg)
				}})
			p.finish()
			for _, r := range rep.Rejections {
				if r.ID != "" {
					fmt.Fprintf(env.Stderr, "line %d (id %s): %s\n", r.Line, r.ID, r.Reason)
				} else {
					fmt.Fprintf(env.Stderr, "line %d: %s\n", r.Line, r.Reason)
				}
			}
			if more := rep.Rejected - int64(len(rep.Rejections)); more > 0 {
				fmt.Fprintf(env.Stderr, "and %d more rejected lines\n", more)
			}
			fmt.Fprintf(env.Stdout, "created %d, replaced %d, skipped %d, rejected %d\n", rep.Created, rep.Replaced, rep.Skipped, rep.Rejected)
			if err != nil {
				return fmt.Errorf("import stopped: %w (run it again to finish: what was written is skipped)", err)
			}
			if rep.Stopped != nil {
				return fmt.Errorf("import stopped at line %d: %s exists (--on-conflict fail)", rep.Stopped.Line, rep.Stopped.ID)
			}
			if rep.Rejected > 0 {
				return fmt.Errorf("%d records rejected", rep.Rejected)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&onConflict, "on-conflict", "skip", "a record whose id exists: skip, replace or fail")
	cmd.Flags().StringVar(&url, "url", "", "write through a running server's API at URL instead of the configured store")
	cmd.Flags().IntVar(&batch, "batch", transfer.DefaultBatch, "records a transaction")
	return cmd
}
