package farm

import (
	"os"
	"runtime"
	"runtime/debug"
	"time"
)

// version is stamped at build time by scripts/build.sh:
//
//	go build -ldflags "-X github.com/farmhq/farm.version=2026.11.28" ./cmd/farm
var version string

// revision is stamped beside version when the build knows its commit.
var revision string

// VersionLayout is the shape of a farm version: the release date.
const VersionLayout = "2006.01.02"

// Build describes the running binary.
type Build struct {
	Version   string // YYYY.MM.DD
	Revision  string // VCS revision, when known
	GoVersion string
}

// ReadBuild returns the build facts. The version is the stamped one; a
// binary built without the stamp falls back to its commit date (when the
// toolchain recorded VCS facts) and then to the date the executable was
// written, so it is always a date.
func ReadBuild() Build {
	b := Build{Version: version, Revision: revision, GoVersion: runtime.Version()}
	var vcsTime string
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				if b.Revision == "" {
					b.Revision = s.Value
				}
			case "vcs.time":
				vcsTime = s.Value
			}
		}
	}
	if b.Version != "" {
		return b
	}
	if t, err := time.Parse(time.RFC3339, vcsTime); err == nil {
		b.Version = t.UTC().Format(VersionLayout)
		return b
	}
	t := time.Now()
	if exe, err := os.Executable(); err == nil {
		if fi, err := os.Stat(exe); err == nil {
			t = fi.ModTime()
		}
	}
	b.Version = t.UTC().Format(VersionLayout)
	return b
}
