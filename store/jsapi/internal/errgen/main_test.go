package main

import (
	"os"
	"strings"
	"testing"
)

func TestGoName(t *testing.T) {
	for in, want := range map[string]string{
		"JSStreamNotFoundErr":                      "ErrStreamNotFound",
		"JSStreamWrongLastSequenceErrF":            "ErrStreamWrongLastSequenceF",
		"JSStreamGeneralErrorF":                    "ErrStreamGeneralErrorF",
		"JSStreamInvalidConfigF":                   "ErrStreamInvalidConfigF",
		"JSConsumerWithFlowControlNeedsHeartbeats": "ErrConsumerWithFlowControlNeedsHeartbeats",
		"JSSourceInvalidSubjectFilter":             "ErrSourceInvalidSubjectFilter",
		"JSClusterNoPeersErrF":                     "ErrClusterNoPeersF",
	} {
		if got := GoName(in); got != want {
			t.Errorf("GoName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestGenerateGolden: entries sorted by err_code, names, quoting and the
// header, against a hand-checked file.
func TestGenerateGolden(t *testing.T) {
	in, err := os.ReadFile("testdata/errors.json")
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("testdata/errors_table.golden")
	if err != nil {
		t.Fatal(err)
	}
	got, err := Generate(in, "v9.9.9")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatalf("generated:\n%s\nwant:\n%s", got, want)
	}
}

func TestGenerateRefuses(t *testing.T) {
	for name, in := range map[string]string{
		"not JSON":       `{`,
		"empty":          `[]`,
		"duplicate name": `[{"constant":"JSAErr","code":400,"error_code":1,"description":"a"},{"constant":"JSA","code":400,"error_code":2,"description":"b"}]`,
		"duplicate code": `[{"constant":"JSAErr","code":400,"error_code":1,"description":"a"},{"constant":"JSBErr","code":400,"error_code":1,"description":"b"}]`,
		"no err_code":    `[{"constant":"JSAErr","code":400,"description":"a"}]`,
	} {
		if _, err := Generate([]byte(in), "v0"); err == nil {
			t.Errorf("%s: Generate accepted %s", name, in)
		}
	}
}

func TestVersionFromPath(t *testing.T) {
	p := "/root/go/pkg/mod/github.com/nats-io/nats-server/v2@v2.15.2/server/errors.json"
	if v := versionFromPath(p); v != "v2.15.2" {
		t.Fatalf("versionFromPath = %q", v)
	}
	if v := versionFromPath("/tmp/errors.json"); !strings.Contains(v, "unknown") {
		t.Fatalf("versionFromPath without @ = %q", v)
	}
}
