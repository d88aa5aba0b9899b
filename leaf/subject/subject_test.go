package subject

import "testing"

func TestValidation(t *testing.T) {
	tests := []struct {
		s                string
		pattern, literal bool
	}{
		{"foo", true, true},
		{"foo.bar", true, true},
		{"foo.*", true, false},
		{"foo.>", true, false},
		{">", true, false},
		{"*", true, false},
		{"*.>", true, false},
		{"foo*", true, true},
		{"fo>", true, true},
		{"foo.*bar", true, true},
		{"", false, false},
		{".", false, false},
		{".foo", false, false},
		{"foo.", false, false},
		{"foo..bar", false, false},
		{"foo.>.bar", false, false},
		{">.>", false, false},
		{"foo bar", false, false},
		{"foo\tbar", false, false},
		{"foo\r", false, false},
		{"foo\n.bar", false, false},
	}
	for _, tt := range tests {
		if got := ValidPattern([]byte(tt.s)); got != tt.pattern {
			t.Errorf("ValidPattern(%q) = %v, want %v", tt.s, got, tt.pattern)
		}
		if got := ValidLiteral([]byte(tt.s)); got != tt.literal {
			t.Errorf("ValidLiteral(%q) = %v, want %v", tt.s, got, tt.literal)
		}
	}
	for _, q := range []string{"q", "workers.v1", "a-b_c"} {
		if !ValidQueue([]byte(q)) {
			t.Errorf("ValidQueue(%q) = false", q)
		}
	}
	for _, q := range []string{"", "a b", "a\tb"} {
		if ValidQueue([]byte(q)) {
			t.Errorf("ValidQueue(%q) = true", q)
		}
	}
}

func TestMatches(t *testing.T) {
	tests := []struct {
		pattern, subject string
		want             bool
	}{
		{"foo", "foo", true},
		{"foo", "bar", false},
		{"foo", "foo.bar", false},
		{"foo.bar", "foo", false},
		{"foo.*", "foo.bar", true},
		{"foo.*", "foo", false},
		{"foo.*", "foo.bar.baz", false},
		{"foo.>", "foo.bar", true},
		{"foo.>", "foo.bar.baz", true},
		{"foo.>", "foo", false},
		{">", "foo", true},
		{">", "foo.bar", true},
		{"*", "foo", true},
		{"*", "foo.bar", false},
		{"*.bar", "foo.bar", true},
		{"*.*.baz", "foo.bar.baz", true},
		{"*.>", "foo", false},
		{"*.>", "foo.bar", true},
	}
	for _, tt := range tests {
		if got := Matches(tt.pattern, tt.subject); got != tt.want {
			t.Errorf("Matches(%q, %q) = %v, want %v", tt.pattern, tt.subject, got, tt.want)
		}
	}
}

func TestOverlapAndSubset(t *testing.T) {
	tests := []struct {
		a, b          string
		overlap, aInB bool
	}{
		{"foo", "foo", true, true},
		{"foo", "bar", false, false},
		{"foo.*", "foo.bar", true, false},
		{"foo.bar", "foo.*", true, true},
		{"foo.>", "foo.bar.baz", true, false},
		{"foo.bar.baz", "foo.>", true, true},
		{"foo.*", "*.bar", true, false},
		{"foo.*", "foo.>", true, true},
		{"foo.>", "foo.*", true, false},
		{"foo", "foo.>", false, false},
		{"foo.*", "bar.*", false, false},
		{">", "anything.at.all", true, false},
		{"a.b", ">", true, true},
		{"*.*", "*", false, false},
	}
	for _, tt := range tests {
		if got := Overlap(tt.a, tt.b); got != tt.overlap {
			t.Errorf("Overlap(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.overlap)
		}
		if got := Overlap(tt.b, tt.a); got != tt.overlap {
			t.Errorf("Overlap(%q, %q) = %v, want %v (symmetry)", tt.b, tt.a, got, tt.overlap)
		}
		if got := SubsetOf(tt.a, tt.b); got != tt.aInB {
			t.Errorf("SubsetOf(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.aInB)
		}
	}
}
