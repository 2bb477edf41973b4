package cli

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// isTerminal reports whether w is a terminal: a progress bar goes there,
// and to anything else (a log, a pipe) plain lines.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progress shows how far a long command is: a bar on a terminal (count,
// rate, and the time left when the total is known), else a plain line
// every few seconds.
type progress struct {
	w     io.Writer
	what  string
	total int64
	bar   *progressbar.ProgressBar
	start time.Time
	last  time.Time
}

// newProgress counts in units of what ("records"); total is -1 when it is
// not known.
func newProgress(w io.Writer, what string, total int64) *progress {
	p := &progress{w: w, what: what, total: total, start: time.Now()}
	p.last = p.start
	if isTerminal(w) {
		p.bar = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(what),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString(what),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSetPredictTime(total > 0),
			progressbar.OptionClearOnFinish(),
		)
	}
	return p
}

// set records that n are done.
func (p *progress) set(n int64) {
	if p.bar != nil {
		p.bar.Set64(n)
		return
	}
	if now := time.Now(); now.Sub(p.last) >= 5*time.Second {
		p.last = now
		rate := float64(n) / now.Sub(p.start).Seconds()
		if p.total > 0 {
			fmt.Fprintf(p.w, "%d of %d %s (%.0f/s)\n", n, p.total, p.what, rate)
		} else {
			fmt.Fprintf(p.w, "%d %s (%.0f/s)\n", n, p.what, rate)
		}
	}
}

// note tells a step of the command on a line of its own.
func (p *progress) note(msg string) {
	if p.bar != nil {
		p.bar.Clear()
	}
	fmt.Fprintln(p.w, msg)
}

func (p *progress) finish() {
	if p.bar != nil {
		p.bar.Finish()
	}
}
