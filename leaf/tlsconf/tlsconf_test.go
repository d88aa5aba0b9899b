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
