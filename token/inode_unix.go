//go:build unix

package token

import (
	"os"
	"syscall"
)

// inode tells a file replaced by a rename (how editors save) from the one
// before it, whatever their times and sizes.
func inode(info os.FileInfo) uint64 {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino)
	}
	return 0
}
