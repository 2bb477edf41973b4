// Command seed creates the records that scripts/bench.sh reads and
// changes: PREFIX-1 .. PREFIX-N, through a farm server's API, 16 at a
// time. It is a test tool, not part of farm.
//
//	seed URL PREFIX N
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

func main() {
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
				res, err := http.Post(base+"/api/v1/animal", "application/json", strings.NewReader(body))
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
