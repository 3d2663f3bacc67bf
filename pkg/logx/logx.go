// Package logx builds the structured logger every Marquee binary uses.
package logx

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// New returns a text logger on w at the named level (debug, info, warn or error; "" means info).
func New(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.TrimSpace(level))); level != "" && err != nil {
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}
