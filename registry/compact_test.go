package registry_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/yarngate/yarngate/registry"
	"github.com/yarngate/yarngate/registry/registrytest"
)

// fill sets every field reachable from v to a non-zero value derived from its path (one element in each
// slice and map, every pointer set), so that a field added to Record later is filled too.
func fill(t *testing.T, v reflect.Value, path string) {
	t.Helper()
	switch {
	case v.Type() == reflect.TypeFor[time.Time]():
		v.Set(reflect.ValueOf(time.Date(2026, 1, 2, 3, 4, 5, len(path)*1000, time.UTC)))
		return
	case v.Type() == reflect.TypeFor[json.RawMessage]():
		v.Set(reflect.ValueOf(json.RawMessage(fmt.Sprintf(`{"path":%q}`, path))))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString("v-" + path)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(len(path)))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(len(path)))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(float64(len(path)) / 2)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(t, v.Elem(), path)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(t, v.Index(0), path+"[0]")
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(t, k, path+".key")
		fill(t, e, path+".value")
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() {
				t.Fatalf("%s.%s: unexported field; fill does not know it", path, f.Name)
			}
			fill(t, v.Field(i), path+"."+f.Name)
		}
	default:
		t.Fatalf("%s: fill does not know %s", path, v.Type())
	}
}

// fullRecord is a record with every field set.
func fullRecord(t *testing.T, id string) registry.Record {
	var rec registry.Record
	fill(t, reflect.ValueOf(&rec).Elem(), "Record")
	rec.ID = id
	rec.Version = 0 // the store's
	return rec
}

// TestRecordRoundTrip checks that every field of a Record comes back from the registry's compact form as
// written, through each way of reading it: a new field that the compact form does not carry fails it.
func TestRecordRoundTrip(t *testing.T) {
	ctx := t.Context()
	s := registrytest.NewMemStore()
	reg := open(t, s)
	want, err := reg.Create(ctx, fullRecord(t, "application_1_0001"))
	if err != nil {
		t.Fatal(err)
	}
	if want.Status.Schema == 0 || len(want.View) == 0 {
		t.Fatalf("the record written is not full: %+v", want)
	}
	reopened := open(t, s) // loads it from the store
	tests := []struct {
		name string
		read func() (registry.Record, bool)
	}{
		{"Get", func() (registry.Record, bool) { r, err := reg.Get(ctx, want.ID); return r, err == nil }},
		{"Cached", func() (registry.Record, bool) { return reg.Cached(want.ID) }},
		{"ByApplication", func() (registry.Record, bool) { return reg.ByApplication(want.ID) }},
		{"List", func() (registry.Record, bool) {
			l := reg.List(nil)
			return l[0], len(l) == 1
		}},
		{"reopened", func() (registry.Record, bool) { return reopened.Cached(want.ID) }},
		{"updated", func() (registry.Record, bool) {
			r, err := reg.Update(ctx, want.ID, func(r *registry.Record) (bool, error) { return true, nil })
			if err != nil {
				return r, false
			}
			want.UpdatedAt, want.Version = r.UpdatedAt, r.Version
			got, ok := reg.Cached(want.ID)
			return got, ok && reflect.DeepEqual(got, r)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := tc.read()
			if !ok {
				t.Fatal("not read")
			}
			if !reflect.DeepEqual(got, want) {
				gb, _ := json.Marshal(got)
				wb, _ := json.Marshal(want)
				t.Errorf("read back\n %s\nwant\n %s\n(version %d, want %d)", gb, wb, got.Version, want.Version)
			}
		})
	}
}

// TestSummaryOf checks every field of a Summary against the record's; a Summary field without a row here
// fails it.
func TestSummaryOf(t *testing.T) {
	rec := fullRecord(t, "application_1_0001.0123456789abcdef0123456789abcdef")
	rec.Savepoints = append(rec.Savepoints, rec.Savepoints...)
	sum := registry.SummaryOf(&rec)
	tests := map[string]any{
		"ID": rec.ID, "Kind": rec.Kind, "ApplicationID": rec.ApplicationID, "Owner": rec.Owner, "ACL": rec.ACL,
		"State": rec.State, "Terminal": rec.Terminal, "Launcher": rec.Launcher, "Schema": rec.Status.Schema, "Since": rec.Status.Since,
		"YARNState": rec.Status.YARN.State, "UpgradeStep": rec.Upgrade.Step, "Cluster": true, "Credentials": rec.Credentials,
		"Health": rec.Status.Health.Status, "AutoRestart": true, "FailureKnown": rec.Status.Flink.Failure != "",
		"Outbox": len(rec.Outbox), "Savepoints": 2, "CreatedAt": rec.CreatedAt, "EndedAt": rec.EndedAt,
		"GoneAt": rec.GoneAt,
	}
	v := reflect.ValueOf(sum)
	for i := range v.NumField() {
		name := v.Type().Field(i).Name
		want, ok := tests[name]
		if !ok {
			t.Errorf("Summary.%s is not checked: add it here", name)
			continue
		}
		if got := v.Field(i).Interface(); !reflect.DeepEqual(got, want) {
			t.Errorf("Summary.%s = %v, want %v", name, got, want)
		}
	}
	if len(tests) != v.NumField() {
		t.Errorf("%d fields checked, Summary has %d", len(tests), v.NumField())
	}
	empty := registry.SummaryOf(&registry.Record{ID: "x", ApplicationID: "y"})
	if empty.UpgradeStep != "" || empty.Cluster || empty.FailureKnown || empty.ApplicationID != "y" {
		t.Errorf("summary of an empty record: %+v", empty)
	}
}

// TestOrderAndNewest checks the creation-time order of List and Scan and the pages Newest walks.
func TestOrderAndNewest(t *testing.T) {
	ctx := t.Context()
	reg := open(t, registrytest.NewMemStore())
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// Created out of order; b and c share a creation time.
	for _, r := range []struct {
		id string
		at time.Duration
	}{{"d", 3}, {"b", 1}, {"a", 0}, {"c", 1}, {"e", 4}} {
		if _, err := reg.Create(ctx, registry.Record{ID: r.id, Kind: registry.KindJob, State: "RUNNING",
			CreatedAt: base.Add(r.at * time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(recs []registry.Record) (out []string) {
		for _, r := range recs {
			out = append(out, r.ID)
		}
		return out
	}
	if got := ids(reg.List(nil)); !slices.Equal(got, []string{"a", "b", "c", "d", "e"}) {
		t.Errorf("List = %v", got)
	}
	var scanned []string
	reg.Scan(func(s *registry.Summary) bool { scanned = append(scanned, s.ID); return s.ID != "c" })
	if !slices.Equal(scanned, []string{"a", "b", "c"}) {
		t.Errorf("Scan until c = %v", scanned)
	}
	if n := reg.Count(func(s *registry.Summary) bool { return s.CreatedAt.After(base) }); n != 4 {
		t.Errorf("Count = %d, want 4", n)
	}
	tests := []struct {
		name string
		at   time.Duration
		id   string
		want []string
	}{
		{"from the newest", 0, "", []string{"e", "d", "c", "b", "a"}},
		{"after d", 3, "d", []string{"c", "b", "a"}},
		{"after c, same time as b", 1, "c", []string{"b", "a"}},
		{"after a position between records", 2, "zz", []string{"c", "b", "a"}},
		{"after the oldest", 0, "a", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			reg.Newest(base.Add(tc.at*time.Second), tc.id, func(s *registry.Summary) bool {
				got = append(got, s.ID)
				return true
			})
			if !slices.Equal(got, tc.want) {
				t.Errorf("Newest = %v, want %v", got, tc.want)
			}
		})
	}
	// Deleted and updated records leave the index and keep their place.
	recs := reg.List(func(s *registry.Summary) bool { return s.ID == "c" })
	if err := reg.Delete(ctx, recs[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Update(ctx, "b", func(r *registry.Record) (bool, error) { r.State = "FINISHED"; return true, nil }); err != nil {
		t.Fatal(err)
	}
	if got := ids(reg.List(nil)); !slices.Equal(got, []string{"a", "b", "d", "e"}) {
		t.Errorf("List after delete = %v", got)
	}
	if s, ok := reg.Lookup("b"); !ok || s.State != "FINISHED" {
		t.Errorf("Lookup(b) = %+v, %t", s, ok)
	}
	if _, ok := reg.Lookup("c"); ok {
		t.Error("Lookup(c) found the deleted record")
	}
	// An update that moves a record in the order (its creation time changed) leaves no entry at its old place,
	// and a record created again under a deleted one's id appears once, at its new place.
	if _, err := reg.Update(ctx, "a", func(r *registry.Record) (bool, error) { r.CreatedAt = base.Add(5 * time.Second); return true, nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Create(ctx, registry.Record{ID: "c", Kind: registry.KindJob, State: "RUNNING", CreatedAt: base.Add(6 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	if got := ids(reg.List(nil)); !slices.Equal(got, []string{"b", "d", "e", "a", "c"}) {
		t.Errorf("List after moving a and re-creating c = %v, want [b d e a c]", got)
	}
	var newest []string
	reg.Newest(base.Add(time.Hour), "", func(s *registry.Summary) bool { newest = append(newest, s.ID); return true })
	if !slices.Equal(newest, []string{"c", "a", "e", "d", "b"}) {
		t.Errorf("Newest after moving a and re-creating c = %v, want [c a e d b]", newest)
	}
}

// TestRecordMemory reports the heap a registry holds per typical record (a job with a spec, six transitions
// and a status), and fails beyond 1 KiB.
func TestRecordMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 5,000 records")
	}
	const n = 5000
	per, err := registrytest.HeapPerRecord(t.Context(), n, registrytest.TypicalRecord)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d records: %.0f bytes of heap per record", n, per)
	if per > 1024 {
		t.Errorf("%.0f bytes per record, want at most 1 KiB", per)
	}
}

// BenchmarkCached measures a read of one typical record from memory (decompression and decoding).
func BenchmarkCached(b *testing.B) {
	reg := registrytest.Open(b, registrytest.NewMemStore())
	const n = 1000
	ids := make([]string, n)
	for i := range n {
		rec, err := reg.Create(b.Context(), registrytest.TypicalRecord(i))
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = rec.ID
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, ok := reg.Cached(ids[i%n]); !ok {
			b.Fatal("not found")
		}
		i++
	}
}

// TestHolds: Holds tells a record read from the registry that is still the latest from one updated since, or
// deleted and created again under its id (whose version may start over at the same number).
func TestHolds(t *testing.T) {
	ctx := t.Context()
	reg := open(t, registrytest.NewMemStore())
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rec, err := reg.Create(ctx, registry.Record{ID: "a", Kind: registry.KindJob, State: "RUNNING", CreatedAt: base})
	if err != nil {
		t.Fatal(err)
	}
	if !reg.Holds(&rec) {
		t.Fatal("Holds is false for the record just created")
	}
	updated, err := reg.Update(ctx, "a", func(r *registry.Record) (bool, error) { r.State = "FINISHED"; return true, nil })
	if err != nil {
		t.Fatal(err)
	}
	if reg.Holds(&rec) || !reg.Holds(&updated) {
		t.Errorf("after an update: Holds(old) %t, Holds(new) %t", reg.Holds(&rec), reg.Holds(&updated))
	}
	if err := reg.Delete(ctx, updated); err != nil {
		t.Fatal(err)
	}
	again, err := reg.Create(ctx, registry.Record{ID: "a", Kind: registry.KindJob, State: "STARTING", CreatedAt: base.Add(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if again.Version != rec.Version {
		t.Logf("the store numbers a re-created key %d, the first %d", again.Version, rec.Version)
	}
	if reg.Holds(&rec) {
		t.Error("Holds is true for the record of the same id and version that was deleted")
	}
	if !reg.Holds(&again) {
		t.Error("Holds is false for the re-created record")
	}
}
