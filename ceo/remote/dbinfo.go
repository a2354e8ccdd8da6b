package remote

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// InfoFile is the name of the connection-info file for a database kind:
// ceo-mysql-info (legacy) or ceo-postgresql-info.
func InfoFile(kind string) string { return "ceo-" + kind + "-info" }

// InfoText is the content of the info file (legacy's text for MySQL).
func InfoText(kind, user, password string) string {
	title, client := "MySQL", fmt.Sprintf("mysql %[1]s -u %[1]s -p", user)
	if kind == PostgreSQL {
		title, client = "PostgreSQL", fmt.Sprintf("psql -h localhost -U %[1]s %[1]s", user)
	}
	return fmt.Sprintf(`%[3]s Database Information for %[1]s

Your new %[3]s database was created. To connect, use
the following options:

Database: %[1]s
Username: %[1]s
Password: %[2]s
Hostname: localhost

The command to connect using the %[3]s command-line client is

  %[4]s

This database is only accessible from the database host.
`, user, password, title, client)
}

// WriteInfo writes the info file for kind into home, as the legacy front
// end did: an existing file is first renamed to NAME.old, and the new one
// is created exclusively with mode 0660. When running as root, the file
// is given to the owner and group of home, so the user can read it. It
// returns the path written.
func WriteInfo(home, kind, user, password string) (string, error) {
	if home == "" {
		return "", errors.New("writing the database info file: the account has no home directory")
	}
	path := filepath.Join(home, InfoFile(kind))
	if _, err := os.Lstat(path); err == nil {
		if err := os.Rename(path, path+".old"); err != nil {
			return "", fmt.Errorf("writing %s: keeping the old file: %w", path, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o660)
	if err != nil {
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	fail := func(err error) (string, error) {
		f.Close()
		os.Remove(path)
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	// The umask may have taken bits off; the legacy mode is 0660 exactly.
	if err := f.Chmod(0o660); err != nil {
		return fail(err)
	}
	if os.Geteuid() == 0 {
		if st, err := os.Stat(home); err == nil {
			if sys, ok := st.Sys().(*syscall.Stat_t); ok {
				if err := f.Chown(int(sys.Uid), int(sys.Gid)); err != nil {
					return fail(err)
				}
			}
		}
	}
	if _, err := f.WriteString(InfoText(kind, user, password)); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	return path, nil
}
