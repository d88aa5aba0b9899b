//go:build !linux

package netproxy

// clampMSS is Linux-only; elsewhere connections keep loopback's MSS.
func clampMSS(uintptr) error { return nil }
