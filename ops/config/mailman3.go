package config

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strings"
)

// Mailman 3 core's own defaults for its REST API ([webservice] in its
// schema.cfg): what a legacy mailman.cf, which names only members_list and
// list_domain, is mapped onto.
const (
	DefaultMailman3Config = "/etc/mailman3/mailman.cfg"
	mailman3Host          = "localhost"
	mailman3Port          = "8001"
	mailman3User          = "restadmin"
	mailman3Password      = "restpass"
)

// mailman3WebService fills the REST settings mailman.cf leaves unset from
// the [webservice] section of Mailman 3's own configuration (path; a
// missing file means Mailman's defaults), so a legacy mailman.cf keeps
// working after the move to Mailman 3.
func (m *Mailman) mailman3WebService(path string) error {
	ws := map[string]string{"hostname": mailman3Host, "port": mailman3Port,
		"admin_user": mailman3User, "admin_pass": mailman3Password, "use_https": "no"}
	f, err := os.Open(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("config: reading Mailman 3's %s for the REST settings mailman.cf leaves out: %w", path, err)
	default:
		defer f.Close()
		section := ""
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			l := strings.TrimSpace(sc.Text())
			switch {
			case l == "" || l[0] == '#' || l[0] == ';':
			case l[0] == '[' && strings.HasSuffix(l, "]"):
				section = strings.TrimSpace(l[1 : len(l)-1])
			case section == "webservice":
				k, v, ok := strings.Cut(l, ":")
				if !ok {
					k, v, ok = strings.Cut(l, "=")
				}
				if ok {
					ws[strings.TrimSpace(k)] = strings.TrimSpace(v)
				}
			}
		}
		if err := sc.Err(); err != nil {
			return fmt.Errorf("config: reading %s: %w", path, err)
		}
	}
	if m.APIURL == "" {
		scheme := "http"
		if b := strings.ToLower(ws["use_https"]); b == "yes" || b == "true" || b == "on" {
			scheme = "https"
		}
		m.APIURL = scheme + "://" + net.JoinHostPort(ws["hostname"], ws["port"])
	}
	if m.APIUser == "" && m.APIPassword == "" {
		m.APIUser, m.APIPassword = ws["admin_user"], ws["admin_pass"]
	}
	return nil
}
