package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"

	"github.com/spf13/cobra"

	"github.com/farmhq/farm/client"
)

func newAnimal(g *globals, env Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "animal",
		Short: "create, fetch and delete animal records",
	}
	cmd.AddCommand(newAnimalNew(g, env), newAnimalGet(g, env), newAnimalDel(g, env))
	return cmd
}

func newAnimalNew(g *globals, env Env) *cobra.Command {
	var times int
	cmd := &cobra.Command{
		Use:   "new DATA... [-n N]",
		Short: "create animals from JSON DATA (an id is added when missing), N times",
		Example: `  farm animal new '{"species": "cow", "sex": "female", "name": "Daisy"}'
  farm animal new '{"species": "chicken", "sex": "female"}' -n 12`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if times < 1 {
				return usageError{fmt.Errorf("-n must be at least 1")}
			}
			bodies := make([][]byte, len(args))
			for i, a := range args {
				b, err := readData(a, env.Stdin)
				if err != nil {
					return err
				}
				var probe map[string]json.RawMessage
				if json.Unmarshal(b, &probe) == nil && probe["id"] != nil && times > 1 {
					return usageError{fmt.Errorf("DATA %s has an id: -n %d would create it %d times", shorten(string(b)), times, times)}
				}
				bodies[i] = b
			}
			c, err := g.client(env)
			if err != nil {
				return err
			}
			created := []client.Ref{}
			for range times {
				for _, b := range bodies {
					b, err := withID(b)
					if err != nil {
						return err
					}
					r, err := c.Do(cmd.Context(), http.MethodPost, "/api/v1/animal", b, nil)
					if err != nil {
						if len(created) > 0 {
							fmt.Fprintf(env.Stderr, "created %d animals before the error\n", len(created))
						}
						return err
					}
					if g.include {
						client.WriteHead(env.Stdout, r)
					}
					var ref client.Ref
					if err := json.Unmarshal(r.Body, &ref); err != nil {
						return fmt.Errorf("unexpected answer to POST: %v", err)
					}
					created = append(created, ref)
				}
			}
			printValue(env.Stdout, created)
			return nil
		},
	}
	cmd.Flags().IntVarP(&times, "count", "n", 1, "create each DATA N times")
	return cmd
}

func newAnimalGet(g *globals, env Env) *cobra.Command {
	var page, perPage int
	cmd := &cobra.Command{
		Use:   "get ID...|all",
		Short: "fetch records by id, or list them (all, with --page and --per-page)",
		Example: `  farm animal get 0d4c5a0e-7a7f-4bd4-9c43-0c1f6f0d0c1e
  farm animal get all
  farm animal get all --page 2 --per-page 20`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client(env)
			if err != nil {
				return err
			}
			if len(args) == 1 && args[0] == "all" {
				if cmd.Flags().Changed("page") || cmd.Flags().Changed("per-page") {
					// One page, as the server sends it.
					return exchange(cmd, g, env, c, http.MethodGet,
						"/api/v1/animal?page="+strconv.Itoa(page)+"&per_page="+strconv.Itoa(perPage), nil, nil)
				}
				refs, err := listAll(cmd, c)
				if err != nil {
					return err
				}
				printValue(env.Stdout, refs)
				return nil
			}
			return eachArg(env, args, func(id string) error {
				return exchange(cmd, g, env, c, http.MethodGet, client.AnimalPath(id), nil, nil)
			})
		},
	}
	cmd.Flags().IntVar(&page, "page", 1, "page to fetch (with all)")
	cmd.Flags().IntVar(&perPage, "per-page", 10, "records per page (with all), 1 to 1000")
	return cmd
}

// listAll walks every page of the listing by its next links, whose
// cursors neither repeat nor skip a record while others write.
func listAll(cmd *cobra.Command, c *client.Client) ([]client.Ref, error) {
	refs := []client.Ref{}
	p, err := c.List(cmd.Context(), 1000)
	for ; err == nil; p, err = c.ListAt(cmd.Context(), p.Next) {
		refs = append(refs, p.Refs...)
		if p.Next == "" {
			return refs, nil
		}
	}
	return nil, err
}

func newAnimalDel(g *globals, env Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "del ID...|all",
		Short: "delete records by id, or all of them",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client(env)
			if err != nil {
				return err
			}
			if len(args) == 1 && args[0] == "all" {
				n, err := deleteAll(cmd, c)
				if err != nil {
					if n > 0 {
						fmt.Fprintf(env.Stderr, "deleted %d animals before the error\n", n)
					}
					return err
				}
				printValue(env.Stdout, map[string]int{"deleted": n})
				return nil
			}
			n := 0
			err = eachArg(env, args, func(id string) error {
				r, err := c.Do(cmd.Context(), http.MethodDelete, client.AnimalPath(id), nil, nil)
				if r != nil && g.include {
					client.WriteHead(env.Stdout, r)
				}
				if err == nil {
					n++
				}
				return err
			})
			if err == nil || n > 0 {
				printValue(env.Stdout, map[string]int{"deleted": n})
			}
			return err
		},
	}
	return cmd
}

// deleteAll deletes page after page until the listing is empty, a few
// requests at a time. A record someone else deleted first is not an error.
func deleteAll(cmd *cobra.Command, c *client.Client) (int, error) {
	deleted := 0
	for {
		p, err := c.List(cmd.Context(), 1000)
		if err != nil {
			return deleted, err
		}
		if len(p.Refs) == 0 {
			return deleted, nil
		}
		var mu sync.Mutex
		var firstErr error
		var wg sync.WaitGroup
		ids := make(chan string)
		for range 8 {
			wg.Go(func() {
				for id := range ids {
					_, err := c.Do(cmd.Context(), http.MethodDelete, client.AnimalPath(id), nil, nil)
					var se *client.StatusError
					mu.Lock()
					switch {
					case err == nil:
						deleted++
					case errors.As(err, &se) && se.Status == http.StatusNotFound:
					default:
						if firstErr == nil {
							firstErr = err
						}
					}
					mu.Unlock()
				}
			})
		}
		for _, r := range p.Refs {
			ids <- r.ID
		}
		close(ids)
		wg.Wait()
		if firstErr != nil {
			return deleted, firstErr
		}
	}
}
