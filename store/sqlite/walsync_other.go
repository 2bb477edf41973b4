//go:build !(linux && (amd64 || arm64 || loong64 || ppc64le || riscv64))

package sqlite

import "errors"

// walSync is Linux's (walsync_aio.go): elsewhere SQLite syncs the WAL
// itself, in its commit.
type walSync struct{}

func openWALSync(string) (*walSync, error) {
	return nil, errors.New("no asynchronous sync on this system")
}

func (*walSync) sync() error  { return nil }
func (*walSync) close() error { return nil }
