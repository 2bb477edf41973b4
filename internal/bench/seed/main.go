// Command seed makes the records that scripts/bench.sh reads and changes.
// It is a test tool, not part of farm.
//
//	seed URL PREFIX N    create PREFIX-1 .. PREFIX-N through a server's
//	                     API, 16 at a time
//	seed ndjson N        write N records as NDJSON for farm import: ids
//	                     in no order (random_get.lua makes them too),
//	                     half of them named "hen", the
//	                     rest one of N/40 names (1000 at most), a date of
//	                     birth in N/40 days (ten years at most), species
//	                     and sex at random
package main

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	if len(os.Args) == 3 && os.Args[1] == "ndjson" {
		n, err := strconv.Atoi(os.Args[2])
		if err != nil {
			fmt.Fprintln(os.Stderr, "seed: N:", err)
			os.Exit(2)
		}
		ndjson(n)
		return
	}
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: seed URL PREFIX N")
		os.Exit(2)
	}
	base, prefix := strings.TrimRight(os.Args[1], "/"), os.Args[2]
	n, err := strconv.Atoi(os.Args[3])
	if err != nil {
		fmt.Fprintln(os.Stderr, "seed: N:", err)
		os.Exit(2)
	}
	species := []string{"chicken", "cow"}
	sexes := []string{"female", "male"}
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for {
				i := int(next.Add(1))
				if i > n || failed.Load() != nil {
					return
				}
				body := fmt.Sprintf(`{"id":"%s-%d","species":"%s","sex":"%s","name":"Animal %d","dob":"2020-%02d-%02d"}`,
					prefix, i, species[i%2], sexes[i/2%2], i, 1+i%12, 1+i%28)
				req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/animal", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				if tok := os.Getenv("FARM_TOKEN"); tok != "" { // the write token
					req.Header.Set("Authorization", "Bearer "+tok)
				}
				res, err := http.DefaultClient.Do(req)
				if err == nil {
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != http.StatusCreated && res.StatusCode != http.StatusConflict {
						err = fmt.Errorf("POST %s-%d: %s", prefix, i, res.Status)
					}
				}
				if err != nil {
					failed.Store(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		fmt.Fprintln(os.Stderr, "seed:", err)
		os.Exit(1)
	}
}

func ndjson(n int) {
	w := bufio.NewWriterSize(os.Stdout, 1<<20)
	defer w.Flush()
	rng := rand.New(rand.NewPCG(1, 2))
	species := []string{"chicken", "cow"}
	sexes := []string{"female", "male"}
	day0 := time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC)
	// The other names and the dates come from pools that grow with n (a
	// record in forty has each one, up to 1000 names and ten years of
	// days): a rare filter (name-007, 2015-01-07) then fills a page at any
	// size, and the benchmark compares the cost of the same answer.
	names, days := min(max(n/40, 1), 1000), min(max(n/40, 1), 3650)
	for i := range n {
		name := "hen"
		if rng.IntN(2) == 0 {
			name = fmt.Sprintf("name-%03d", rng.IntN(names))
		}
		// The id starts with a permutation of i (7919 * i modulo a prime):
		// the ids come in no order, and wrk's Lua can make them too.
		id := fmt.Sprintf("%07d-%07d", i*7919%1000003, i)
		dob := day0.AddDate(0, 0, rng.IntN(days)).Format("2006-01-02")
		fmt.Fprintf(w, `{"id":"%s","species":"%s","sex":"%s","name":"%s","dob":"%s"}`+"\n",
			id, species[rng.IntN(2)], sexes[rng.IntN(2)], name, dob)
	}
}
