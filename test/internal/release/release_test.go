package release

import (
	"os"
	"regexp"
	"testing"
)

// TestTagsMatchMakefile keeps Tags and the Makefile's TAGS equal: the
// Makefile builds what ships, the tests and the bench build what they test.
func TestTagsMatchMakefile(t *testing.T) {
	b, err := os.ReadFile("../../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^TAGS\s*:=\s*(.*?)\s*$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("Makefile has no TAGS := line")
	}
	if string(m[1]) != Tags {
		t.Fatalf("Makefile TAGS %q, release.Tags %q", m[1], Tags)
	}
}
