package jetstream

import (
	"testing"
	"time"

	"github.com/leafgate/leafgate/store/jsapi"
)

// Streams the table's lookups find, by name.
var sourcesTestStreams = map[string]jsapi.StreamConfig{
	"O":     {Name: "O", Subjects: []string{"o.>"}, MaxMsgSize: 1024, AllowDirect: true},
	"FOO":   {Name: "FOO", Subjects: []string{"foo.>"}, MaxMsgSize: -1},
	"ANY":   {Name: "ANY", Subjects: []string{">"}, MaxMsgSize: -1},
	"NODIR": {Name: "NODIR", Subjects: []string{"nd"}, MaxMsgSize: -1},
	// A and B source each other; C mirrors M, M sources C.
	"A": {Name: "A", Subjects: []string{"a"}, Sources: []*jsapi.StreamSource{{Name: "B"}}},
	"B": {Name: "B", Subjects: []string{"b"}, Sources: []*jsapi.StreamSource{{Name: "A"}}},
	"P": {Name: "P", Subjects: []string{"p"}, Sources: []*jsapi.StreamSource{{Name: "Q", FilterSubject: "q.x"}}},
	"M": {Name: "M", Sources: []*jsapi.StreamSource{{Name: "C"}}},
}

func sourcesTestLookup(name string) (jsapi.StreamConfig, bool) {
	c, ok := sourcesTestStreams[name]
	return c, ok
}

func mirrorOf(name string) *jsapi.StreamSource { return &jsapi.StreamSource{Name: name} }

func tr(src, dst string) jsapi.SubjectTransformConfig {
	return jsapi.SubjectTransformConfig{Source: src, Destination: dst}
}

func TestSourcesConfig(t *testing.T) {
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	hub := &jsapi.ExternalStream{APIPrefix: "$JS.hub.API"}
	cons := func(name, deliver string) *jsapi.StreamConsumerSource {
		return &jsapi.StreamConsumerSource{Name: name, DeliverSubject: deliver}
	}
	tests := []struct {
		name     string
		cfg      jsapi.StreamConfig
		wantCode uint16 // 0: accepted
		wantDesc string // checked when set
	}{
		// Mirrors.
		{name: "mirror with first_seq", cfg: jsapi.StreamConfig{Name: "S", Mirror: mirrorOf("O"), FirstSeq: 5}, wantCode: 10143},
		{name: "mirror with subjects", cfg: jsapi.StreamConfig{Name: "S", Mirror: mirrorOf("O"), Subjects: []string{"s"}}, wantCode: 10034},
		{name: "mirror with sources", cfg: jsapi.StreamConfig{Name: "S", Mirror: mirrorOf("O"), Sources: []*jsapi.StreamSource{{Name: "FOO"}}}, wantCode: 10031},
		{name: "mirror with counters", cfg: jsapi.StreamConfig{Name: "S", Mirror: mirrorOf("O"), AllowMsgCounter: true}, wantCode: 10173},
		{name: "mirror with atomic publish", cfg: jsapi.StreamConfig{Name: "S", Mirror: mirrorOf("O"), AllowAtomicPublish: true}, wantCode: 10198},
		{name: "mirror with batch publish", cfg: jsapi.StreamConfig{Name: "S", Mirror: mirrorOf("O"), AllowBatchPublish: true}, wantCode: 10209},
		{name: "mirror with schedules", cfg: jsapi.StreamConfig{Name: "S", Mirror: mirrorOf("O"), AllowMsgSchedules: true}, wantCode: 10186},
		{name: "mirror consumer bad name", cfg: jsapi.StreamConfig{Name: "S", Mirror: &jsapi.StreamSource{Name: "O", Consumer: cons("c.x", "dlv")}}, wantCode: 10213},
		{name: "mirror consumer no name", cfg: jsapi.StreamConfig{Name: "S", Mirror: &jsapi.StreamSource{Name: "O", Consumer: cons("", "dlv")}}, wantCode: 10213},
		{name: "mirror consumer wildcard deliver", cfg: jsapi.StreamConfig{Name: "S", Mirror: &jsapi.StreamSource{Name: "O", Consumer: cons("C", "dlv.*")}}, wantCode: 10213},
		{name: "mirror consumer no deliver", cfg: jsapi.StreamConfig{Name: "S", Mirror: &jsapi.StreamSource{Name: "O", Consumer: cons("C", "")}}, wantCode: 10213},
		{name: "mirror consumer with start seq", cfg: jsapi.StreamConfig{Name: "S", Mirror: &jsapi.StreamSource{Name: "O", OptStartSeq: 3, Consumer: cons("C", "dlv")}}, wantCode: 10213},
		{name: "mirror consumer with start time", cfg: jsapi.StreamConfig{Name: "S", Mirror: &jsapi.StreamSource{Name: "O", OptStartTime: &start, Consumer: cons("C", "dlv")}}, wantCode: 10213},
		{name: "mirror consumer with filter", cfg: jsapi.StreamConfig{Name: "S", Mirror: &jsapi.StreamSource{Name: "O", FilterSubject: "o.a", Consumer: cons("C", "dlv")}}, wantCode: 10213},
		{name: "mirror filter and transforms", cfg: jsapi.StreamConfig{Name: "S", Mirror: &jsapi.StreamSource{Name: "O", FilterSubject: "o.a", SubjectTransforms: []jsapi.SubjectTransformConfig{tr("o.b", "")}}}, wantCode: 10150},
		{name: "mirror with delete markers", cfg: jsapi.StreamConfig{Name: "S", Mirror: mirrorOf("O"), SubjectDeleteMarkerTTL: time.Second},
			wantCode: 10052, wantDesc: "subject delete markers forbidden on mirrors"},
		{name: "mirror transform bad source", cfg: jsapi.StreamConfig{Name: "S", Mirror: &jsapi.StreamSource{Name: "O", SubjectTransforms: []jsapi.SubjectTransformConfig{tr("o..a", "")}}},
			wantCode: 10151, wantDesc: "mirror transform source: invalid subject o..a"},
		{name: "mirror transform bad destination", cfg: jsapi.StreamConfig{Name: "S", Mirror: &jsapi.StreamSource{Name: "O", SubjectTransforms: []jsapi.SubjectTransformConfig{tr("o.*", "x.$2")}}}, wantCode: 10154},
		{name: "mirror transform destination loses '>'", cfg: jsapi.StreamConfig{Name: "S", Mirror: &jsapi.StreamSource{Name: "O", SubjectTransforms: []jsapi.SubjectTransformConfig{tr("o.>", "x")}}},
			wantCode: 10154, wantDesc: "mirror transform: invalid subject"},
		{name: "mirror transforms collide", cfg: jsapi.StreamConfig{Name: "S", Mirror: &jsapi.StreamSource{Name: "O", SubjectTransforms: []jsapi.SubjectTransformConfig{tr("o.*", ""), tr("*.a", "")}}}, wantCode: 10152},
		{name: "mirror transforms empty and '>' collide", cfg: jsapi.StreamConfig{Name: "S", Mirror: &jsapi.StreamSource{Name: "O", SubjectTransforms: []jsapi.SubjectTransformConfig{tr("", ""), tr(">", "")}}}, wantCode: 10152},
		{name: "mirror bad name", cfg: jsapi.StreamConfig{Name: "S", Mirror: mirrorOf("O.x")}, wantCode: 10142},
		{name: "mirror no name", cfg: jsapi.StreamConfig{Name: "S", Mirror: mirrorOf("")}, wantCode: 10142},
		{name: "mirror max msg size below origin's", cfg: jsapi.StreamConfig{Name: "S", Mirror: mirrorOf("O"), MaxMsgSize: 100}, wantCode: 10030},
		{name: "mirror of itself", cfg: jsapi.StreamConfig{Name: "S", Mirror: mirrorOf("S")}, wantCode: 10052, wantDesc: "detected cycle"},
		{name: "mirror cycle through a source", cfg: jsapi.StreamConfig{Name: "C", Mirror: mirrorOf("M")}, wantCode: 10052, wantDesc: "detected cycle"},
		{name: "mirror external deliver prefix wildcard", cfg: jsapi.StreamConfig{Name: "S", Mirror: &jsapi.StreamSource{Name: "O", External: &jsapi.ExternalStream{APIPrefix: "$JS.hub.API", DeliverPrefix: "dlv.>"}}},
			wantCode: 10024, wantDesc: "stream external delivery prefix dlv.> must not contain wildcards"},
		{name: "mirror external api is $JS.API", cfg: jsapi.StreamConfig{Name: "S", Mirror: &jsapi.StreamSource{Name: "O", External: &jsapi.ExternalStream{APIPrefix: "$JS.API"}}},
			wantCode: 10021, wantDesc: "stream external api prefix $JS.API must not overlap with $JS.API"},

		// Sources.
		{name: "sources with schedules", cfg: jsapi.StreamConfig{Name: "S", Sources: []*jsapi.StreamSource{{Name: "O"}}, AllowMsgSchedules: true}, wantCode: 10187},
		{name: "nil source", cfg: jsapi.StreamConfig{Name: "S", Sources: []*jsapi.StreamSource{nil}}, wantCode: 10141},
		{name: "source bad name", cfg: jsapi.StreamConfig{Name: "S", Sources: []*jsapi.StreamSource{{Name: "a b"}}}, wantCode: 10141},
		{name: "external source bad name", cfg: jsapi.StreamConfig{Name: "S", Sources: []*jsapi.StreamSource{{Name: "O.*", External: hub}}}, wantCode: 10141},
		{name: "duplicate source", cfg: jsapi.StreamConfig{Name: "S", Sources: []*jsapi.StreamSource{{Name: "O"}, {Name: "O"}}}, wantCode: 10140},
		{name: "duplicate source, empty filter is '>'", cfg: jsapi.StreamConfig{Name: "S", Sources: []*jsapi.StreamSource{{Name: "O"}, {Name: "O", FilterSubject: ">"}}}, wantCode: 10140},
		{name: "duplicate external source", cfg: jsapi.StreamConfig{Name: "S", Sources: []*jsapi.StreamSource{
			{Name: "O", External: hub, FilterSubject: "o.a"},
			{Name: "O", External: &jsapi.ExternalStream{APIPrefix: "$JS.hub.API", DeliverPrefix: "d"}, FilterSubject: "o.a"}}}, wantCode: 10140},
		{name: "source filter and transforms", cfg: jsapi.StreamConfig{Name: "S", Sources: []*jsapi.StreamSource{{Name: "O", FilterSubject: "o.a", SubjectTransforms: []jsapi.SubjectTransformConfig{tr("o.b", "")}}}}, wantCode: 10144},
		{name: "source transform bad source", cfg: jsapi.StreamConfig{Name: "S", Sources: []*jsapi.StreamSource{{Name: "O", SubjectTransforms: []jsapi.SubjectTransformConfig{tr("o.>.a", "")}}}},
			wantCode: 10145, wantDesc: "source transform source: invalid subject o.>.a"},
		{name: "source transform bad destination", cfg: jsapi.StreamConfig{Name: "S", Sources: []*jsapi.StreamSource{{Name: "O", SubjectTransforms: []jsapi.SubjectTransformConfig{tr("o.*", "x.*")}}}}, wantCode: 10146},
		{name: "source transform destination loses '>'", cfg: jsapi.StreamConfig{Name: "S", Sources: []*jsapi.StreamSource{{Name: "O", SubjectTransforms: []jsapi.SubjectTransformConfig{tr("", "x")}}}},
			wantCode: 10146, wantDesc: "source transform: invalid subject"},
		{name: "source transforms overlap", cfg: jsapi.StreamConfig{Name: "S", Sources: []*jsapi.StreamSource{{Name: "O", SubjectTransforms: []jsapi.SubjectTransformConfig{tr("o.*", ""), tr("o.a", "")}}}}, wantCode: 10147},
		{name: "source consumer bad name", cfg: jsapi.StreamConfig{Name: "S", Sources: []*jsapi.StreamSource{{Name: "O", Consumer: cons("c>", "dlv")}}}, wantCode: 10215},
		{name: "source consumer wildcard deliver", cfg: jsapi.StreamConfig{Name: "S", Sources: []*jsapi.StreamSource{{Name: "O", Consumer: cons("C", "*")}}}, wantCode: 10215},
		{name: "source consumer with start time", cfg: jsapi.StreamConfig{Name: "S", Sources: []*jsapi.StreamSource{{Name: "O", OptStartTime: &start, Consumer: cons("C", "dlv")}}}, wantCode: 10215},
		{name: "source consumer with filter", cfg: jsapi.StreamConfig{Name: "S", Sources: []*jsapi.StreamSource{{Name: "O", FilterSubject: "o.a", Consumer: cons("C", "dlv")}}}, wantCode: 10215},
		{name: "source consumer used twice", cfg: jsapi.StreamConfig{Name: "S", Sources: []*jsapi.StreamSource{
			{Name: "O", Consumer: cons("C", "dlv.1"), SubjectTransforms: []jsapi.SubjectTransformConfig{tr("o.a", "")}},
			{Name: "O", Consumer: cons("C", "dlv.2"), SubjectTransforms: []jsapi.SubjectTransformConfig{tr("o.b", "")}}}}, wantCode: 10216},
		{name: "source max msg size below origin's", cfg: jsapi.StreamConfig{Name: "S", Sources: []*jsapi.StreamSource{{Name: "O"}}, MaxMsgSize: 1023}, wantCode: 10046},
		{name: "source external deliver prefix wildcard", cfg: jsapi.StreamConfig{Name: "S", Sources: []*jsapi.StreamSource{{Name: "O", External: &jsapi.ExternalStream{APIPrefix: "$JS.hub.API", DeliverPrefix: "*"}}}},
			wantCode: 10024, wantDesc: "stream external delivery prefix * must not contain wildcards"},
		{name: "source external deliver prefix overlaps local origin", cfg: jsapi.StreamConfig{Name: "S", Sources: []*jsapi.StreamSource{
			{Name: "FOO"}, {Name: "X", External: &jsapi.ExternalStream{APIPrefix: "$JS.hub.API", DeliverPrefix: "foo"}}}},
			wantCode: 10022, wantDesc: "stream external delivery prefix foo overlaps with stream subject foo.>"},
		{name: "source external api prefix wildcard", cfg: jsapi.StreamConfig{Name: "S", Sources: []*jsapi.StreamSource{{Name: "O", External: &jsapi.ExternalStream{APIPrefix: "$JS.*.API"}}}},
			wantCode: 10052, wantDesc: `stream external api prefix "$JS.*.API" must be a valid subject without wildcards`},
		{name: "source external api is $JS.API", cfg: jsapi.StreamConfig{Name: "S", Sources: []*jsapi.StreamSource{{Name: "O", External: &jsapi.ExternalStream{APIPrefix: "$JS.API"}}}},
			wantCode: 10021, wantDesc: "stream external api prefix $JS.API must not overlap with $JS.API"},
		{name: "source of itself", cfg: jsapi.StreamConfig{Name: "S", Subjects: []string{"s"}, Sources: []*jsapi.StreamSource{{Name: "S"}}}, wantCode: 10052, wantDesc: "detected cycle"},
		{name: "source cycle", cfg: jsapi.StreamConfig{Name: "A", Subjects: []string{"a"}, Sources: []*jsapi.StreamSource{{Name: "B"}}}, wantCode: 10052, wantDesc: "detected cycle"},

		// Accepted.
		{name: "mirror", cfg: jsapi.StreamConfig{Name: "S", Mirror: mirrorOf("O"), MaxMsgSize: -1}},
		{name: "mirror of a stream not there yet", cfg: jsapi.StreamConfig{Name: "S", Mirror: mirrorOf("LATER")}},
		{name: "mirror with a filter", cfg: jsapi.StreamConfig{Name: "S", Mirror: &jsapi.StreamSource{Name: "O", FilterSubject: "o.a.>"}}},
		{name: "mirror with transforms", cfg: jsapi.StreamConfig{Name: "S", Mirror: &jsapi.StreamSource{Name: "O", SubjectTransforms: []jsapi.SubjectTransformConfig{tr("o.a.*", "x.$1"), tr("o.b.>", "y.>")}}}},
		{name: "mirror by consumer with transforms", cfg: jsapi.StreamConfig{Name: "S", Mirror: &jsapi.StreamSource{Name: "O", Consumer: cons("C", "dlv.s"), SubjectTransforms: []jsapi.SubjectTransformConfig{tr("o.>", "x.>")}}}},
		{name: "mirror max msg size above origin's", cfg: jsapi.StreamConfig{Name: "S", Mirror: mirrorOf("O"), MaxMsgSize: 2048}},
		{name: "external mirror, name not checked", cfg: jsapi.StreamConfig{Name: "S", Mirror: &jsapi.StreamSource{Name: "O.x", External: hub}}},
		{name: "external mirror of the same name", cfg: jsapi.StreamConfig{Name: "S", Mirror: &jsapi.StreamSource{Name: "S", External: &jsapi.ExternalStream{APIPrefix: "$JS.hub.API", DeliverPrefix: "dlv.s"}}}},
		{name: "source by domain", cfg: jsapi.StreamConfig{Name: "S", Sources: []*jsapi.StreamSource{{Name: "O", External: hub}}}},
		{name: "same origin, different filters", cfg: jsapi.StreamConfig{Name: "S", Sources: []*jsapi.StreamSource{{Name: "O", FilterSubject: "o.a"}, {Name: "O", FilterSubject: "o.b"}}}},
		{name: "same name, local and external", cfg: jsapi.StreamConfig{Name: "S", Sources: []*jsapi.StreamSource{{Name: "O"}, {Name: "O", External: hub}}}},
		{name: "same name, two domains", cfg: jsapi.StreamConfig{Name: "S", Sources: []*jsapi.StreamSource{{Name: "O", External: hub}, {Name: "O", External: &jsapi.ExternalStream{APIPrefix: "$JS.other.API"}}}}},
		{name: "sources with transforms", cfg: jsapi.StreamConfig{Name: "S", Sources: []*jsapi.StreamSource{
			{Name: "O", SubjectTransforms: []jsapi.SubjectTransformConfig{tr("o.a.*", "s.a.{{wildcard(1)}}"), tr("o.b.>", "s.b.>")}},
			{Name: "FOO", SubjectTransforms: []jsapi.SubjectTransformConfig{tr("foo.>", "")}}}}},
		{name: "source transforms intersecting, neither a subset", cfg: jsapi.StreamConfig{Name: "S", Sources: []*jsapi.StreamSource{{Name: "O", SubjectTransforms: []jsapi.SubjectTransformConfig{tr("o.*.a", ""), tr("o.b.*", "")}}}}},
		{name: "source by consumer (ADR-60)", cfg: jsapi.StreamConfig{Name: "S", Sources: []*jsapi.StreamSource{{Name: "O", External: hub, Consumer: cons("C", "dlv.s")}}}},
		{name: "same consumer name, two origins", cfg: jsapi.StreamConfig{Name: "S", Sources: []*jsapi.StreamSource{{Name: "O", Consumer: cons("C", "dlv.1")}, {Name: "FOO", Consumer: cons("C", "dlv.2")}}}},
		{name: "external deliver prefix clear of local origins", cfg: jsapi.StreamConfig{Name: "S", Sources: []*jsapi.StreamSource{
			{Name: "FOO"}, {Name: "X", External: &jsapi.ExternalStream{APIPrefix: "$JS.hub.API", DeliverPrefix: "dlv"}}}}},
		{name: "sourcing streams that source each other, filters apart", cfg: jsapi.StreamConfig{Name: "Q", Subjects: []string{"q.y"}, Sources: []*jsapi.StreamSource{{Name: "P"}}}},
		{name: "source of itself, external", cfg: jsapi.StreamConfig{Name: "S", Subjects: []string{"s"}, Sources: []*jsapi.StreamSource{{Name: "S", External: hub}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			e := checkSourcesConfig(&cfg, sourcesTestLookup)
			switch {
			case tc.wantCode == 0 && e != nil:
				t.Fatalf("refused: %d %q", e.ErrCode, e.Description)
			case tc.wantCode == 0:
			case e == nil:
				t.Fatalf("accepted, want %d", tc.wantCode)
			case e.ErrCode != tc.wantCode:
				t.Fatalf("got %d %q, want %d", e.ErrCode, e.Description, tc.wantCode)
			case tc.wantDesc != "" && e.Description != tc.wantDesc:
				t.Fatalf("description %q, want %q", e.Description, tc.wantDesc)
			}
		})
	}
}

// A mirror of a local stream takes mirror_direct from the origin's
// allow_direct, either way; an external origin leaves it as given.
func TestSourcesConfigMirrorDirect(t *testing.T) {
	for _, tc := range []struct {
		mirror *jsapi.StreamSource
		given  bool
		want   bool
	}{
		{mirrorOf("O"), false, true},
		{mirrorOf("NODIR"), true, false},
		{mirrorOf("LATER"), true, true},
		{&jsapi.StreamSource{Name: "O", External: &jsapi.ExternalStream{APIPrefix: "$JS.hub.API"}}, false, false},
	} {
		cfg := jsapi.StreamConfig{Name: "S", Mirror: tc.mirror, MirrorDirect: tc.given}
		if e := checkSourcesConfig(&cfg, sourcesTestLookup); e != nil {
			t.Fatalf("%s: %v", tc.mirror.Name, e)
		}
		if cfg.MirrorDirect != tc.want {
			t.Errorf("mirror of %s: mirror_direct %v, want %v", tc.mirror.Name, cfg.MirrorDirect, tc.want)
		}
	}
}

func TestSourcesConfigIName(t *testing.T) {
	hub := &jsapi.ExternalStream{APIPrefix: "$JS.hub.API"}
	for _, tc := range []struct {
		src  jsapi.StreamSource
		want string
	}{
		{jsapi.StreamSource{Name: "O"}, "O > >"},
		{jsapi.StreamSource{Name: "O", FilterSubject: "o.a"}, "O o.a >"},
		{jsapi.StreamSource{Name: "O", SubjectTransforms: []jsapi.SubjectTransformConfig{tr("o.*", "x.$1"), tr("", "")}}, "O o.*\f> x.$1\f>"},
		{jsapi.StreamSource{Name: "O", External: hub}, "O:" + shortHash("$JS.hub.API") + " > >"},
		{jsapi.StreamSource{Name: "O", External: hub, Consumer: &jsapi.StreamConsumerSource{Name: "C"}}, "O:" + shortHash("$JS.hub.API") + ":C=" + shortHash("C") + " > >"},
	} {
		if got := sourceIName(&tc.src); got != tc.want {
			t.Errorf("%+v: iname %q, want %q", tc.src, got, tc.want)
		}
	}
}

// The filter_subject check nats-server makes only on create.
func TestSourcesConfigCreateFilters(t *testing.T) {
	for _, tc := range []struct {
		cfg      jsapi.StreamConfig
		wantDesc string // "": accepted
	}{
		{jsapi.StreamConfig{Name: "S", Mirror: &jsapi.StreamSource{Name: "O", FilterSubject: "o..a"}}, "subject filter 'o..a' for the mirror invalid subject"},
		{jsapi.StreamConfig{Name: "S", Sources: []*jsapi.StreamSource{{Name: "O"}, {Name: "O", FilterSubject: "o a"}}}, "subject filter 'o a' for the source: invalid subject"},
		{jsapi.StreamConfig{Name: "S", Mirror: &jsapi.StreamSource{Name: "O", FilterSubject: "o.*.>"}}, ""},
		{jsapi.StreamConfig{Name: "S", Sources: []*jsapi.StreamSource{{Name: "O", FilterSubject: "o.a"}}}, ""},
	} {
		e := checkSourceFilters(&tc.cfg)
		switch {
		case tc.wantDesc == "" && e != nil:
			t.Errorf("refused: %v", e)
		case tc.wantDesc == "":
		case e == nil:
			t.Errorf("accepted, want %q", tc.wantDesc)
		case e.ErrCode != 10049 || e.Description != tc.wantDesc:
			t.Errorf("got %d %q, want 10049 %q", e.ErrCode, e.Description, tc.wantDesc)
		}
	}
}

func TestSourcesConfigUpdate(t *testing.T) {
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	mirror := func(filter string) *jsapi.StreamSource {
		return &jsapi.StreamSource{Name: "O", FilterSubject: filter, OptStartTime: &start,
			External: &jsapi.ExternalStream{APIPrefix: "$JS.hub.API"}}
	}
	sources := func(names ...string) []*jsapi.StreamSource {
		var s []*jsapi.StreamSource
		for _, n := range names {
			s = append(s, &jsapi.StreamSource{Name: n})
		}
		return s
	}
	for _, tc := range []struct {
		name     string
		old, upd jsapi.StreamConfig
		refused  bool
	}{
		{name: "mirror unchanged", old: jsapi.StreamConfig{Mirror: mirror("o.a")}, upd: jsapi.StreamConfig{Mirror: mirror("o.a")}},
		{name: "mirror removed (promoted)", old: jsapi.StreamConfig{Mirror: mirror("o.a")}, upd: jsapi.StreamConfig{}},
		{name: "mirror removed, sources added", old: jsapi.StreamConfig{Mirror: mirror("o.a")}, upd: jsapi.StreamConfig{Sources: sources("O")}},
		{name: "mirror changed", old: jsapi.StreamConfig{Mirror: mirror("o.a")}, upd: jsapi.StreamConfig{Mirror: mirror("o.b")}, refused: true},
		{name: "mirror external dropped", old: jsapi.StreamConfig{Mirror: mirror("")}, upd: jsapi.StreamConfig{Mirror: &jsapi.StreamSource{Name: "O", OptStartTime: &start}}, refused: true},
		{name: "mirror added", old: jsapi.StreamConfig{Subjects: []string{"s"}}, upd: jsapi.StreamConfig{Mirror: mirror("")}, refused: true},
		{name: "sources to mirror", old: jsapi.StreamConfig{Sources: sources("O")}, upd: jsapi.StreamConfig{Mirror: mirror("")}, refused: true},
		{name: "sources added", old: jsapi.StreamConfig{Sources: sources("O")}, upd: jsapi.StreamConfig{Sources: sources("O", "FOO")}},
		{name: "sources removed", old: jsapi.StreamConfig{Sources: sources("O", "FOO")}, upd: jsapi.StreamConfig{}},
		{name: "source changed", old: jsapi.StreamConfig{Sources: sources("O")}, upd: jsapi.StreamConfig{Sources: []*jsapi.StreamSource{{Name: "O", FilterSubject: "o.a"}}}},
		{name: "empty transforms same as none",
			old: jsapi.StreamConfig{Mirror: &jsapi.StreamSource{Name: "O", SubjectTransforms: []jsapi.SubjectTransformConfig{}}},
			upd: jsapi.StreamConfig{Mirror: &jsapi.StreamSource{Name: "O"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := checkSourcesUpdate(&tc.old, &tc.upd)
			switch {
			case !tc.refused && e != nil:
				t.Fatalf("refused: %v", e)
			case tc.refused && (e == nil || e.ErrCode != 10055 || e.Description != "stream mirror configuration can not be updated"):
				t.Fatalf("got %+v, want 10055", e)
			}
		})
	}
}
