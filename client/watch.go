package client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// ErrStreamEnded is Watch's error when the server ended the stream or the
// connection broke: resume from the last sequence seen.
var ErrStreamEnded = errors.New("the change feed stream ended")

// Watch follows the change feed as Server-Sent Events from uri (the feed's
// path and query, since included), calling fn with each change's sequence
// and JSON, until ctx ends or the stream does. It returns the last
// sequence fn got (from, when none). A refused or failed request is a
// *ConnError or *StatusError, as for Do; a stream that ends is
// ErrStreamEnded.
func (c *Client) Watch(ctx context.Context, uri string, from int64, fn func(seq int64, change []byte) error) (int64, error) {
	last := from
	u, err := c.URL(uri)
	if err != nil {
		return last, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return last, err
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("User-Agent", "farm-cli")
	if from > 0 {
		req.Header.Set("Last-Event-ID", strconv.FormatInt(from, 10))
	}
	if c.Trace != nil {
		fmt.Fprintf(c.Trace, "> GET %s HTTP/1.1\n", req.URL.RequestURI())
		writeHeader(c.Trace, "> ", req.Header)
		fmt.Fprintln(c.Trace, ">")
	}
	// No timeout for the whole exchange: a stream lasts; the server's
	// heartbeats show it is alive.
	hc := *c.HTTP
	hc.Timeout = 0
	res, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return last, ctx.Err()
		}
		return last, &ConnError{URL: c.where(), Err: unwrapURLError(err)}
	}
	defer res.Body.Close()
	if c.Trace != nil {
		fmt.Fprintf(c.Trace, "< %s %d %s\n", res.Proto, res.StatusCode, http.StatusText(res.StatusCode))
		writeHeader(c.Trace, "< ", res.Header)
		fmt.Fprintln(c.Trace, "<")
	}
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
		return last, statusError("GET", u, &Response{Proto: res.Proto, Status: res.StatusCode, Header: res.Header, Body: b})
	}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var id int64 = -1
	var data []byte
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case len(line) == 0: // the end of an event
			if id >= 0 && data != nil {
				if err := fn(id, data); err != nil {
					return last, err
				}
				last = id
			}
			id, data = -1, nil
		case strings.HasPrefix(string(line), "id: "):
			if n, err := strconv.ParseInt(string(line[4:]), 10, 64); err == nil {
				id = n
			}
		case strings.HasPrefix(string(line), "data: "):
			data = append([]byte(nil), line[6:]...)
		}
	}
	if ctx.Err() != nil {
		return last, ctx.Err()
	}
	return last, ErrStreamEnded
}
