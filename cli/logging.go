package cli

import (
	"io"
	"log/slog"

	"github.com/farmhq/farm/config"
)

// levelCritical sits above slog's ERROR, for the original's CRITICAL.
const levelCritical = slog.Level(12)

// newLogger builds the process's logger from LOGGING_LEVEL and LOG_FORMAT.
// Level names are the original farm's (Python's logging).
func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	level := map[string]slog.Level{
		"CRITICAL": levelCritical,
		"ERROR":    slog.LevelError,
		"WARNING":  slog.LevelWarn,
		"INFO":     slog.LevelInfo,
		"DEBUG":    slog.LevelDebug,
	}[cfg.LogLevel]
	opts := &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.LevelKey && len(groups) == 0 {
				if l, ok := a.Value.Any().(slog.Level); ok && l >= levelCritical {
					return slog.String(slog.LevelKey, "CRITICAL")
				}
			}
			return a
		},
	}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
