package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/farmhq/farm/client"
)

// newRequest builds one of the raw HTTP commands: get and delete take
// URIs, post, put and patch a URI and DATA.
func newRequest(g *globals, env Env, name, method, use, short string) *cobra.Command {
	var ifMatch string
	withData := method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long: short + `.

URI is a path on the server (/api/v1/_about) or an absolute URL. DATA is
JSON text, @FILE to read it from a file, or - to read it from stdin.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if withData && len(args) != 2 {
				return usageError{fmt.Errorf("%s takes a URI and DATA", name)}
			}
			c, err := g.client(env)
			if err != nil {
				return err
			}
			h := http.Header{}
			if ifMatch != "" {
				h.Set("If-Match", ifMatch)
			}
			if !withData {
				return eachArg(env, args, func(uri string) error {
					return exchange(cmd, g, env, c, method, uri, nil, h)
				})
			}
			body, err := readData(args[1], env.Stdin)
			if err != nil {
				return err
			}
			if method == http.MethodPost {
				if body, err = withID(body); err != nil {
					return err
				}
			}
			if method == http.MethodPatch {
				h.Set("Content-Type", "application/merge-patch+json")
			}
			return exchange(cmd, g, env, c, method, args[0], body, h)
		},
	}
	if method != http.MethodGet && method != http.MethodPost {
		cmd.Flags().StringVar(&ifMatch, "if-match", "", `send If-Match with this ETag (e.g. '"3-a1b2..."'), for a safe update`)
	}
	return cmd
}

// exchange sends one request and prints the answer: headers with -i, the
// body pretty-printed on stdout. An HTTP error still prints what came back
// when -i or -v asked for it, then fails with a one-line message.
func exchange(cmd *cobra.Command, g *globals, env Env, c *client.Client, method, uri string, body []byte, h http.Header) error {
	r, err := c.Do(cmd.Context(), method, uri, body, h)
	if r != nil && (err == nil || g.include || g.verbose) {
		if g.include {
			client.WriteHead(env.Stdout, r)
		}
		printJSON(env.Stdout, r.Body)
	}
	return err
}

// eachArg runs fn for every argument. With several, a failure is told on
// stderr and the others still run; the error returned counts the failures
// and carries the first one (for the exit status). When the server cannot
// be reached at all, there is no point going on.
func eachArg(env Env, args []string, fn func(string) error) error {
	if len(args) == 1 {
		return fn(args[0])
	}
	var first error
	failed := 0
	for _, a := range args {
		err := fn(a)
		if err == nil {
			continue
		}
		var ce *client.ConnError
		if errors.As(err, &ce) {
			return err
		}
		fmt.Fprintln(env.Stderr, "farm:", err)
		failed++
		if first == nil {
			first = err
		}
	}
	if first != nil {
		return fmt.Errorf("%d of %d failed, the first with %w", failed, len(args), first)
	}
	return nil
}

// readData reads DATA: JSON text, @FILE or - for stdin. It must be JSON.
func readData(arg string, stdin io.Reader) ([]byte, error) {
	var b []byte
	var err error
	switch {
	case arg == "-":
		b, err = io.ReadAll(stdin)
	case strings.HasPrefix(arg, "@"):
		b, err = os.ReadFile(arg[1:])
	default:
		b = []byte(arg)
	}
	if err != nil {
		return nil, usageError{fmt.Errorf("DATA: %w", err)}
	}
	if !json.Valid(b) {
		return nil, usageError{fmt.Errorf("DATA is not valid JSON: %s", shorten(string(b)))}
	}
	return b, nil
}

func shorten(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

// withID adds a fresh UUID as "id" to a JSON object that has none, keeping
// the members' order. Anything else passes unchanged (the server judges
// it).
func withID(body []byte) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return body, nil // not an object
	}
	if _, ok := m["id"]; ok {
		return body, nil
	}
	trimmed := bytes.TrimSpace(body)
	id, _ := json.Marshal(uuid.NewString())
	inner := bytes.TrimSpace(trimmed[1 : len(trimmed)-1])
	out := append([]byte(`{"id":`), id...)
	if len(inner) > 0 {
		out = append(append(out, ','), inner...)
	}
	return append(out, '}'), nil
}
