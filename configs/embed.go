// Package configs holds leafgate's documented default configuration, which
// the binary embeds as its defaults, plus example files and the systemd unit.
package configs

import _ "embed"

// DefaultYAML is configs/leafgate.yaml: the defaults, documented.
//
//go:embed leafgate.yaml
var DefaultYAML []byte
