package logsink

import (
	"fmt"
	"log/slog"
	"strconv"
	"unicode/utf8"
)

// MaxValue bounds each logged value, in bytes: request data (a path, a
// header, an error quoting either) is the client's to choose, and one
// request must not write a megabyte line.
const MaxValue = 1 << 10

// maxMessage bounds a message. Messages are event names, except the lines
// net/http logs through ErrorLog, whose panic stack traces are worth
// keeping whole.
const maxMessage = 64 << 10

// Shorten is a slog.HandlerOptions.ReplaceAttr that cuts strings, errors
// and Stringers longer than MaxValue, saying how much was cut. Values that
// fit cost one length check.
func Shorten(groups []string, a slog.Attr) slog.Attr {
	limit := MaxValue
	if len(groups) == 0 {
		switch a.Key {
		case slog.MessageKey:
			limit = maxMessage
		case slog.LevelKey:
			// With a ReplaceAttr, slog hands the level over as an any,
			// which the JSON handler writes through json.Marshal
			// (reflection, for every record); as the string it stands
			// for it is written directly, the same text.
			if l, ok := a.Value.Any().(slog.Level); ok {
				a.Value = slog.StringValue(l.String())
			}
			return a
		}
	}
	switch a.Value.Kind() {
	case slog.KindString:
		if s := a.Value.String(); len(s) > limit {
			a.Value = slog.StringValue(cut(s, limit))
		}
	case slog.KindAny:
		var s string
		switch v := a.Value.Any().(type) {
		case error:
			s = v.Error()
		case fmt.Stringer:
			s = v.String()
		default:
			return a
		}
		if len(s) > limit {
			a.Value = slog.StringValue(cut(s, limit))
		}
	}
	return a
}

// cut keeps the first limit bytes of s, not splitting a UTF-8 sequence.
func cut(s string, limit int) string {
	n := limit
	for n > limit-utf8.UTFMax && n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…[" + strconv.Itoa(len(s)-n) + " more bytes]"
}
