package member

import (
	"log/slog"
	"strings"
)

func attrStrings(k string, v []string) slog.Attr { return slog.String(k, strings.Join(v, ",")) }
func attrBool(k string, v bool) slog.Attr        { return slog.Bool(k, v) }
