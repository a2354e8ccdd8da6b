package realm

import (
	"os"
	"strings"
	"testing"
)

// TestLimitsDocumented: the slapd limits the realm runs with are the
// ones the shipped docs tell a club to configure.
func TestLimitsDocumented(t *testing.T) {
	for _, doc := range []string{"../../README.md", "../../debian/ceo-daemon.README.Debian"} {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(SlapdLimits, "\n") {
			if !strings.Contains(string(b), line) {
				t.Errorf("%s does not give the slapd line %q", doc, line)
			}
		}
	}
}
