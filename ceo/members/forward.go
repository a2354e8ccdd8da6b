package members

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Forward reads the mail forward in m's ~/.forward: its single address,
// or "" if there is none, it cannot be read, or it is not one address
// (the legacy front end then left it alone).
func Forward(m *Member) string {
	if m.Home == "" {
		return ""
	}
	b, err := os.ReadFile(filepath.Join(m.Home, ".forward"))
	if err != nil {
		return ""
	}
	s := strings.TrimSpace(string(b))
	if CheckForward(s) != nil {
		return ""
	}
	return s
}

// CheckForward checks a mail forward as the legacy front end did: one
// address, user@host, without the characters .forward treats specially.
// The mail op checks again on the server.
func CheckForward(addr string) error {
	if addr == "" {
		return nil
	}
	if strings.ContainsAny(addr, " \t\r\n") {
		return fmt.Errorf("%w: a forwarding address cannot contain spaces", ErrInvalid)
	}
	for _, c := range []string{`"`, "'", ",", "|", "$", "/", "#", ":"} {
		if strings.Contains(addr, c) {
			return fmt.Errorf("%w: invalid character in address: %s", ErrInvalid, c)
		}
	}
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 {
		return fmt.Errorf("%w: invalid email address", ErrInvalid)
	}
	return nil
}
