package debtest

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/csclub/ceo/ceo/console"
)

// TestManPages checks that the man pages follow the programs: ceo(1)
// describes every console command "ceo --help" lists, and ceod(8) names
// the files an administrator needs and the install guide.
func TestManPages(t *testing.T) {
	man := filepath.Join(repoRoot(t), "debian", "man")
	// Roff escapes hyphens: compare with them undone.
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(man, name))
		if err != nil {
			t.Fatal(err)
		}
		return strings.ReplaceAll(string(b), `\-`, "-")
	}
	ceo := read("ceo.1")
	var usage bytes.Buffer
	console.Usage(&usage)
	n := 0
	for line := range strings.Lines(usage.String()) {
		if !strings.HasPrefix(line, "  ") || strings.Fields(line)[0] == "ceo" {
			continue
		}
		cmd := strings.Fields(line)[0]
		n++
		if !strings.Contains(ceo, "\n.BR "+cmd+" ") && !strings.Contains(ceo, "\n.BI "+cmd+" ") && !strings.Contains(ceo, "\n.BI \""+cmd+" ") {
			t.Errorf("ceo(1) does not describe the command %q that ceo --help lists", cmd)
		}
	}
	if n < 8 {
		t.Fatalf("ceo --help lists %d commands; the parser above is out of date:\n%s", n, usage.String())
	}
	ceod := read("ceod.8")
	for _, want := range []string{"/etc/krb5.conf", "/usr/share/doc/ceo-daemon/README.Debian", "/etc/krb5.keytab",
		"-check", "-config", "-listen", "-hostname", "-log-level", "-log-format", "admin_keytab", "78", "75"} {
		if !strings.Contains(ceod, want) {
			t.Errorf("ceod(8) does not mention %s", want)
		}
	}
}
