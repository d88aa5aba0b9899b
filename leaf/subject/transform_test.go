package subject

import "testing"

func TestTransform(t *testing.T) {
	for _, tc := range []struct {
		src, dst, in, want string
		ok                 bool
	}{
		{"orders.*.*", "archive.$2.$1", "orders.eu.42", "archive.42.eu", true},
		{"orders.*.*", "archive.{{wildcard(1)}}.{{ Wildcard(2) }}", "orders.eu.42", "archive.eu.42", true},
		{"orders.>", "mirror.orders.>", "orders.a.b.c", "mirror.orders.a.b.c", true},
		{"", "copy.>", "x.y", "copy.x.y", true},
		{"orders.*", "flat", "orders.1", "flat", true},
		{"orders.*", "x.$1", "other.1", "", false},
		{">", "", "a.b", "a.b", true},
	} {
		tr, err := NewTransform(tc.src, tc.dst)
		if err != nil {
			t.Fatalf("NewTransform(%q, %q): %v", tc.src, tc.dst, err)
		}
		got, ok := tr.Apply(tc.in)
		if ok != tc.ok || got != tc.want {
			t.Errorf("%q→%q on %q = %q, %v; want %q, %v", tc.src, tc.dst, tc.in, got, ok, tc.want, tc.ok)
		}
	}
	for _, bad := range [][2]string{
		{"a.*", "b.$2"},
		{"a.*", "b.*"},
		{"a.*", "b.>"},
		{"a.*", "b.{{partition(3,1)}}"},
		{"a..b", "x"},
		{"a.>", "x.>.y"},
	} {
		if _, err := NewTransform(bad[0], bad[1]); err == nil {
			t.Errorf("NewTransform(%q, %q) accepted", bad[0], bad[1])
		}
	}
}
