package sqlite

import (
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
type seqFile struct {
	mem []byte
	v   *atomic.Int64
}

const seqFileSize = 4096

func openSeqFile(path string) (*seqFile, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
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
	return &seqFile{mem: mem, v: (*atomic.Int64)(unsafe.Pointer(&mem[0]))}, nil
}

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

// close leaves the mapping in place: a read racing with Close must find
// memory there, and 4 KiB until the process ends costs nothing.
func (f *seqFile) close() error { return nil }
