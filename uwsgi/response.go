package uwsgi

import (
	"bufio"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/net/http/httpguts"
)

// responseWriter writes an HTTP/1.1 response on a uwsgi connection. It
// holds the body back up to a limit, so that a response that fits gets a
// Content-Length (NGINX can then keep its client connection alive without
// chunking); a larger one streams and ends when the connection closes.
type responseWriter struct {
	bw        *bufio.Writer
	req       *http.Request
	header    http.Header
	status    int
	buf       []byte
	max       int
	committed bool // the status line and headers are out
	err       error
}

// writers holds the buffered writers of connections.
var writers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 4<<10) }}

func newResponseWriter(conn net.Conn, req *http.Request, max int) *responseWriter {
	if max <= 0 {
		max = 64 << 10
	}
	bw := writers.Get().(*bufio.Writer)
	bw.Reset(conn)
	return &responseWriter{bw: bw, req: req, header: make(http.Header, 8), max: max}
}

// release gives the writer's buffer back, once the response is out.
func (w *responseWriter) release() {
	w.bw.Reset(nil)
	writers.Put(w.bw)
	w.bw = nil
}

func (w *responseWriter) Header() http.Header { return w.header }

func (w *responseWriter) WriteHeader(code int) {
	if w.status != 0 || code < 200 {
		return // informational responses are not passed on; later calls are ignored, as in net/http
	}
	w.status = code
}

// bodyAllowed reports whether the status may carry a body (RFC 9110).
func (w *responseWriter) bodyAllowed() bool {
	return w.status != http.StatusNoContent && w.status != http.StatusNotModified
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !w.bodyAllowed() {
		return 0, http.ErrBodyNotAllowed
	}
	if w.err != nil {
		return 0, w.err
	}
	if !w.committed && len(w.buf)+len(p) <= w.max {
		w.buf = append(w.buf, p...)
		return len(p), nil
	}
	if !w.committed {
		w.commit(-1)
	}
	if w.req.Method == http.MethodHead {
		return len(p), nil
	}
	n, err := w.bw.Write(p)
	w.err = err
	return n, err
}

// commit writes the status line and the headers, then what was held.
func (w *responseWriter) commit(length int) {
	w.committed = true
	h := w.header
	bw := w.bw
	bw.WriteString("HTTP/1.1 ")
	var num [8]byte
	bw.Write(strconv.AppendInt(num[:0], int64(w.status), 10))
	bw.WriteByte(' ')
	bw.WriteString(http.StatusText(w.status))
	bw.WriteString("\r\n")
	if len(h["Content-Type"]) == 0 && len(w.buf) > 0 {
		writeField(bw, "Content-Type", http.DetectContentType(w.buf))
	}
	if length >= 0 && w.bodyAllowed() && len(h["Content-Length"]) == 0 {
		bw.WriteString("Content-Length: ")
		bw.Write(strconv.AppendInt(num[:0], int64(length), 10))
		bw.WriteString("\r\n")
	}
	for k, vs := range h {
		if !httpguts.ValidHeaderFieldName(k) {
			continue // as net/http does: a name that is not a token is dropped
		}
		for _, v := range vs {
			writeField(bw, k, v)
		}
	}
	bw.WriteString("\r\n")
	if len(w.buf) > 0 && w.req.Method != http.MethodHead {
		bw.Write(w.buf)
	}
	w.buf = nil
}

// writeField writes one header line; a line break in the value becomes a
// space (as net/http's Header.Write does), so a value cannot add lines.
func writeField(bw *bufio.Writer, k, v string) {
	bw.WriteString(k)
	bw.WriteString(": ")
	if strings.ContainsAny(v, "\r\n") {
		v = strings.NewReplacer("\r", " ", "\n", " ").Replace(v)
	}
	bw.WriteString(strings.TrimSpace(v))
	bw.WriteString("\r\n")
}

// Flush sends what is held so far (http.Flusher).
func (w *responseWriter) Flush() {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !w.committed {
		w.commit(-1)
	}
	if w.err == nil {
		w.err = w.bw.Flush()
	}
}

// finish completes the response after the handler returned.
func (w *responseWriter) finish() error {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !w.committed {
		w.commit(len(w.buf))
	}
	if w.err != nil {
		return w.err
	}
	return w.bw.Flush()
}
