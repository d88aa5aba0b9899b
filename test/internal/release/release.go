// Package release says how the shipped leafgate binary is built, so the
// tests and the bench that build it build the same thing.
package release

// Tags are the build tags of the shipped binary: the Makefile's TAGS.
// nethttpomithttp2 leaves HTTP/2 out of net/http (monitoring is HTTP/1.1).
const Tags = "nethttpomithttp2"

// BuildArgs are the `go build` arguments every leafgate build uses.
func BuildArgs() []string {
	return []string{"-trimpath", "-tags", Tags}
}
