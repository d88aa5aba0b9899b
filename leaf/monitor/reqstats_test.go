package monitor

import (
	"maps"
	"testing"
)

// TestHTTPReqStatsKeys checks http_req_stats counts each endpoint under
// nats-server's key and leaves unknown paths (404) out, as nats-server does.
func TestHTTPReqStatsKeys(t *testing.T) {
	tests := []struct {
		name  string
		paths []string
		want  map[string]float64 // excluding the final /varz
	}{
		{"root", []string{"/", "/"}, map[string]float64{"/": 2}},
		{"unknown paths not counted", []string{"/nope", "/varzz", "/a/b"}, map[string]float64{}},
		{"mixed", []string{"/", "/nope", "/healthz", "/connz"}, map[string]float64{"/": 1, "/healthz": 1, "/connz": 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := NewHandler(&fakeSource{})
			for _, p := range tc.paths {
				get(t, h, p)
			}
			_, m := get(t, h, "/varz")
			got := map[string]float64{}
			for k, v := range m["http_req_stats"].(map[string]any) {
				got[k] = v.(float64)
			}
			want := maps.Clone(tc.want)
			want["/varz"] = 1
			if !maps.Equal(got, want) {
				t.Fatalf("http_req_stats = %v, want %v", got, want)
			}
		})
	}
}
