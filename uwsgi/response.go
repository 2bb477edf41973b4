package uwsgi

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strconv"
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

func newResponseWriter(conn net.Conn, req *http.Request, max int) *responseWriter {
	if max <= 0 {
		max = 64 << 10
	}
	return &responseWriter{bw: bufio.NewWriterSize(conn, 8<<10), req: req, header: http.Header{}, max: max}
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
	h := w.header.Clone()
	if h.Get("Content-Type") == "" && len(w.buf) > 0 {
		h.Set("Content-Type", http.DetectContentType(w.buf))
	}
	if length >= 0 && w.bodyAllowed() && h.Get("Content-Length") == "" {
		h.Set("Content-Length", strconv.Itoa(length))
	}
	fmt.Fprintf(w.bw, "HTTP/1.1 %d %s\r\n", w.status, http.StatusText(w.status))
	if err := h.Write(w.bw); err != nil {
		w.err = err
		return
	}
	w.bw.WriteString("\r\n")
	if len(w.buf) > 0 && w.req.Method != http.MethodHead {
		w.bw.Write(w.buf)
	}
	w.buf = nil
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
