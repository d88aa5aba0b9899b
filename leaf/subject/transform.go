package subject

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Transform maps subjects matching a source pattern onto a destination, as
// nats-server's subject mappings do: the destination refers to the source's
// wildcard tokens by position with $N or {{wildcard(N)}} (1-based, '*'
// tokens in order). A trailing '>' in the source carries over to a
// trailing '>' in the destination.
type Transform struct {
	src      string
	srcToks  []string
	dstParts []transformPart
	fwc      bool // src ends in '>' and dst ends in '>'
}

type transformPart struct {
	lit string // literal token, or "" when wc is set
	wc  int    // 1-based wildcard index
}

// ErrBadTransform is wrapped by NewTransform's errors.
var ErrBadTransform = errors.New("invalid subject transform")

// NewTransform compiles a transform. An empty source means ">".
func NewTransform(src, dst string) (*Transform, error) {
	if src == "" {
		src = ">"
	}
	if !ValidPattern([]byte(src)) {
		return nil, fmt.Errorf("%w: source %q is not a valid subject", ErrBadTransform, src)
	}
	t := &Transform{src: src, srcToks: strings.Split(src, ".")}
	nwc := 0
	for _, tok := range t.srcToks {
		if tok == "*" {
			nwc++
		}
	}
	srcFwc := t.srcToks[len(t.srcToks)-1] == ">"
	if dst == "" {
		dst = src
	}
	toks := strings.Split(dst, ".")
	for i, tok := range toks {
		if tok == "" {
			return nil, fmt.Errorf("%w: destination %q has an empty token", ErrBadTransform, dst)
		}
		if tok == ">" {
			if i != len(toks)-1 || !srcFwc {
				return nil, fmt.Errorf("%w: destination '>' needs a source ending in '>'", ErrBadTransform)
			}
			t.fwc = true
			continue
		}
		if tok == "*" {
			return nil, fmt.Errorf("%w: destination %q can not contain '*'", ErrBadTransform, dst)
		}
		idx, isRef, err := wildcardRef(tok)
		if err != nil {
			return nil, err
		}
		if !isRef {
			t.dstParts = append(t.dstParts, transformPart{lit: tok})
			continue
		}
		if idx < 1 || idx > nwc {
			return nil, fmt.Errorf("%w: wildcard index %d out of range in %q", ErrBadTransform, idx, dst)
		}
		t.dstParts = append(t.dstParts, transformPart{wc: idx})
	}
	if srcFwc && !t.fwc && dst == src {
		t.fwc = true
	}
	return t, nil
}

// wildcardRef parses $N or {{wildcard(N)}}.
func wildcardRef(tok string) (int, bool, error) {
	if strings.HasPrefix(tok, "$") {
		n, err := strconv.Atoi(tok[1:])
		if err != nil {
			return 0, false, fmt.Errorf("%w: bad reference %q", ErrBadTransform, tok)
		}
		return n, true, nil
	}
	if !strings.HasPrefix(tok, "{{") || !strings.HasSuffix(tok, "}}") {
		return 0, false, nil
	}
	fn := strings.TrimSpace(tok[2 : len(tok)-2])
	name, args, ok := strings.Cut(fn, "(")
	if !ok || !strings.HasSuffix(args, ")") || !strings.EqualFold(strings.TrimSpace(name), "wildcard") {
		return 0, false, fmt.Errorf("%w: unsupported function %q", ErrBadTransform, tok)
	}
	n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(args, ")")))
	if err != nil {
		return 0, false, fmt.Errorf("%w: bad wildcard index in %q", ErrBadTransform, tok)
	}
	return n, true, nil
}

// Apply maps a literal subject; ok is false when it does not match the
// source.
func (t *Transform) Apply(subj string) (string, bool) {
	if !Matches(t.src, subj) {
		return "", false
	}
	toks := strings.Split(subj, ".")
	var wcs []string
	for i, st := range t.srcToks {
		if st == "*" {
			wcs = append(wcs, toks[i])
		}
	}
	var b strings.Builder
	for i, p := range t.dstParts {
		if i > 0 {
			b.WriteByte('.')
		}
		if p.wc > 0 {
			b.WriteString(wcs[p.wc-1])
		} else {
			b.WriteString(p.lit)
		}
	}
	if t.fwc {
		rest := toks[len(t.srcToks)-1:]
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(strings.Join(rest, "."))
	}
	return b.String(), true
}
