package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/farmhq/farm"
	"github.com/farmhq/farm/client"
)

func newWatch(g *globals, env Env) *cobra.Command {
	var since, species, sex string
	var follow bool
	cmd := &cobra.Command{
		Use:   "watch [--since SEQ|now] [--species S] [--sex S] [--follow]",
		Short: "print the change feed as NDJSON, as changes come",
		Long: `Follow the server's change feed (GET /api/v1/_changes as Server-Sent
Events) and print each change as one JSON line: {"seq", "kind", "id",
"rev", "animal"}. It starts after --since (a sequence, or now; default 0:
every change the server keeps) and runs until interrupted. When the
server goes away it exits with a message naming the last sequence, to
resume from with --since; with --follow it reconnects by itself instead,
missing nothing.`,
		Example: `  farm watch --since now
  farm watch --species cow --follow | jq .`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			q := url.Values{}
			for k, v := range map[string]string{"species": species, "sex": sex} {
				if v != "" {
					q.Set(k, v)
				}
			}
			var last int64
			c, err := g.client(env)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			switch since {
			case "", "0":
			case "now":
				// Where now is, so that a reconnection resumes from there.
				r, err := c.Do(ctx, "GET", "/api/v1/_changes?since=now&limit=1", nil, nil)
				if err != nil {
					return err
				}
				var f struct {
					LastSeq int64 `json:"last_seq"`
				}
				if err := json.Unmarshal(r.Body, &f); err != nil {
					return fmt.Errorf("the change feed's answer: %w", err)
				}
				last = f.LastSeq
			default:
				n, err := parseWatchSeq(since)
				if err != nil {
					return usageError{err}
				}
				last = n
			}
			delay := 500 * time.Millisecond
			for {
				uri := "/api/v1/_changes"
				if len(q) > 0 {
					uri += "?" + q.Encode()
				}
				got := false
				n, err := c.Watch(ctx, uri, last, func(seq int64, change []byte) error {
					got = true
					_, err := fmt.Fprintf(env.Stdout, "%s\n", change)
					return err
				})
				last = n
				switch {
				case errors.Is(err, context.Canceled) || ctx.Err() != nil:
					return nil // interrupted: done
				case err == nil:
					return nil
				}
				var se *client.StatusError
				if errors.As(err, &se) && se.Status == 410 {
					return fmt.Errorf("%w (the server no longer keeps the changes after %d: list the records again, then watch --since now)", err, last)
				}
				if !follow {
					if errors.Is(err, client.ErrStreamEnded) {
						return fmt.Errorf("the server ended the change feed after sequence %d: resume with farm watch --since %d", last, last)
					}
					return err
				}
				if got {
					delay = 500 * time.Millisecond
				}
				fmt.Fprintf(env.Stderr, "farm watch: %v; again in %v from sequence %d\n", err, delay, last)
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(delay):
				}
				delay = min(2*delay, 10*time.Second)
			}
		},
	}
	cmd.Flags().StringVar(&since, "since", "", "start after this sequence, or now (default: every change kept)")
	cmd.Flags().StringVar(&species, "species", "", "only changes of this species (before or after the change)")
	cmd.Flags().StringVar(&sex, "sex", "", "only changes of this sex")
	cmd.Flags().BoolVar(&follow, "follow", false, "reconnect when the server goes away, instead of exiting")
	return cmd
}

func parseWatchSeq(s string) (int64, error) {
	n, err := strconv.ParseUint(s, 10, 63)
	if err != nil {
		return 0, farm.Errorf(farm.EINVALIDARG, "--since must be a sequence (a whole number) or now, not %q", s)
	}
	return int64(n), nil
}
