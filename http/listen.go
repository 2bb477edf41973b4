package http

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
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
	ln, err := listenBacklog(tmp, socketBacklog)
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

// socketBacklog is how many connections a unix socket holds before farm
// accepts them. Small on purpose: NGINX's requests to an instance that
// stopped accepting (frozen, or overloaded) fail at connect once it is
// full, and go to another instance at once, instead of waiting in a
// queue nobody reads for a read timeout each. Far more than the
// connections in flight to a healthy instance.
const socketBacklog = 64

// listenBacklog listens on a unix socket with the given backlog (net.Listen
// takes the system's, thousands).
func listenBacklog(path string, backlog int) (net.Listener, error) {
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: path}); err != nil {
		syscall.Close(fd)
		return nil, &net.OpError{Op: "listen", Net: "unix", Addr: &net.UnixAddr{Name: path, Net: "unix"}, Err: err}
	}
	if err := syscall.Listen(fd, backlog); err != nil {
		syscall.Close(fd)
		os.Remove(path)
		return nil, os.NewSyscallError("listen", err)
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close() // FileListener holds its own descriptor
	ln, err := net.FileListener(f)
	if err != nil {
		os.Remove(path)
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
