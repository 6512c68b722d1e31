package registry_test

import (
	"bytes"
	"sync"
	"testing"

	"github.com/yarngate/yarngate/registry"
	"github.com/yarngate/yarngate/registry/registrytest"
)

// TestSecretSharedAndStable: instances sharing a store that ask for a secret at once all get the same one,
// of SecretSize bytes, and get it again later; another name is another secret.
func TestSecretSharedAndStable(t *testing.T) {
	s := registrytest.NewMemStore()
	regs := []*registry.Registry{open(t, s), open(t, s), open(t, s), open(t, s)}
	got := make([][]byte, len(regs))
	var wg sync.WaitGroup
	for i, r := range regs {
		wg.Go(func() {
			var err error
			if got[i], err = r.Secret(t.Context(), "idempotency"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for i := range got {
		if len(got[i]) != registry.SecretSize || !bytes.Equal(got[i], got[0]) {
			t.Fatalf("instance %d got %x, instance 0 %x", i, got[i], got[0])
		}
	}
	again, err := open(t, s).Secret(t.Context(), "idempotency")
	if err != nil || !bytes.Equal(again, got[0]) {
		t.Fatalf("later: %x, %v; want %x", again, err, got[0])
	}
	other, err := regs[0].Secret(t.Context(), "other")
	if err != nil || bytes.Equal(other, got[0]) {
		t.Fatalf("another name: %x, %v", other, err)
	}
}
