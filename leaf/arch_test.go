package leaf_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/leafgate/leafgate"

// walls lists, per package tree, the module trees it must not import.
// Dependencies point inward: adapters import the core, never the reverse.
var walls = map[string][]string{
	"leaf":     {"store", "sync", "mqtt", "ws", "firmware", "cmd", "test"},
	"store":    {"sync", "mqtt", "ws", "firmware", "cmd", "test"},
	"mqtt":     {"sync", "ws", "firmware", "cmd", "test"},
	"ws":       {"store", "sync", "mqtt", "firmware", "cmd", "test"},
	"sync":     {"mqtt", "ws", "firmware", "cmd", "test"},
	"firmware": {"cmd", "test"},
}

// forbiddenModules must never be required by the product module: they are
// test peers and live in test/go.mod only.
var forbiddenModules = []string{
	"github.com/nats-io/nats-server",
	"github.com/nats-io/nats.go",
	"github.com/nats-io/jsm.go",
}

func TestPackageWalls(t *testing.T) {
	root := filepath.Join("..")
	fset := token.NewFileSet()
	checked := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if rel == "test" || strings.HasPrefix(d.Name(), ".") && rel != "." || d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		top := strings.Split(filepath.ToSlash(rel), "/")[0]
		banned := walls[top]
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		checked++
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			for _, mod := range forbiddenModules {
				if strings.HasPrefix(p, mod) {
					t.Errorf("%s imports %s: test peers belong in test/go.mod only", rel, p)
				}
			}
			if !strings.HasPrefix(p, module+"/") {
				continue
			}
			target := strings.Split(strings.TrimPrefix(p, module+"/"), "/")[0]
			for _, b := range banned {
				if target == b {
					t.Errorf("%s imports %s: %s/ must not depend on %s/", rel, p, top, b)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 5 {
		t.Fatalf("checked only %d files; is the walk rooted correctly?", checked)
	}
}

func TestProductModuleHasNoTestPeers(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for _, mod := range forbiddenModules {
		if strings.Contains(string(data), mod) {
			t.Errorf("go.mod requires %s: test peers belong in test/go.mod only", mod)
		}
	}
}
