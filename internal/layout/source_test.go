package layout

import (
	"bufio"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// maxFileLines: a production file longer than this holds more than one
// concern and should be split (README, "Layout").
const maxFileLines = 600

// productionFiles lists the tracked non-test Go files, generated code
// excluded.
func productionFiles(t *testing.T) []string {
	t.Helper()
	cmd := exec.Command("git", "ls-files", "--cached", "--others", "--exclude-standard", "*.go")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	var files []string
	for _, f := range strings.Fields(string(out)) {
		if strings.HasSuffix(f, "_test.go") || strings.HasSuffix(f, ".pb.go") {
			continue
		}
		if _, err := os.Stat(filepath.Join("../..", f)); err != nil {
			continue // deleted in the work tree
		}
		files = append(files, f)
	}
	if len(files) == 0 {
		t.Fatal("no Go files found")
	}
	return files
}

func TestFileLength(t *testing.T) {
	for _, f := range productionFiles(t) {
		fh, err := os.Open(filepath.Join("../..", f))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			n++
		}
		fh.Close()
		if n > maxFileLines {
			t.Errorf("%s: %d lines, more than %d", f, n, maxFileLines)
		}
	}
}

// TestNoPackageState: outside main and test-support packages, no
// package-level variable is written after initialization or holds
// synchronization state. Read-only tables and sentinel errors are fine.
func TestNoPackageState(t *testing.T) {
	fset := token.NewFileSet()
	byDir := map[string][]*ast.File{}
	for _, f := range productionFiles(t) {
		file, err := parser.ParseFile(fset, filepath.Join("../..", f), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		if file.Name.Name == "main" || testSupport(filepath.Dir(f)) {
			continue
		}
		byDir[filepath.Dir(f)] = append(byDir[filepath.Dir(f)], file)
	}
	for _, files := range byDir {
		vars := map[string]*ast.ValueSpec{}
		for _, file := range files {
			for _, d := range file.Decls {
				gd, ok := d.(*ast.GenDecl)
				if !ok || gd.Tok != token.VAR {
					continue
				}
				for _, spec := range gd.Specs {
					vs := spec.(*ast.ValueSpec)
					for _, n := range vs.Names {
						if n.Name == "_" {
							continue
						}
						vars[n.Name] = vs
						if syncType(vs) {
							t.Errorf("%s: package-level variable %s holds synchronization state", fset.Position(n.Pos()), n.Name)
						}
					}
				}
			}
		}
		for _, file := range files {
			ast.Inspect(file, func(n ast.Node) bool {
				var lhs []ast.Expr
				switch st := n.(type) {
				case *ast.AssignStmt:
					if st.Tok == token.DEFINE {
						return true
					}
					lhs = st.Lhs
				case *ast.IncDecStmt:
					lhs = []ast.Expr{st.X}
				default:
					return true
				}
				for _, e := range lhs {
					id := rootIdent(e)
					if id == nil {
						continue
					}
					vs, ok := vars[id.Name]
					if !ok {
						continue
					}
					// A local declaration shadows the package variable.
					if id.Obj != nil && id.Obj.Decl != vs {
						continue
					}
					t.Errorf("%s: package-level variable %s is written", fset.Position(id.Pos()), id.Name)
				}
				return true
			})
		}
	}
}

// rootIdent returns x for x, x.f, x[i] and *x.
func rootIdent(e ast.Expr) *ast.Ident {
	for {
		switch v := e.(type) {
		case *ast.Ident:
			return v
		case *ast.SelectorExpr:
			e = v.X
		case *ast.IndexExpr:
			e = v.X
		case *ast.StarExpr:
			e = v.X
		case *ast.ParenExpr:
			e = v.X
		default:
			return nil
		}
	}
}

// syncType reports a variable declared with a sync or sync/atomic type.
func syncType(vs *ast.ValueSpec) bool {
	found := false
	check := func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			if id, ok := sel.X.(*ast.Ident); ok && (id.Name == "sync" || id.Name == "atomic") {
				found = true
			}
		}
		return !found
	}
	if vs.Type != nil {
		ast.Inspect(vs.Type, check)
	}
	for _, v := range vs.Values {
		ast.Inspect(v, check)
	}
	return found
}
