package registry_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/yarngate/yarngate/registry/registrytest"
)

// TestJarOwners: owners are added once each, listed per user, removed one by one, concurrently too; the
// entry goes with the last owner.
func TestJarOwners(t *testing.T) {
	reg := registrytest.Open(t, registrytest.NewMemStore())
	ctx := t.Context()
	const jar = "ab12"
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if err := reg.AddJarOwner(ctx, jar, fmt.Sprintf("user%d", i%4)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	owners, err := reg.JarOwners(ctx, jar)
	if err != nil || !slices.Equal(owners, []string{"user0", "user1", "user2", "user3"}) {
		t.Fatalf("owners %v, %v", owners, err)
	}
	if err := reg.AddJarOwner(ctx, "cd34", "user1"); err != nil {
		t.Fatal(err)
	}
	mine, err := reg.JarsOwned(ctx, "user1")
	if err != nil || len(mine) != 2 || !mine[jar] || !mine["cd34"] {
		t.Fatalf("user1 owns %v, %v", mine, err)
	}
	if mine, _ := reg.JarsOwned(ctx, "user3"); len(mine) != 1 {
		t.Fatalf("user3 owns %v", mine)
	}
	for i, u := range []string{"user0", "nobody", "user1", "user2", "user3"} {
		left, err := reg.RemoveJarOwner(ctx, jar, u)
		want := []int{3, 3, 2, 1, 0}[i]
		if err != nil || left != want {
			t.Fatalf("remove %s: %d left, %v; want %d", u, left, err, want)
		}
	}
	if owners, err := reg.JarOwners(ctx, jar); err != nil || len(owners) != 0 {
		t.Fatalf("after the last owner: %v, %v", owners, err)
	}
	if all, _ := reg.JarsOwned(ctx, ""); len(all) != 1 || !all["cd34"] {
		t.Fatalf("owned jars %v, want cd34 only", all)
	}
}
