package main

import (
	"context"
	"io"
	"log/slog"
	"regexp"
	"strings"
)

// newLogger returns the service logger. Its handler redacts, by
// construction, attribute values that look like secrets, so a token that
// reaches a log line by mistake is still not written.
func newLogger(cfg *Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel, ReplaceAttr: durationAsText}
	var h slog.Handler
	if cfg.LogJSON {
		h = slog.NewJSONHandler(w, opts)
	} else {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(&redactingHandler{next: h})
}

// secretKeys are attribute keys whose values are always redacted.
var secretKeys = map[string]bool{
	"token": true, "access_token": true, "refresh_token": true, "id_token": true, "code": true,
	"code_verifier": true, "verifier": true, "client_secret": true, "secret": true, "authorization": true,
	"password": true, "jwt": true, "state": true,
}

// secretPattern matches JWTs and bearer credentials inside free text.
var secretPattern = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*|(?i)bearer\s+[A-Za-z0-9._~+/=-]{8,}`)

const redacted = "[REDACTED]"

// redactingHandler removes secrets from records before the next handler.
type redactingHandler struct {
	next slog.Handler
}

func (h *redactingHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *redactingHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, redactText(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redactAttr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h *redactingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	clean := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		clean[i] = redactAttr(a)
	}
	return &redactingHandler{next: h.next.WithAttrs(clean)}
}

func (h *redactingHandler) WithGroup(name string) slog.Handler {
	return &redactingHandler{next: h.next.WithGroup(name)}
}

func redactAttr(a slog.Attr) slog.Attr {
	if secretKeys[strings.ToLower(a.Key)] {
		return slog.String(a.Key, redacted)
	}
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindGroup:
		attrs := v.Group()
		clean := make([]any, len(attrs))
		for i, g := range attrs {
			clean[i] = redactAttr(g)
		}
		return slog.Group(a.Key, clean...)
	case slog.KindString:
		return slog.String(a.Key, redactText(v.String()))
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			return slog.String(a.Key, redactText(err.Error()))
		}
		return slog.String(a.Key, redactText(v.String()))
	}
	return slog.Attr{Key: a.Key, Value: v}
}

func redactText(s string) string {
	return secretPattern.ReplaceAllString(s, redacted)
}

// durationAsText writes durations as "1.5s" instead of nanoseconds, so a
// reader of the JSON log gets the unit.
func durationAsText(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		return slog.String(a.Key, a.Value.Duration().String())
	}
	return a
}
