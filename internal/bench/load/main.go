// Command load drives a server with a fixed number of connections, each
// sending one request after another, and reports every request's latency
// exactly: requests/s, p50, p90, p99, max, and the errors (transport
// failures and 5xx). scripts/bench.sh uses it where the tail matters (a
// frozen instance, two instances writing), wrk elsewhere. A test tool,
// not part of farm. FARM_TOKEN, when set, goes with each request as a
// bearer token. With -status it prints, instead, one line per status
// ("status count p99ms"; status 0 is a transport error) and a last line
// "unhelpful N": the 503s and 429s that came without Retry-After or
// without a JSON body (e2e's overload test reads it).
//
//	load [-c 32] [-d 10s] [-post PREFIX] [-status] URL
package main

import (
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

func main() {
	conns := flag.Int("c", 32, "connections")
	duration := flag.Duration("d", 10*time.Second, "how long")
	post := flag.String("post", "", "POST new animals with ids PREFIX-<connection>-<n> instead of GET")
	byStatus := flag.Bool("status", false, "report each status's count and p99")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: load [-c N] [-d D] [-post PREFIX] [-status] URL")
		os.Exit(2)
	}
	url := flag.Arg(0)
	tr := &http.Transport{MaxIdleConnsPerHost: *conns, MaxConnsPerHost: *conns}
	client := &http.Client{Transport: tr, Timeout: time.Minute}
	var mu sync.Mutex
	var lat []time.Duration
	statuses := map[int][]time.Duration{}
	unhelpful := 0
	errs := 0
	var firstErr string
	deadline := time.Now().Add(*duration)
	start := time.Now()
	var wg sync.WaitGroup
	for c := range *conns {
		wg.Go(func() {
			var mine []time.Duration
			myStatuses := map[int][]time.Duration{}
			myUnhelpful := 0
			bad := 0
			msg := ""
			for n := 0; time.Now().Before(deadline); n++ {
				var req *http.Request
				if *post != "" {
					body := fmt.Sprintf(`{"id":"%s-%d-%d","species":"cow","sex":"female","name":"Load %d"}`, *post, c, n, n)
					req, _ = http.NewRequest(http.MethodPost, url, strings.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
				} else {
					req, _ = http.NewRequest(http.MethodGet, url, nil)
				}
				if tok := os.Getenv("FARM_TOKEN"); tok != "" {
					req.Header.Set("Authorization", "Bearer "+tok)
				}
				t := time.Now()
				res, err := client.Do(req)
				code := 0
				if err == nil {
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
					code = res.StatusCode
					if (code == 503 || code == 429) && (res.Header.Get("Retry-After") == "" || res.Header.Get("Content-Type") != "application/json") {
						myUnhelpful++
					}
					if res.StatusCode >= 500 {
						err = fmt.Errorf("status %d", res.StatusCode)
					}
				}
				d := time.Since(t)
				mine = append(mine, d)
				myStatuses[code] = append(myStatuses[code], d)
				if err != nil {
					bad++
					if msg == "" {
						msg = err.Error()
					}
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			for code, l := range myStatuses {
				statuses[code] = append(statuses[code], l...)
			}
			unhelpful += myUnhelpful
			errs += bad
			if firstErr == "" {
				firstErr = msg
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if *byStatus {
		for _, code := range slices.Sorted(maps.Keys(statuses)) {
			l := statuses[code]
			slices.Sort(l)
			fmt.Printf("%d %d %.2f\n", code, len(l), percentile(l, 0.99))
		}
		fmt.Printf("unhelpful %d\n", unhelpful)
		return
	}
	slices.Sort(lat)
	pct := func(p float64) float64 { return percentile(lat, p) }
	// The line scripts/bench.sh reads: rps p99ms errors, then the rest.
	fmt.Printf("%.0f %.2f %d p50=%.2fms p90=%.2fms max=%.2fms n=%d %s\n", float64(len(lat))/elapsed.Seconds(), pct(0.99), errs,
		pct(0.50), pct(0.90), pct(1), len(lat), firstErr)
}

// percentile is the p-th of sorted latencies, in milliseconds.
func percentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return float64(sorted[min(len(sorted)-1, int(p*float64(len(sorted))))].Microseconds()) / 1000
}
