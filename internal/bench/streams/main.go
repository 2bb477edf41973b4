// Command streams holds N change feed streams (Server-Sent Events) open
// on a farm and counts the events they get: scripts/bench.sh measures what
// idle and following subscribers cost. It prints "ready N" once every
// stream is open, and, when stopped (SIGTERM, SIGINT), "events E dropped
// D": the events received, and the streams the server ended. A test tool,
// not part of farm.
//
//	streams [-n 1000] URL
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
)

func main() {
	n := flag.Int("n", 1000, "streams")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: streams [-n N] URL")
		os.Exit(2)
	}
	url := flag.Arg(0)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *n}}
	var events, ended atomic.Int64
	data := []byte("data: ")
	var ready sync.WaitGroup
	for range *n {
		ready.Add(1)
		go func() {
			req, _ := http.NewRequest("GET", url, nil)
			req.Header.Set("Accept", "text/event-stream")
			res, err := client.Do(req)
			if err != nil || res.StatusCode != 200 {
				fmt.Fprintf(os.Stderr, "streams: %v %v\n", err, res)
				os.Exit(1)
			}
			ready.Done()
			sc := bufio.NewScanner(res.Body)
			for sc.Scan() {
				if bytes.HasPrefix(sc.Bytes(), data) { // no string a line
					events.Add(1)
				}
			}
			ended.Add(1)
		}()
	}
	ready.Wait()
	fmt.Printf("ready %d\n", *n)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	fmt.Printf("events %d dropped %d\n", events.Load(), ended.Load())
}
