package zk

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/go-zookeeper/zk"
)

// createParents creates p and its missing ancestors, tolerating concurrent creators. Znodes at base and below
// get the Watcher's ACL; ancestors above base are not the gateway's, and get the world-open ACL any ZooKeeper
// client gives them, so that other tenants of a shared parent are not locked out. Both paths are server paths
// (chroot applied), base a prefix of p.
func createParents(w *Watcher, base, p string) error {
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	for i := range parts {
		dir := "/" + strings.Join(parts[:i+1], "/")
		ok, _, err := w.conn.Exists(dir)
		if err != nil {
			return classify(err)
		}
		if ok {
			continue
		}
		acl := w.acl
		if len(dir) < len(base) {
			acl = zk.WorldACL(zk.PermAll)
		}
		if _, err := w.conn.Create(dir, nil, 0, acl); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("create %s: %w", dir, classify(err))
		}
	}
	return nil
}

// aclSecure reports whether acl keeps a znode the gateway's: it grants the gateway's identity (own) every
// permission, and grants nothing but READ to anyone unauthenticated (world:anyone) or to a network address
// (ip:). Entries for other authenticated identities (an operator's admin digest, say) are left alone.
func aclSecure(acl []zk.ACL, own zk.ACL) bool {
	mine := false
	for _, a := range acl {
		switch {
		case a.Scheme == own.Scheme && a.ID == own.ID && a.Perms&zk.PermAll == zk.PermAll:
			mine = true
		case a.Scheme == "world" || a.Scheme == "ip":
			if a.Perms&^zk.PermRead != 0 {
				return false
			}
		}
	}
	return mine
}

// SecureTree closes root and everything below it to every identity but the Watcher's digest identity: it creates
// root if it is missing (with the Watcher's ACL; missing ancestors above it world-open, as Store and Election
// create them), then gives every znode of the tree whose ACL is not secure — world-writable znodes created by
// earlier, unauthenticated versions of the gateway, or by anyone before it — the Watcher's ACL. A secure ACL
// grants the digest identity everything and the world at most READ; other authenticated identities an operator
// added are kept. It returns how many znodes it changed.
//
// It does not descend into a registry bucket znode whose ACL is already secure (only the digest identity could
// have created its children, and the Store creates them secure), so that it reads 256 znodes per table rather
// than every record.
//
// Znodes whose ACL this identity may not read or change (created under another digest, or taken over) are
// left as they are, and SecureTree fails naming them, wrapping ErrNoAuth. It needs Digest.
func (w *Watcher) SecureTree(ctx context.Context, root string) (int, error) {
	if err := zkValidatePath(root); err != nil || root == "/" {
		return 0, fmt.Errorf("zk: secure tree: bad root %q", root)
	}
	if !w.Protected() {
		return 0, fmt.Errorf("zk: secure tree %s: no digest credentials to secure it with", root)
	}
	if err := w.awaitAuth(ctx, nil); err != nil {
		return 0, fmt.Errorf("zk: secure tree %s: %w", root, err)
	}
	type result struct {
		fixed  int
		locked []string
		err    error
	}
	done := make(chan result, 1)
	server := w.chroot + strings.TrimSuffix(root, "/")
	if err := w.goTracked(func() {
		fixed, locked, err := w.secureTree(ctx, server)
		done <- result{fixed, locked, err}
	}); err != nil {
		return 0, err
	}
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		return 0, fmt.Errorf("zk: secure tree %s: %w", root, ctx.Err())
	}
	switch {
	case r.err != nil:
		return r.fixed, fmt.Errorf("zk: secure tree %s: %w", root, r.err)
	case len(r.locked) > 0:
		const shown = 5
		names := r.locked[:min(len(r.locked), shown)]
		return r.fixed, fmt.Errorf("zk: secure tree %s: %w: %d znode(s) have an ACL this identity may not read or change "+
			"(created under another digest?), such as %s", root, ErrNoAuth, len(r.locked), strings.Join(names, ", "))
	}
	return r.fixed, nil
}

// secureOne gives the znode p the Watcher's ACL, counting it in fixed, or in locked when this identity may
// not; a znode removed meanwhile is skipped.
func (w *Watcher) secureOne(p string, fixed *int, locked *[]string) error {
	_, err := w.conn.SetACL(p, w.acl, -1)
	switch {
	case errors.Is(err, zk.ErrNoNode):
		return nil
	case errors.Is(err, zk.ErrNoAuth):
		*locked = append(*locked, strings.TrimPrefix(p, w.chroot))
		return nil
	case err != nil:
		return fmt.Errorf("set the ACL of %s: %w", p, classify(err))
	}
	*fixed++
	w.log.Info("znode secured: its ACL now admits the gateway's digest identity only",
		"znode", strings.TrimPrefix(p, w.chroot))
	return nil
}

// secureTree walks the tree at the server path root; see SecureTree.
func (w *Watcher) secureTree(ctx context.Context, root string) (fixed int, locked []string, err error) {
	if err := createParents(w, root, root); err != nil {
		return 0, nil, err
	}
	own := w.acl[0]
	// A bucket of the registry Store (zk/bucket.go) holds a 256th of a table's records. When its ACL is
	// secure, no identity but the gateway's could create its children, and the gateway creates them secure:
	// the walk does not descend, so that start-up does not read every record's ACL. An insecure bucket is
	// secured after its children (post), so that an interrupted walk descends into it again next time.
	type item struct {
		path string
		post bool // secure this bucket now: its children were walked
	}
	stack := []item{{path: root}}
	for len(stack) > 0 {
		if err := ctx.Err(); err != nil {
			return fixed, locked, err
		}
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		p := it.path
		bucket := p != root && isBucket(p[strings.LastIndexByte(p, '/')+1:])
		if !it.post {
			acl, _, err := w.conn.GetACL(p)
			switch {
			case errors.Is(err, zk.ErrNoNode): // removed meanwhile
				continue
			case errors.Is(err, zk.ErrNoAuth):
				locked = append(locked, strings.TrimPrefix(p, w.chroot))
				continue
			case err != nil:
				return fixed, locked, classify(err)
			}
			secure := aclSecure(acl, own)
			if bucket && secure {
				continue
			}
			if bucket {
				stack = append(stack, item{path: p, post: true})
			} else if !secure {
				if err := w.secureOne(p, &fixed, &locked); err != nil {
					return fixed, locked, err
				}
			}
		} else {
			if err := w.secureOne(p, &fixed, &locked); err != nil {
				return fixed, locked, err
			}
			continue
		}
		children, _, err := w.conn.Children(p)
		switch {
		case errors.Is(err, zk.ErrNoNode):
			continue
		case errors.Is(err, zk.ErrNoAuth):
			locked = append(locked, strings.TrimPrefix(p, w.chroot))
			continue
		case err != nil:
			return fixed, locked, classify(err)
		}
		for _, c := range children {
			stack = append(stack, item{path: p + "/" + c})
		}
	}
	return fixed, locked, nil
}
