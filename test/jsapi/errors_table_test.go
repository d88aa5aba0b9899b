// Package jsapi_test checks leafgate's JetStream error table
// (store/jsapi/errors_table.go) against the errors.json of the nats-server
// release this module pins.
package jsapi_test

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

const natsServer = "github.com/nats-io/nats-server/v2"

// repoRoot is the product module, two levels up from test/jsapi.
var repoRoot = filepath.Join("..", "..")

// errorsJSON is the path of server/errors.json of the nats-server this
// module requires.
func errorsJSON(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-json", natsServer).Output()
	if err != nil {
		t.Fatalf("go list -m %s: %v", natsServer, err)
	}
	var m struct{ Dir, Version string }
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	if m.Dir == "" {
		t.Fatalf("%s %s is not in the module cache: run go mod download in test/", natsServer, m.Version)
	}
	return filepath.Join(m.Dir, "server", "errors.json")
}

// TestErrorsTableIsGenerated regenerates the table from errors.json with
// the committed generator and requires the committed file to be identical:
// a nats-server upgrade, or a hand edit, makes it fail until
// `go generate ./store/jsapi` is run.
func TestErrorsTableIsGenerated(t *testing.T) {
	src := errorsJSON(t)
	out := filepath.Join(t.TempDir(), "errors_table.go")
	cmd := exec.Command("go", "run", "./store/jsapi/internal/errgen", "-errors", src, "-o", out)
	cmd.Dir = repoRoot
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("errgen: %v\n%s", err, b)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile(filepath.Join(repoRoot, "store", "jsapi", "errors_table.go"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(committed) {
		t.Fatalf("store/jsapi/errors_table.go differs from what %s gives; run go generate ./store/jsapi\n--- generated:\n%.2000s", src, got)
	}
}

// TestErrorsTableMatchesNATSServer checks the table's content without the
// generator: every errors.json entry is in the table with the same code and
// description, and the table has nothing else.
func TestErrorsTableMatchesNATSServer(t *testing.T) {
	raw, err := os.ReadFile(errorsJSON(t))
	if err != nil {
		t.Fatal(err)
	}
	var entries []struct {
		Constant    string `json:"constant"`
		Code        int    `json:"code"`
		ErrCode     int    `json:"error_code"`
		Description string `json:"description"`
	}
	if err := json.Unmarshal(raw, &entries); err != nil {
		t.Fatal(err)
	}
	table := parseTable(t, filepath.Join(repoRoot, "store", "jsapi", "errors_table.go"))
	if len(table) != len(entries) {
		t.Errorf("table has %d entries, errors.json %d", len(table), len(entries))
	}
	for _, e := range entries {
		got, ok := table[e.ErrCode]
		switch {
		case !ok:
			t.Errorf("%s (err_code %d) is missing", e.Constant, e.ErrCode)
		case got.code != e.Code || got.description != e.Description:
			t.Errorf("%s: table has %s = {%d, %q}, nats-server {%d, %q}",
				e.Constant, got.name, got.code, got.description, e.Code, e.Description)
		}
	}
}

type tableEntry struct {
	name        string
	code        int
	description string
}

// parseTable reads the &Error{...} literals of errors_table.go, by err_code.
func parseTable(t *testing.T, path string) map[int]tableEntry {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	table := map[int]tableEntry{}
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, v := range vs.Values {
			u, ok := v.(*ast.UnaryExpr)
			if !ok {
				t.Fatalf("%s: not &Error{...}", vs.Names[i].Name)
			}
			lit := u.X.(*ast.CompositeLit)
			e := tableEntry{name: vs.Names[i].Name}
			errCode := 0
			for _, el := range lit.Elts {
				kv := el.(*ast.KeyValueExpr)
				val := kv.Value.(*ast.BasicLit).Value
				switch kv.Key.(*ast.Ident).Name {
				case "Code":
					e.code, _ = strconv.Atoi(val)
				case "ErrCode":
					errCode, _ = strconv.Atoi(val)
				case "Description":
					e.description, _ = strconv.Unquote(val)
				}
			}
			if _, dup := table[errCode]; dup {
				t.Errorf("err_code %d twice in the table", errCode)
			}
			table[errCode] = e
		}
		return false
	})
	return table
}
