package msgstore_test

import (
	"path/filepath"
	"testing"

	"github.com/leafgate/leafgate/store/msgstore"
	"github.com/leafgate/leafgate/store/msgstore/storetest"
)

func TestMemoryConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) msgstore.Store { return msgstore.NewMemory() }, (*msgstore.Msg).Size)
}

func TestBoltConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) msgstore.Store {
		b, err := msgstore.OpenBolt(filepath.Join(t.TempDir(), "js.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		s, err := b.Stream("S")
		if err != nil {
			t.Fatal(err)
		}
		return s
	}, (*msgstore.Msg).FileSize)
}
