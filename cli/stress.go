package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/farmhq/farm/client"
)

// stressResult is the closing summary of a stress run.
type stressResult struct {
	Clients     int     `json:"clients"`
	Requests    int64   `json:"requests"`
	Errors      int64   `json:"errors"`
	Seconds     float64 `json:"seconds"`
	RequestsSec float64 `json:"requests_per_second"`
	P50ms       float64 `json:"p50_ms"`
	P99ms       float64 `json:"p99_ms"`
	MaxMs       float64 `json:"max_ms"`
}

func newStress(g *globals, env Env) *cobra.Command {
	var clients, requests int
	var duration time.Duration
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "stress [-p N] [-n REQUESTS | -d DURATION]",
		Short: "load the server from N concurrent clients",
		Long: `Load a running farm from N concurrent clients. Each client repeats a
scenario on an animal of its own: create it, read it, patch it, list a
page, delete it. The run sends exactly REQUESTS requests (default 1000),
or runs for DURATION (-d alone: by time only; a client that is in the
middle of a scenario then finishes it, its delete included), shows a
progress bar when stderr is a terminal, and prints a summary: requests,
errors, requests/s, p50 and p99 latency. Each client deletes what it
created. It exits non-zero when any request failed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if clients < 1 {
				return usageError{fmt.Errorf("-p must be at least 1")}
			}
			if requests < 1 && !cmd.Flags().Changed("duration") {
				return usageError{fmt.Errorf("-n must be at least 1 (or give -d for a run by time)")}
			}
			if cmd.Flags().Changed("duration") && duration <= 0 {
				return usageError{fmt.Errorf("-d must be a positive duration such as 10s")}
			}
			c, err := g.client(env)
			if err != nil {
				return err
			}
			// Fail fast, with the usual message, when the server is down.
			if _, err := c.Do(cmd.Context(), http.MethodGet, "/api/v1/_about", nil, nil); err != nil {
				return err
			}
			if cmd.Flags().Changed("duration") && !cmd.Flags().Changed("requests") {
				requests = 0
			}
			res, err := stress(cmd.Context(), c, clients, int64(requests), duration, env.Stderr)
			if err != nil {
				return err
			}
			if asJSON {
				printValue(env.Stdout, res)
			} else {
				fmt.Fprintf(env.Stdout, "clients:      %d\nrequests:     %d\nerrors:       %d\nduration:     %.2fs\nrequests/s:   %.1f\nlatency p50:  %.2fms\nlatency p99:  %.2fms\nlatency max:  %.2fms\n",
					res.Clients, res.Requests, res.Errors, res.Seconds, res.RequestsSec, res.P50ms, res.P99ms, res.MaxMs)
			}
			if res.Errors > 0 {
				return fmt.Errorf("%d of %d requests failed", res.Errors, res.Requests)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVarP(&clients, "parallel", "p", 4, "number of concurrent clients")
	f.IntVarP(&requests, "requests", "n", 1000, "stop after this many requests")
	f.DurationVarP(&duration, "duration", "d", 0, "stop after this long (e.g. 10s)")
	f.BoolVar(&asJSON, "json", false, "print the summary as JSON")
	return cmd
}

func stress(ctx context.Context, c *client.Client, clients int, requests int64, duration time.Duration, progress io.Writer) (*stressResult, error) {
	if duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, duration)
		defer cancel()
	}
	max := requests
	if max <= 0 {
		max = -1 // unknown: a spinner
	}
	var bar *progressbar.ProgressBar
	if isTerminal(progress) {
		bar = progressbar.NewOptions64(max,
			progressbar.OptionSetWriter(progress),
			progressbar.OptionSetDescription("stress"),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("req"),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
	}
	var sent, failed atomic.Int64
	var firstErr atomic.Pointer[string]
	lat := make([][]time.Duration, clients)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range clients {
		wg.Go(func() {
			// take reserves n requests of the budget; false when they are
			// not left (or the time is up).
			take := func(n int64) bool {
				if ctx.Err() != nil {
					return false
				}
				if requests > 0 && sent.Add(n) > requests {
					sent.Add(-n)
					return false
				}
				if requests <= 0 {
					sent.Add(n)
				}
				return true
			}
			do := func(method, uri string, body []byte, h http.Header) bool {
				t := time.Now()
				_, err := c.Do(context.WithoutCancel(ctx), method, uri, body, h)
				lat[w] = append(lat[w], time.Since(t))
				if bar != nil {
					bar.Add(1)
				}
				if err != nil {
					failed.Add(1)
					msg := err.Error()
					firstErr.CompareAndSwap(nil, &msg)
					return false
				}
				return true
			}
			for {
				// A scenario reserves its create and its delete together,
				// so that what it creates is always deleted within the
				// budget; a last odd request reads a page.
				if !take(2) {
					if take(1) {
						do(http.MethodGet, "/api/v1/animal?per_page=10", nil, nil)
						continue
					}
					break
				}
				id := uuid.NewString()
				body, _ := json.Marshal(map[string]string{"id": id, "species": "chicken", "sex": "female", "name": "stress"})
				if !do(http.MethodPost, "/api/v1/animal", body, nil) {
					sent.Add(-1) // nothing to delete: the delete's share is free again
					continue
				}
				for _, s := range []struct {
					method, uri string
					body        []byte
				}{
					{http.MethodGet, client.AnimalPath(id), nil},
					{http.MethodPatch, client.AnimalPath(id), []byte(`{"name":"stressed"}`)},
					{http.MethodGet, "/api/v1/animal?per_page=10", nil},
				} {
					if !take(1) {
						break
					}
					do(s.method, s.uri, s.body, nil)
				}
				do(http.MethodDelete, client.AnimalPath(id), nil, nil)
			}
		})
	}
	wg.Wait()
	if bar != nil {
		bar.Finish()
	}
	elapsed := time.Since(start)
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	res := &stressResult{Clients: clients, Requests: int64(len(all)), Errors: failed.Load(), Seconds: elapsed.Seconds()}
	if len(all) == 0 {
		if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, ctx.Err()
		}
		return res, nil
	}
	res.RequestsSec = float64(len(all)) / elapsed.Seconds()
	res.P50ms = ms(percentile(all, 0.50))
	res.P99ms = ms(percentile(all, 0.99))
	res.MaxMs = ms(all[len(all)-1])
	if e := firstErr.Load(); e != nil {
		fmt.Fprintln(progress, "first error:", *e)
	}
	return res, nil
}

// percentile of sorted durations, nearest rank.
func percentile(sorted []time.Duration, p float64) time.Duration {
	i := int(p*float64(len(sorted))+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
