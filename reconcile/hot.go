package reconcile

import (
	"github.com/yarngate/yarngate/registry"
)

// The registry keeps most of each record compressed (registry.Summary is all it holds decoded), and a pass
// reads the record of every application and session job that has not ended: decoding them all, each pass,
// was a third of a pass's CPU at 10⁴ running jobs. The reconciler therefore keeps the decoded record of each
// one it observes that has not ended, as the registry held it (registry.Registry.Holds tells whether it
// still does): about the size of a decoded record (~2.3 KB) per running job and session job,
// and nothing per ended one.

// hotRecord returns the record with this id as the registry holds it, decoding it only when it changed
// since the reconciler last read it. The record's slices are shared with the copy kept: callers must not
// change them in place (observations are pure).
func (r *Reconciler) hotRecord(id string) (registry.Record, bool) {
	r.hotMu.Lock()
	rec, ok := r.hot[id]
	r.hotMu.Unlock()
	if ok && r.opts.Registry.Holds(&rec) {
		return rec, true
	}
	rec, ok = r.opts.Registry.Cached(id)
	r.hotMu.Lock()
	if ok && !rec.Terminal {
		r.hot[id] = rec
	} else {
		delete(r.hot, id)
	}
	r.hotMu.Unlock()
	return rec, ok
}

// hotByApplication is registry.Registry.ByApplication through hotRecord (a record found by one of its
// earlier applications, after an upgrade, is decoded each time: such applications have ended).
func (r *Reconciler) hotByApplication(appID string) (registry.Record, bool) {
	if _, ok := r.opts.Registry.Lookup(appID); ok {
		return r.hotRecord(appID)
	}
	return r.opts.Registry.ByApplication(appID)
}

// hotList is registry.Registry.List through hotRecord.
func (r *Reconciler) hotList(keep func(*registry.Summary) bool) []registry.Record {
	var ids []string
	r.opts.Registry.Scan(func(s *registry.Summary) bool {
		if keep(s) {
			ids = append(ids, s.ID)
		}
		return true
	})
	out := make([]registry.Record, 0, len(ids))
	for _, id := range ids {
		if rec, ok := r.hotRecord(id); ok {
			out = append(out, rec)
		}
	}
	return out
}

// pruneHot drops the kept records that the registry no longer holds at their version (changed, ended or
// dropped since; one still running is read again when next observed).
func (r *Reconciler) pruneHot() {
	r.hotMu.Lock()
	defer r.hotMu.Unlock()
	for id, rec := range r.hot {
		if !r.opts.Registry.Holds(&rec) {
			delete(r.hot, id)
		}
	}
}

// dropHot drops every kept record (this instance stopped leading: it no longer observes them).
func (r *Reconciler) dropHot() {
	r.hotMu.Lock()
	defer r.hotMu.Unlock()
	clear(r.hot)
}
