package sqlite

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/farmhq/farm"
)

// One writer per database file. Two processes writing one SQLite file take
// turns through SQLite's busy handler, which sleeps and retries: the one
// that is not writing can wait seconds, and each commit pays its own fsync.
// So the instances that open a file elect one of them, the writer, by a
// lock on the file <db>-writer: whoever holds it runs the committer and
// listens on the unix socket <db>-writer.sock; every other instance sends
// its writes there and waits for the answers. The writer takes writes in
// the order they come, from any instance, and commits them together.
//
// The lock is an flock(2): the kernel drops it when its holder exits, by a
// crash or kill -9 too. The others try it every electEvery; the first to
// get it becomes the writer. A write whose answer was lost with the old
// writer is sent again, marked retry: its revision was chosen before it
// was first sent, so the new writer recognises it if it was committed
// (write.go), and the client's write happens once.
//
// A writer that stops cleanly (Close) stops reading new writes, commits and
// answers those it read, closes the connections, and only then gives the
// lock up.

// electEvery is how often a follower tries to become the writer.
const electEvery = 20 * time.Millisecond

// A write sent to another instance carries a deadline, its WriteTimeout
// from when it was made, on the machine's monotonic clock (the writer is
// on the same machine: the socket is a unix one). The writer refuses it
// past the deadline, unwritten, so that a writer that was stopped
// (SIGSTOP, a debugger, a stuck disk) and comes back does not write what
// its senders have given up on. A sender waits answerGrace longer than
// the deadline, for a write taken just before it to be committed and
// answered, and then answers its client 503 (errNoAnswer). The one write
// that can still land after that is one its writer took in time and was
// stopped in the middle of committing, as a kill -9 there leaves it
// committed or not. An import's batch (thousands of records, committed
// alone: write.go) gets importGrace to be written.
const (
	answerGrace = 2 * time.Second
	importGrace = 2 * time.Minute
)

var (
	errLate     = farm.Errorf(farm.EUNAVAILABLE, "the write reached the instance that writes the database past its deadline: not written")
	errNoAnswer = farm.Errorf(farm.EUNAVAILABLE, "the instance that writes the database did not answer in time (stopped, or its disk stuck)")
)

// monotonic is CLOCK_MONOTONIC in nanoseconds: the machine's, the same in
// every process (Go's own monotonic readings count from the process's
// start).
func monotonic() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

type writer struct {
	s        *Store
	lockFile *os.File
	sockPath string // the socket's path
	dialPath string // the path to dial or bind (short, through /proc for long paths)
	dirFile  *os.File
	log      *slog.Logger

	mu      sync.Mutex
	c       *committer   // this instance is the writer
	ln      net.Listener // where the others connect, while this instance is the writer
	conns   map[*peerConn]bool
	link    *link // the connection to the writer, while another instance is
	closing bool
	stop    chan struct{}
	elected sync.WaitGroup

	failing  bool // the last commit failed: logged once until one succeeds
	failMu   sync.Mutex
	accepted sync.WaitGroup

	writing chan struct{} // closed when this instance becomes the writer
}

func startWriter(s *Store) (*writer, error) {
	w := &writer{s: s, sockPath: s.path + "-writer.sock", conns: map[*peerConn]bool{}, stop: make(chan struct{}), log: s.opt.Logger,
		writing: make(chan struct{})}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	var err error
	if w.lockFile, err = os.OpenFile(s.path+"-writer", os.O_RDWR|os.O_CREATE, 0o600); err != nil {
		return nil, fmt.Errorf("the writer's lock file: %w", err)
	}
	w.dialPath = w.sockPath
	if len(w.sockPath) > 100 {
		// Past the 108 bytes of a socket address: reach the folder through
		// a descriptor of it.
		if w.dirFile, err = os.Open(filepath.Dir(w.sockPath)); err != nil {
			w.lockFile.Close()
			return nil, err
		}
		w.dialPath = "/proc/self/fd/" + strconv.Itoa(int(w.dirFile.Fd())) + "/" + filepath.Base(w.sockPath)
	}
	s.writer = w // before lead: the committer reports to it
	got, err := w.tryLock()
	if err != nil {
		w.closeFiles()
		return nil, err
	}
	if got {
		if err := w.lead(); err != nil {
			w.closeFiles()
			return nil, err
		}
		return w, nil
	}
	w.elected.Add(1)
	go w.elect()
	return w, nil
}

func (w *writer) tryLock() (bool, error) {
	err := syscall.Flock(int(w.lockFile.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, syscall.EWOULDBLOCK):
		return false, nil
	}
	return false, fmt.Errorf("the writer's lock: %w", err)
}

// elect waits to become the writer, trying the lock now and then, until
// it gets it or the store closes.
func (w *writer) elect() {
	defer w.elected.Done()
	t := time.NewTicker(electEvery)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
		}
		got, err := w.tryLock()
		if err != nil {
			w.log.Error("sqlite: trying the writer's lock", "err", err)
			continue
		}
		if !got {
			continue
		}
		if err := w.lead(); err != nil {
			// Cannot write the file: let another instance try.
			w.log.Error("sqlite: cannot become the writer", "err", err)
			syscall.Flock(int(w.lockFile.Fd()), syscall.LOCK_UN)
			continue
		}
		return
	}
}

// lead makes this instance the writer: the committer, and the socket the
// others send their writes to.
func (w *writer) lead() error {
	c, err := newCommitter(w.s, w.log)
	if err != nil {
		return err
	}
	// The change sequence file may lag the log after a writer crashed
	// between a commit and its store.
	if last, err := w.s.lastSeq(context.Background()); err == nil {
		w.s.seq.store(last)
	}
	os.Remove(w.sockPath) // whoever made it is gone: we hold the lock
	ln, err := net.Listen("unix", w.dialPath)
	if err != nil {
		c.stop()
		return fmt.Errorf("the writer's socket: %w", err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	if err := os.Chmod(w.sockPath, 0o600); err != nil {
		ln.Close()
		c.stop()
		return err
	}
	w.mu.Lock()
	if w.closing {
		w.mu.Unlock()
		ln.Close()
		c.stop()
		return errors.New("closing")
	}
	w.c, w.ln = c, ln
	w.mu.Unlock()
	w.accepted.Add(1)
	go w.accept(ln)
	w.log.Info("sqlite: this instance writes the database", "path", w.s.path)
	close(w.writing) // once: a writer stays one until it closes
	return nil
}

// leading reports whether this instance writes the database.
func (w *writer) leading() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.c != nil && !w.closing
}

// do sends a write to the writer, this instance or another, and waits for
// its answer.
func (w *writer) do(ctx context.Context, o *op) result {
	ch := make(chan result, 1)
	o.ctx = ctx
	o.done = func(r result) { ch <- r }
	w.send(o, time.Now().Add(w.s.opt.WriteTimeout))
	if o.deadline == 0 { // this instance's committer has it, or it failed
		return <-ch
	}
	grace := answerGrace
	if o.kind == opImport {
		grace = importGrace
	}
	t := time.NewTimer(time.Duration(o.deadline-monotonic()) + grace)
	defer t.Stop()
	select {
	case r := <-ch:
		return r
	case <-t.C:
	}
	o.abandoned.Store(true)
	select {
	case r := <-ch: // just now
		return r
	default:
		return resultOf(errNoAnswer)
	}
}

// send routes a write: to the committer when this instance writes, else
// over the link to the writer, connecting it first when needed. A write
// that cannot reach a writer by deadline fails as unavailable; one that
// was sent is answered, by the writer or, if the link breaks, after it is
// sent again.
func (w *writer) send(o *op, deadline time.Time) {
	for {
		w.mu.Lock()
		if w.c != nil && !w.closing {
			w.c.submit(o)
			w.mu.Unlock()
			return
		}
		if w.closing {
			w.mu.Unlock()
			o.done(resultOf(errClosed()))
			return
		}
		l := w.link
		w.mu.Unlock()
		if l != nil {
			if o.deadline == 0 {
				o.deadline = monotonic() + int64(time.Until(deadline))
			}
			if l.send(o) {
				return
			}
			w.dropLink(l)
		}
		if time.Now().After(deadline) {
			o.done(resultOf(farm.Errorf(farm.EUNAVAILABLE, "no instance writes the database: the writer did not answer")))
			return
		}
		if err := w.connect(); err != nil {
			time.Sleep(5 * time.Millisecond) // the writer is being elected
		}
	}
}

// connect links this instance to the writer.
func (w *writer) connect() error {
	conn, err := net.DialTimeout("unix", w.dialPath, time.Second)
	if err != nil {
		return err
	}
	l := &link{w: w, conn: conn, bw: bufio.NewWriter(conn), pending: map[uint64]*op{}}
	w.mu.Lock()
	if w.link != nil || w.c != nil || w.closing {
		w.mu.Unlock()
		conn.Close()
		return nil
	}
	w.link = l
	w.mu.Unlock()
	w.log.Debug("sqlite: sending writes to the writer", "socket", w.sockPath)
	go l.read()
	return nil
}

func (w *writer) dropLink(l *link) {
	w.mu.Lock()
	if w.link == l {
		w.link = nil
	}
	w.mu.Unlock()
}

// noteError logs a failing writer once, when its commits start to fail,
// and once when they work again: an outage is two lines, not one a write.
func (w *writer) noteError(err error) {
	w.failMu.Lock()
	defer w.failMu.Unlock()
	switch {
	case err != nil && !w.failing:
		w.failing = true
		w.log.Error("sqlite: writes fail", "err", err)
	case err == nil && w.failing:
		w.failing = false
		w.log.Info("sqlite: writes work again")
	}
}

// close gives the writing up, or leaves the writer: see the package
// comment.
func (w *writer) close() error {
	w.mu.Lock()
	if w.closing {
		w.mu.Unlock()
		return nil
	}
	w.closing = true
	close(w.stop)
	c, ln, l := w.c, w.ln, w.link
	conns := make([]*peerConn, 0, len(w.conns))
	for pc := range w.conns {
		conns = append(conns, pc)
	}
	w.mu.Unlock()
	w.elected.Wait()
	var errs []error
	if ln != nil {
		ln.Close()
		w.accepted.Wait()
		if cur, err := os.Lstat(w.sockPath); err == nil && cur.Mode()&os.ModeSocket != 0 {
			os.Remove(w.sockPath) // ours: we still hold the lock
		}
	}
	for _, pc := range conns {
		pc.stopReading()
	}
	if c != nil {
		errs = append(errs, c.stop()) // commits and answers what was read
	}
	for _, pc := range conns {
		pc.close()
	}
	if l != nil {
		l.conn.Close()
	}
	w.closeFiles() // gives the lock up
	return errors.Join(errs...)
}

func (w *writer) closeFiles() {
	w.lockFile.Close()
	if w.dirFile != nil {
		w.dirFile.Close()
	}
}

// The wire format between an instance and the writer: frames of a
// little-endian uint32 length and that many bytes. A write: its number
// (uvarint), kind, retry (a byte each), then the strings id, species, sex,
// name, dob, new revision and expected revision, each a uvarint length and
// its bytes, then its deadline (uvarint; last, so that a writer of the
// version before, which had none, reads the rest). An answer: the write's number, the change's sequence
// (uvarints), the error code and message (strings). Both ends are the same
// program; a frame that does not parse ends the connection.

const maxFrame = 16 << 20 // an import batch of a few thousand records fits

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func readString(b []byte) (string, []byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return "", nil, errors.New("malformed frame")
	}
	return string(b[k : k+int(n)]), b[k+int(n):], nil
}

func encodeOp(b []byte, id uint64, o *op) []byte {
	b = binary.AppendUvarint(b, id)
	retry := byte(0)
	if o.retry {
		retry = 1
	}
	b = append(b, byte(o.kind), retry)
	if o.kind == opImport {
		b = append(b, byte(o.mode))
		b = binary.AppendUvarint(b, uint64(len(o.batch)))
		for i := range o.batch {
			a := &o.batch[i]
			for _, s := range [...]string{a.ID, a.Species, a.Sex, a.Name, a.DOB, a.Rev} {
				b = appendString(b, s)
			}
		}
		return binary.AppendUvarint(b, uint64(o.deadline))
	}
	for _, s := range [...]string{o.a.ID, o.a.Species, o.a.Sex, o.a.Name, o.a.DOB, o.a.Rev, o.rev} {
		b = appendString(b, s)
	}
	return binary.AppendUvarint(b, uint64(o.deadline))
}

// readDeadline reads the deadline that ends a write's frame, if any.
func readDeadline(b []byte, o *op) error {
	if len(b) == 0 {
		return nil
	}
	d, k := binary.Uvarint(b)
	if k <= 0 || d > math.MaxInt64 {
		return errors.New("malformed frame")
	}
	// What may follow is a later version's: this one reads no further.
	o.deadline = int64(d)
	return nil
}

func decodeOp(b []byte) (uint64, *op, error) {
	id, k := binary.Uvarint(b)
	if k <= 0 || len(b) < k+2 {
		return 0, nil, errors.New("malformed frame")
	}
	o := &op{kind: opKind(b[k]), retry: b[k+1] == 1}
	b = b[k+2:]
	var err error
	if o.kind == opImport {
		if len(b) < 1 {
			return 0, nil, errors.New("malformed frame")
		}
		o.mode = farm.ImportMode(b[0])
		n, k := binary.Uvarint(b[1:])
		if k <= 0 || n > maxFrame {
			return 0, nil, errors.New("malformed frame")
		}
		b = b[1+k:]
		o.batch = make([]farm.Animal, n)
		for i := range o.batch {
			a := &o.batch[i]
			for _, dst := range [...]*string{&a.ID, &a.Species, &a.Sex, &a.Name, &a.DOB, &a.Rev} {
				if *dst, b, err = readString(b); err != nil {
					return 0, nil, err
				}
			}
		}
		return id, o, readDeadline(b, o)
	}
	for _, dst := range [...]*string{&o.a.ID, &o.a.Species, &o.a.Sex, &o.a.Name, &o.a.DOB, &o.a.Rev, &o.rev} {
		if *dst, b, err = readString(b); err != nil {
			return 0, nil, err
		}
	}
	return id, o, readDeadline(b, o)
}

func encodeResult(b []byte, id uint64, r result) []byte {
	b = binary.AppendUvarint(b, id)
	b = binary.AppendUvarint(b, uint64(r.seq))
	b = appendString(appendString(b, r.code), r.msg)
	outcomes := make([]byte, len(r.outcomes))
	for i, o := range r.outcomes {
		outcomes[i] = byte(o)
	}
	return appendString(b, string(outcomes))
}

func decodeResult(b []byte) (uint64, result, error) {
	id, k := binary.Uvarint(b)
	if k <= 0 {
		return 0, result{}, errors.New("malformed frame")
	}
	seq, k2 := binary.Uvarint(b[k:])
	if k2 <= 0 {
		return 0, result{}, errors.New("malformed frame")
	}
	r := result{seq: int64(seq)}
	var err error
	rest := b[k+k2:]
	if r.code, rest, err = readString(rest); err != nil {
		return 0, result{}, err
	}
	if r.msg, rest, err = readString(rest); err != nil {
		return 0, result{}, err
	}
	outcomes, _, err := readString(rest)
	if err != nil {
		return 0, result{}, err
	}
	if len(outcomes) > 0 {
		r.outcomes = make([]farm.ImportOutcome, len(outcomes))
		for i := range outcomes {
			r.outcomes[i] = farm.ImportOutcome(outcomes[i])
		}
	}
	return id, r, nil
}

func writeFrame(bw *bufio.Writer, payload []byte) error {
	var h [4]byte
	binary.LittleEndian.PutUint32(h[:], uint32(len(payload)))
	bw.Write(h[:])
	_, err := bw.Write(payload)
	return err
}

func readFrame(br *bufio.Reader, buf []byte) ([]byte, error) {
	var h [4]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return nil, err
	}
	n := binary.LittleEndian.Uint32(h[:])
	if n > maxFrame {
		return nil, fmt.Errorf("frame of %d bytes", n)
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	_, err := io.ReadFull(br, buf)
	return buf, err
}

// link is a follower's connection to the writer: writes go out as they
// come, answers come back in commit order, matched by number.
type link struct {
	w    *writer
	conn net.Conn

	mu      sync.Mutex // the writes waiting for answers
	next    uint64
	pending map[uint64]*op
	broken  bool

	wmu sync.Mutex // the connection's write side: the reader never waits for it
	bw  *bufio.Writer
	buf []byte
}

// send sends o; false when the link is broken (o was not taken). o is
// encoded before the reader can see it: once pending, a broken link's
// reader may mark it retry and send it elsewhere.
func (l *link) send(o *op) bool {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.mu.Lock()
	if l.broken {
		l.mu.Unlock()
		return false
	}
	l.next++
	id := l.next
	l.mu.Unlock()
	l.buf = encodeOp(l.buf[:0], id, o)
	l.mu.Lock()
	if l.broken {
		l.mu.Unlock()
		return false
	}
	l.pending[id] = o
	l.mu.Unlock()
	// A writer that stopped reading (stopped, stuck) fills the socket's
	// buffer: a send waits no longer than a write's time, nor do the
	// sends behind it on this link. (Not the write's own deadline: a
	// write sent again after it would fail at once, and be sent again.)
	l.conn.SetWriteDeadline(time.Now().Add(l.w.s.opt.WriteTimeout))
	if writeFrame(l.bw, l.buf) != nil || l.bw.Flush() != nil {
		// The reader sees the broken connection too, and sends o again:
		// a writer refuses it past its deadline, unless it finds it
		// written already (write.go).
		l.conn.Close()
	}
	return true
}

// read dispatches the answers, until the connection ends; then it sends
// again what was not answered, marked retry, through whatever writer
// there is now.
func (l *link) read() {
	br := bufio.NewReader(l.conn)
	var buf []byte
	for {
		frame, err := readFrame(br, buf)
		if err != nil {
			break
		}
		buf = frame
		id, r, err := decodeResult(frame)
		if err != nil {
			break
		}
		l.mu.Lock()
		o := l.pending[id]
		delete(l.pending, id)
		l.mu.Unlock()
		if o != nil {
			o.done(r)
		}
	}
	l.conn.Close()
	l.mu.Lock()
	l.broken = true
	pending := l.pending
	l.pending = nil
	l.mu.Unlock()
	l.w.dropLink(l)
	deadline := time.Now().Add(l.w.s.opt.WriteTimeout)
	for _, o := range pending {
		if o.abandoned.Load() {
			continue // its client has its answer; past its deadline anyway
		}
		o.retry = true
		go l.w.send(o, deadline)
	}
}

// peerConn is the writer's end of a follower's link.
type peerConn struct {
	w    *writer
	conn net.Conn

	mu     sync.Mutex
	bw     *bufio.Writer
	buf    []byte
	flush  chan struct{}
	done   chan struct{}
	reads  sync.WaitGroup
	closed bool
}

func (w *writer) accept(ln net.Listener) {
	defer w.accepted.Done()
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		pc := &peerConn{w: w, conn: conn, bw: bufio.NewWriter(conn), flush: make(chan struct{}, 1), done: make(chan struct{})}
		w.mu.Lock()
		if w.closing {
			w.mu.Unlock()
			conn.Close()
			return
		}
		w.conns[pc] = true
		w.mu.Unlock()
		pc.reads.Add(1)
		go pc.read()
		go pc.flusher()
	}
}

// read takes the follower's writes to the committer.
func (pc *peerConn) read() {
	defer pc.reads.Done()
	br := bufio.NewReader(pc.conn)
	var buf []byte
	for {
		frame, err := readFrame(br, buf)
		if err != nil {
			break
		}
		buf = frame
		id, o, err := decodeOp(frame)
		if err != nil {
			break
		}
		o.ctx = context.Background()
		o.done = func(r result) { pc.answer(id, r) }
		o.peer, o.peerID = pc, id
		pc.w.mu.Lock()
		c, closing := pc.w.c, pc.w.closing
		pc.w.mu.Unlock()
		if c == nil || closing {
			return // the writer's close ends the connection
		}
		c.submit(o)
	}
	// The follower went away (or sent a frame that does not parse): what
	// it sent is answered into the void.
	pc.w.mu.Lock()
	closing := pc.w.closing
	delete(pc.w.conns, pc)
	pc.w.mu.Unlock()
	if !closing {
		pc.close()
	}
}

// answer queues an answer; the flusher sends the answers queued together
// in one write. (A committed batch's are queued and sent by the committer
// itself: queue, send.)
func (pc *peerConn) answer(id uint64, r result) {
	pc.queue(id, r)
	select {
	case pc.flush <- struct{}{}:
	default:
	}
}

// queue adds an answer to those to send.
func (pc *peerConn) queue(id uint64, r result) {
	pc.mu.Lock()
	if !pc.closed {
		pc.buf = encodeResult(pc.buf[:0], id, r)
		writeFrame(pc.bw, pc.buf)
	}
	pc.mu.Unlock()
}

// send sends the answers queued.
func (pc *peerConn) send() {
	pc.mu.Lock()
	if !pc.closed {
		if err := pc.bw.Flush(); err != nil {
			pc.conn.Close()
		}
	}
	pc.mu.Unlock()
}

func (pc *peerConn) flusher() {
	for {
		select {
		case <-pc.done:
			return
		case <-pc.flush:
		}
		pc.send()
	}
}

// stopReading takes no more writes from the follower: those it sent and
// this writer did not read are sent again to the next writer.
func (pc *peerConn) stopReading() {
	if uc, ok := pc.conn.(*net.UnixConn); ok {
		uc.CloseRead()
	}
	pc.reads.Wait()
}

// close sends what is left and ends the connection.
func (pc *peerConn) close() {
	pc.mu.Lock()
	if pc.closed {
		pc.mu.Unlock()
		return
	}
	pc.bw.Flush()
	pc.closed = true
	pc.mu.Unlock()
	close(pc.done)
	pc.conn.Close()
}
