// Package layout checks the project's import rules (README, "Layout")
// with go list, so that a change that breaks them fails make test.
package layout

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/csclub/ceo"

type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

// listPackages returns every package of the module, test files excluded
// (go list's Imports and Deps are those of the non-test build).
func listPackages(t *testing.T, patterns ...string) []pkg {
	t.Helper()
	args := append([]string{"list", "-json=ImportPath,Imports,Deps"}, patterns...)
	cmd := exec.Command("go", args...)
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) == 0 {
		t.Fatal("go list found no packages")
	}
	return pkgs
}

func rel(path string) string { return strings.TrimPrefix(strings.TrimPrefix(path, module), "/") }

// under reports whether the package path p is dir or inside it.
func under(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }

func TestImportRules(t *testing.T) {
	for _, p := range listPackages(t, "./...") {
		name := rel(p.ImportPath)
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, module+"/") {
				continue
			}
			dep := rel(imp)
			switch {
			case under(name, "wire") && !under(dep, "wire"):
				t.Errorf("%s imports %s: wire imports no project package outside wire", name, dep)
			case under(name, "ops") && (dep == "wire" || under(dep, "ceod") || under(dep, "ceoc")):
				t.Errorf("%s imports %s: ops imports neither wire's framing nor ceod nor ceoc", name, dep)
			case under(name, "ceoc") && under(dep, "ceod"):
				t.Errorf("%s imports %s: ceoc imports no ceod package", name, dep)
			case under(name, "ceo") && !under(name, "ceod") && !under(name, "ceoc") && (dep == "wire" || under(dep, "ceod")):
				t.Errorf("%s imports %s: ceo imports neither wire's framing nor ceod", name, dep)
			}
			if under(dep, "internal/realm") && !testSupport(name) {
				t.Errorf("%s imports %s: only tests, test-support packages and the realm command may use the test realm", name, dep)
			}
		}
	}
}

// testSupport reports whether a package exists only for tests: the
// harnesses under internal/ and the *test helper packages.
func testSupport(name string) bool {
	last := name[strings.LastIndex(name, "/")+1:]
	return under(name, "internal") || strings.HasSuffix(last, "test")
}

// TestProgramsLinkNoTestSupport: no program we ship links the test realm
// or a test-support package.
func TestProgramsLinkNoTestSupport(t *testing.T) {
	for _, p := range listPackages(t, "./ceod/cmd/...", "./ceoc/cmd/...", "./ceo/cmd/...") {
		for _, d := range p.Deps {
			if strings.HasPrefix(d, module+"/") && testSupport(rel(d)) {
				t.Errorf("%s links %s", rel(p.ImportPath), rel(d))
			}
		}
	}
}

// TestCeocLinksNoLDAP: the relay client stays small, because every op a
// script or the front end sends starts it anew: go-ldap belongs to the
// daemon and the front end; the protobuf runtime (ceoc decodes ping's
// reply by hand) and net/http cost start-up time in package
// initialisation and binary size.
func TestCeocLinksNoLDAP(t *testing.T) {
	for _, p := range listPackages(t, "./ceoc/cmd/ceoc") {
		for _, d := range p.Deps {
			if strings.Contains(d, "go-ldap") || strings.HasPrefix(d, "google.golang.org/protobuf/") || d == "net/http" {
				t.Errorf("the ceoc command links %s", d)
			}
		}
	}
}
