// Package tlsconf turns TLS settings from configuration (file paths,
// verification, minimum version) into a *tls.Config. Every leafgate listener
// (NATS, and later MQTT, WebSocket and the leafnode link) shares it.
package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"time"
)

// Options are TLS settings as configured. TLS is enabled when CertFile is set.
type Options struct {
	CertFile   string
	KeyFile    string
	CAFile     string // client certificates are verified against it
	Verify     bool   // require and verify a client certificate
	MinVersion string // "1.2" (default) or "1.3"
	Timeout    time.Duration
}

// Enabled reports whether TLS is configured.
func (o Options) Enabled() bool { return o.CertFile != "" }

// ParseMinVersion maps "1.2"/"1.3" ("" means 1.2) to a tls version.
func ParseMinVersion(s string) (uint16, error) {
	switch s {
	case "", "1.2":
		return tls.VersionTLS12, nil
	case "1.3":
		return tls.VersionTLS13, nil
	}
	return 0, fmt.Errorf("unsupported TLS version %q (want 1.2 or 1.3)", s)
}

// ServerConfig loads the certificate and CA and builds a server-side
// config. Errors say which file or setting failed.
func (o Options) ServerConfig() (*tls.Config, error) {
	if !o.Enabled() {
		return nil, errors.New("tls: no cert_file configured")
	}
	if o.KeyFile == "" {
		return nil, errors.New("tls: key_file is required with cert_file")
	}
	minVer, err := ParseMinVersion(o.MinVersion)
	if err != nil {
		return nil, fmt.Errorf("tls: min_version: %w", err)
	}
	cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("tls: load cert_file %q / key_file %q: %w", o.CertFile, o.KeyFile, err)
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   minVer,
	}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls: read ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls: ca_file %q holds no PEM certificates", o.CAFile)
		}
		cfg.ClientCAs = pool
	}
	if o.Verify {
		if cfg.ClientCAs == nil {
			return nil, errors.New("tls: verify requires ca_file")
		}
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}
