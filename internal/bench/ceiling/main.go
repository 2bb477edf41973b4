// Command ceiling runs the baselines that scripts/bench.sh measures farm
// against: servers that do nothing but answer, and the disk's sync rate.
// It is a test tool, not part of farm.
//
//	ceiling http ADDR                 net/http, a constant JSON body, on TCP
//	ceiling http-unix SOCKET...       the same on unix sockets
//	ceiling uwsgi SOCKET...           reads a uwsgi packet (and its body),
//	                                  answers a constant response, closes
//	ceiling dsync DIR DURATION        one 4 KiB O_DSYNC write at a time in
//	                                  DIR for DURATION; prints writes/s
package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// body is what every ceiling answers: about the size of farm's _about.
const body = `{"name":"farm","version":"2026.12.02","go_version":"go1.26.8","instance":"ceiling","started":"2026-12-02T00:00:00Z"}` + "\n"

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: ceiling http ADDR | http-unix SOCKET... | uwsgi SOCKET... | dsync DIR DURATION")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "http":
		err = serveHTTP([]string{os.Args[2]}, "tcp")
	case "http-unix":
		err = serveHTTP(os.Args[2:], "unix")
	case "uwsgi":
		err = serveUwsgi(os.Args[2:])
	case "dsync":
		err = dsync(os.Args[2], os.Args[3])
	default:
		err = fmt.Errorf("no mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ceiling:", err)
		os.Exit(1)
	}
}

func listen(network, addr string) (net.Listener, error) {
	if network == "unix" {
		os.Remove(addr)
		ln, err := net.Listen("unix", addr)
		if err != nil {
			return nil, err
		}
		return ln, os.Chmod(addr, 0o666)
	}
	return net.Listen(network, addr)
}

func serveHTTP(addrs []string, network string) error {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header()["Content-Type"] = []string{"application/json"}
		io.WriteString(w, body)
	})
	errc := make(chan error, len(addrs))
	for _, a := range addrs {
		ln, err := listen(network, a)
		if err != nil {
			return err
		}
		go func() { errc <- http.Serve(ln, h) }()
	}
	return wait(errc)
}

var uwsgiAnswer = []byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
	strconv.Itoa(len(body)) + "\r\n\r\n" + body)

func serveUwsgi(paths []string) error {
	errc := make(chan error, len(paths))
	for _, p := range paths {
		ln, err := listen("unix", p)
		if err != nil {
			return err
		}
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					errc <- err
					return
				}
				go answerUwsgi(c)
			}
		}()
	}
	return wait(errc)
}

// answerUwsgi reads one request (header, variables, CONTENT_LENGTH bytes
// of body) and answers it.
func answerUwsgi(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	var h [4]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return
	}
	vars := make([]byte, binary.LittleEndian.Uint16(h[1:3]))
	if _, err := io.ReadFull(r, vars); err != nil {
		return
	}
	length := 0
	for i := 0; i+2 <= len(vars); {
		kl := int(binary.LittleEndian.Uint16(vars[i:]))
		k := vars[i+2 : i+2+kl]
		i += 2 + kl
		vl := int(binary.LittleEndian.Uint16(vars[i:]))
		v := vars[i+2 : i+2+vl]
		i += 2 + vl
		if string(k) == "CONTENT_LENGTH" {
			length, _ = strconv.Atoi(string(v))
		}
	}
	io.CopyN(io.Discard, r, int64(length))
	c.Write(uwsgiAnswer)
}

// wait serves until SIGTERM or SIGINT, or a listener's failure.
func wait(errc chan error) error {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case err := <-errc:
		return err
	case <-sig:
		return nil
	}
}

// dsync measures the disk's rate of durable writes one at a time: each a
// 4 KiB write to a file opened with O_DSYNC, so that it returns once the
// data is on the disk, as a commit's WAL write and sync are.
func dsync(dir, duration string) error {
	d, err := time.ParseDuration(duration)
	if err != nil {
		return err
	}
	path := filepath.Join(dir, "dsync.bench")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC|syscall.O_DSYNC, 0o600)
	if err != nil {
		return err
	}
	defer os.Remove(path)
	defer f.Close()
	buf := make([]byte, 4096)
	n := 0
	start := time.Now()
	for time.Since(start) < d {
		// Rewrite the same 1 MiB over and over: the file's size, and so its
		// metadata, soon stop changing, as a WAL's do.
		if _, err := f.WriteAt(buf, int64(n%256)*4096); err != nil {
			return err
		}
		n++
	}
	fmt.Printf("%.0f\n", float64(n)/time.Since(start).Seconds())
	return nil
}
