// Package token decides who may write: the bearer tokens of a token file
// (WRITE_TOKEN_FILE), one a line, reread when the file changes, so that a
// token is added (rotation: a second line), or removed (revocation),
// without a restart.
package token

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// MinLength is the length a token must have at least: a token is a
// password no one types, so it can be long.
const MinLength = 16

// recheck is how often at most the file is looked at again for changes.
const recheck = time.Second

// File is the set of tokens of a token file.
type File struct {
	path    string
	logger  *slog.Logger
	recheck time.Duration

	sums    atomic.Pointer[[][sha256.Size]byte] // of the tokens; none: no write is allowed
	checked atomic.Int64                        // when the file was last looked at, unix nanoseconds

	mu    sync.Mutex // one reload at a time
	stamp stamp      // the file as last read
	err   string     // the last reload's problem, logged once
}

// stamp tells whether a file changed since it was read.
type stamp struct {
	mod  time.Time
	size int64
	ino  uint64
}

// Open reads the token file at path. It is an error for the file to be
// missing, unreadable, or to hold no token: a farm configured to protect
// its writes never starts with them open.
func Open(path string, logger *slog.Logger) (*File, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	f := &File{path: path, logger: logger, recheck: recheck}
	st, sums, err := read(path)
	if err != nil {
		return nil, err
	}
	if st.mode&0o077 != 0 {
		logger.Warn("token: the write token file can be read by other users: chmod 600 it", "path", path, "mode", fmt.Sprintf("%04o", st.mode))
	}
	f.stamp = st.stamp
	f.sums.Store(&sums)
	f.checked.Store(time.Now().UnixNano())
	return f, nil
}

// Allows reports whether presented is one of the tokens. The comparison
// takes the same time whichever token matches, or how much of one: the
// hashes of presented and of every token are compared in constant time.
func (f *File) Allows(presented string) bool {
	f.refresh()
	if presented == "" {
		return false
	}
	sum := sha256.Sum256([]byte(presented))
	ok := 0
	for _, s := range *f.sums.Load() {
		ok |= subtle.ConstantTimeCompare(sum[:], s[:])
	}
	return ok == 1
}

// refresh rereads the file when it changed, looking at most once every
// recheck. A file that went missing, unreadable or empty allows no write
// (revoking every token is deleting the file); the problem is logged once.
func (f *File) refresh() {
	now := time.Now().UnixNano()
	if now-f.checked.Load() < int64(f.recheck) || !f.mu.TryLock() {
		return
	}
	defer f.mu.Unlock()
	f.checked.Store(now)
	st, err := statFile(f.path)
	if err == nil && st.stamp == f.stamp {
		return
	}
	var sums [][sha256.Size]byte
	if err == nil {
		st, sums, err = read(f.path)
	}
	if err != nil {
		empty := [][sha256.Size]byte{}
		f.sums.Store(&empty)
		f.stamp = stamp{}
		if msg := err.Error(); msg != f.err {
			f.err = msg
			f.logger.Error("token: no write is allowed until the write token file is fixed", "err", err)
		}
		return
	}
	f.sums.Store(&sums)
	f.stamp, f.err = st.stamp, ""
	f.logger.Info("token: write tokens reread", "path", f.path, "tokens", len(sums))
}

type fileState struct {
	stamp
	mode os.FileMode
}

func statFile(path string) (fileState, error) {
	info, err := os.Stat(path)
	if err != nil {
		return fileState{}, err
	}
	return fileState{stamp{info.ModTime(), info.Size(), inode(info)}, info.Mode().Perm()}, nil
}

// read reads and checks a token file.
func read(path string) (fileState, [][sha256.Size]byte, error) {
	st, err := statFile(path)
	if err != nil {
		return st, nil, fmt.Errorf("write token file: %w", err)
	}
	tokens, err := ReadFile(path)
	if err != nil {
		return st, nil, err
	}
	sums := make([][sha256.Size]byte, len(tokens))
	for i, t := range tokens {
		sums[i] = sha256.Sum256([]byte(t))
	}
	return st, sums, nil
}

// ReadFile returns the tokens of a token file: one a line, blank lines and
// lines starting with # skipped, surrounding spaces dropped. A line that
// is not a token (too short, or with a space or a control character in
// it) is an error naming the line, without showing it.
func ReadFile(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("write token file: %w", err)
	}
	var tokens []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if err := check(line); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, n, err)
		}
		tokens = append(tokens, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("write token file %s: %w", path, err)
	}
	if len(tokens) == 0 {
		return nil, fmt.Errorf("write token file %s holds no token (one a line; farm_start.sh makes one, or: openssl rand -hex 32 > %s)", path, path)
	}
	return tokens, nil
}

// First is the first token of a token file: the one a client sends.
func First(path string) (string, error) {
	tokens, err := ReadFile(path)
	if err != nil {
		return "", err
	}
	return tokens[0], nil
}

var errShort = fmt.Errorf("a token has at least %d characters", MinLength)

func check(t string) error {
	if len(t) < MinLength {
		return errShort
	}
	for i := 0; i < len(t); i++ {
		if c := t[i]; c <= ' ' || c >= 0x7f {
			return errors.New("a token is printable ASCII without spaces")
		}
	}
	return nil
}

// New returns a new token: 32 random bytes in hex.
func New() string {
	var b [32]byte
	rand.Read(b[:]) // never fails (crypto/rand's contract since Go 1.24)
	return hex.EncodeToString(b[:])
}
