package http

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// listenUnix listens on a unix socket at path with the given file mode. A
// socket file left by a process that died is replaced; one that a live
// process answers on is an error, as is any other kind of file there.
//
// The socket is bound under a temporary name, given its mode, and only then
// renamed into place: no one ever finds the path holding a socket with the
// umask's mode, or no socket between a stale one's removal and the bind.
func listenUnix(path string, mode os.FileMode) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("%s exists and is not a socket", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("%s is in use: another process answers on it", path)
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, err
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+"."+strconv.Itoa(os.Getpid()))
	os.Remove(tmp) // left by a crash of a process with this pid
	ln, err := net.Listen("unix", tmp)
	if err != nil {
		return nil, err
	}
	// The file is removed by removeSocket, and only while it is still
	// this listener's: a successor may have bound the path already.
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	// NGINX's workers, which do not run as farm's user, need the
	// configured mode, not the umask's.
	if err := os.Chmod(tmp, mode); err != nil {
		ln.Close()
		os.Remove(tmp)
		return nil, err
	}
	if err := os.Rename(tmp, path); err != nil {
		ln.Close()
		os.Remove(tmp)
		return nil, err
	}
	return ln, nil
}

// removeSocket removes a unix socket's file if it is still the one that
// was made at startup (fi).
func removeSocket(path string, fi os.FileInfo) {
	if cur, err := os.Lstat(path); err == nil && fi != nil && os.SameFile(cur, fi) {
		os.Remove(path)
	}
}
