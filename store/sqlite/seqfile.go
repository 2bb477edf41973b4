package sqlite

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// seqFile is the sequence of the last committed change, shared by every
// process that opens the database through a small file mapped into each
// one's memory: the writer stores it after each commit, before answering;
// any instance loads it in a few nanoseconds to learn whether something
// changed since it last looked, without a query. It is a hint that makes
// the caches cheap, never the truth: the change log in the database is.
//
// The file also says who has the database open: every store holds a
// shared flock(2) on it while open, and a bulk load (bulk.go) holds it
// exclusively, which it can take only when no other store, in any
// process, has the database open. flock, not fcntl: SQLite's own locks on
// the database are fcntl's, and the two never meet.
//
// Its second word is the writer's request that readers hold no snapshot
// between reads (lookup.go): while it is set, the WAL can be restarted.
type seqFile struct {
	f    *os.File
	mem  []byte
	v    *atomic.Int64
	hold *atomic.Int64
}

const seqFileSize = 4096

func openSeqFile(path string) (*seqFile, error) {
	// The lock on a descriptor of its own: the mapping keeps its
	// descriptor's open file alive, and the lock with it, until the
	// process ends.
	lf, err := shareSeqFile(path)
	if err != nil {
		return nil, err
	}
	mem, err := mapSeqFile(path)
	if err != nil {
		lf.Close()
		return nil, err
	}
	return &seqFile{f: lf, mem: mem, v: (*atomic.Int64)(unsafe.Pointer(&mem[0])), hold: (*atomic.Int64)(unsafe.Pointer(&mem[8]))}, nil
}

// shareSeqFile opens the sequence file at path and takes its shared lock:
// the database is in use, and no bulk load may start. Refused while one
// runs: a database in a bulk load is half-built (no indexes).
func shareSeqFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("the change sequence file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errBulkLoading
		}
		return nil, fmt.Errorf("the change sequence file's lock: %w", err)
	}
	return f, nil
}

func mapSeqFile(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("the change sequence file: %w", err)
	}
	defer f.Close() // the mapping outlives the descriptor
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() < seqFileSize {
		if err := f.Truncate(seqFileSize); err != nil {
			return nil, fmt.Errorf("the change sequence file: %w", err)
		}
	}
	mem, err := syscall.Mmap(int(f.Fd()), 0, seqFileSize, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mapping the change sequence file: %w", err)
	}
	return mem, nil
}

// errBulkLoading is a database that a bulk load holds.
var errBulkLoading = errors.New("farm import is loading it in bulk (its indexes are built at the end, and nothing else may open it until then): wait for the import to finish")

// alone turns this store's shared lock into the exclusive one, when no
// other store has the database open. Linux drops the shared lock before
// it tries (flock(2): conversion is not atomic); when the exclusive one
// is refused, the shared one is taken again, waiting if need be.
func (f *seqFile) alone() (bool, error) {
	err := syscall.Flock(int(f.f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, syscall.EWOULDBLOCK):
		return false, syscall.Flock(int(f.f.Fd()), syscall.LOCK_SH)
	}
	return false, err
}

// share turns the exclusive lock back into a shared one.
func (f *seqFile) share() error { return syscall.Flock(int(f.f.Fd()), syscall.LOCK_SH) }

// load returns the sequence of the last change committed by any instance
// (as far as the writers have told).
func (f *seqFile) load() int64 { return f.v.Load() }

// store raises the sequence to seq; it never goes back.
func (f *seqFile) store(seq int64) {
	for {
		cur := f.v.Load()
		if seq <= cur || f.v.CompareAndSwap(cur, seq) {
			return
		}
	}
}

// holding reports whether the writer asks readers to hold no snapshot.
func (f *seqFile) holding() bool { return f.hold.Load() != 0 }

// setHold sets or clears that request.
func (f *seqFile) setHold(on bool) {
	var v int64
	if on {
		v = 1
	}
	f.hold.Store(v)
}

// close gives the lock up and leaves the mapping in place: a read racing
// with Close must find memory there, and 4 KiB until the process ends
// costs nothing.
func (f *seqFile) close() error { return f.f.Close() }
