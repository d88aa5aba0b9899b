package tlsconf

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestServerConfig(t *testing.T) {
	dir := t.TempDir()
	tc, err := WriteTestCerts(dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Options{CertFile: tc.CertFile, KeyFile: tc.KeyFile, CAFile: tc.CAFile, Verify: true, MinVersion: "1.3"}.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MinVersion != tls.VersionTLS13 || cfg.ClientAuth != tls.RequireAndVerifyClientCert || cfg.ClientCAs == nil {
		t.Fatalf("config %+v", cfg)
	}
	empty := filepath.Join(dir, "empty.pem")
	_ = os.WriteFile(empty, []byte("nothing"), 0o600)
	bad := []struct {
		o    Options
		want string
	}{
		{Options{CertFile: tc.CertFile}, "key_file is required"},
		{Options{CertFile: "/nope.pem", KeyFile: tc.KeyFile}, "load cert_file"},
		{Options{CertFile: tc.CertFile, KeyFile: tc.KeyFile, MinVersion: "1.1"}, "min_version"},
		{Options{CertFile: tc.CertFile, KeyFile: tc.KeyFile, Verify: true}, "verify requires ca_file"},
		{Options{CertFile: tc.CertFile, KeyFile: tc.KeyFile, CAFile: empty}, "no PEM certificates"},
		{Options{CertFile: tc.CertFile, KeyFile: tc.KeyFile, CAFile: "/nope"}, "read ca_file"},
		{Options{}, "no cert_file"},
	}
	for _, b := range bad {
		if _, err := b.o.ServerConfig(); err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%+v: err %v, want %q", b.o, err, b.want)
		}
	}
}

// ParseMinVersion accepts exactly the versions it documents and maps them
// to TLS 1.2 or 1.3; everything else is an error naming the input.
func FuzzParseMinVersion(f *testing.F) {
	for _, s := range []string{"", "1.2", "1.3", "1.0", "1.1", "TLS1.3", " 1.3", "1.30", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseMinVersion(s)
		if err != nil {
			if v != 0 {
				t.Fatalf("ParseMinVersion(%q) = %#x with error %v", s, v, err)
			}
			return
		}
		switch {
		case (s == "" || s == "1.2") && v == tls.VersionTLS12:
		case s == "1.3" && v == tls.VersionTLS13:
		default:
			t.Fatalf("ParseMinVersion(%q) = %#x", s, v)
		}
	})
}
