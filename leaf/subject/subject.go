// Package subject is NATS subject handling shared by every leafgate
// protocol: validation, wildcard matching, and Index, the subscription index
// the router matches published subjects against.
//
// Subjects are dot-separated tokens. In patterns, a token "*" matches exactly
// one token and a final token ">" matches one or more. The package knows
// nothing about connections or protocols.
package subject

import "strings"

const (
	sep = '.'
	pwc = '*' // partial wildcard: one token
	fwc = '>' // full wildcard: one or more trailing tokens
)

func isSpace(b byte) bool {
	return b == ' ' || b == '\t' || b == '\r' || b == '\n' || b == '\f'
}

// ValidPattern reports whether s is a valid subscription subject: non-empty
// tokens, no whitespace, "*" and ">" only as whole tokens, ">" only last.
func ValidPattern(s []byte) bool {
	if len(s) == 0 {
		return false
	}
	start := 0
	sawFWC := false
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != sep {
			if isSpace(s[i]) {
				return false
			}
			continue
		}
		tok := s[start:i]
		if len(tok) == 0 || sawFWC {
			return false
		}
		if len(tok) == 1 && tok[0] == fwc {
			sawFWC = true
		}
		start = i + 1
	}
	return true
}

// ValidLiteral reports whether s is a valid publish subject: a valid
// pattern without wildcard tokens.
func ValidLiteral(s []byte) bool {
	return ValidPattern(s) && IsLiteral(s)
}

// ValidQueue reports whether q is a valid queue group name.
func ValidQueue(q []byte) bool {
	if len(q) == 0 {
		return false
	}
	for _, b := range q {
		if isSpace(b) {
			return false
		}
	}
	return true
}

// IsLiteral reports whether s has no wildcard tokens. s is assumed valid.
func IsLiteral(s []byte) bool {
	for i, b := range s {
		if b != pwc && b != fwc {
			continue
		}
		if (i == 0 || s[i-1] == sep) && (i+1 == len(s) || s[i+1] == sep) {
			return false
		}
	}
	return true
}

// Matches reports whether the literal subject matches pattern.
func Matches(pattern, literal string) bool {
	for {
		pt, prest, pmore := strings.Cut(pattern, ".")
		lt, lrest, lmore := strings.Cut(literal, ".")
		switch {
		case pt == ">" && !pmore:
			return lt != ""
		case pt != "*" && pt != lt:
			return false
		}
		if !pmore || !lmore {
			return pmore == lmore
		}
		pattern, literal = prest, lrest
	}
}

// Overlap reports whether some literal subject could match both patterns.
func Overlap(a, b string) bool {
	for {
		at, arest, amore := strings.Cut(a, ".")
		bt, brest, bmore := strings.Cut(b, ".")
		if (at == ">" && !amore) || (bt == ">" && !bmore) {
			return true
		}
		if at != bt && at != "*" && bt != "*" {
			return false
		}
		if !amore || !bmore {
			return amore == bmore
		}
		a, b = arest, brest
	}
}

// SubsetOf reports whether every literal subject matching pattern sub also
// matches pattern super.
func SubsetOf(sub, super string) bool {
	for {
		pt, prest, pmore := strings.Cut(super, ".")
		st, srest, smore := strings.Cut(sub, ".")
		if pt == ">" && !pmore {
			return true
		}
		if st == ">" && !smore {
			return false // sub matches any depth, super does not
		}
		if pt != "*" && (st == "*" || st != pt) {
			return false
		}
		if !pmore || !smore {
			return pmore == smore
		}
		super, sub = prest, srest
	}
}

// NumTokens is the number of tokens in s.
func NumTokens(s string) int {
	if s == "" {
		return 0
	}
	return strings.Count(s, ".") + 1
}
