// Package static holds farm's web content. farm embeds it and serves it
// when it runs alone; in production NGINX serves this same folder.
package static

import (
	"embed"
	"io/fs"
)

//go:embed *.html *.css *.js *.svg
var files embed.FS

// Files returns the embedded web content.
func Files() fs.FS { return files }
