// Package keytab keeps users' Kerberos keytabs as secrets, for launches that must outlive their HDFS
// delegation token: a keytab is validated on upload (it parses, holds keys for the named principal, and,
// when a Verify function is given, the KDC accepts them), reduced to that principal's entries, and written
// to HDFS under the staging root, mode 0600 in a 0700 directory only the gateway's user can enter:
//
//	<root>/keytabs/<id>.keytab
//
// The id is random (32 lower-case hex digits), never derived from the content. What a keytab is — its
// owner (the user who uploaded it, in a one-line header before the keys), principal, creation time (the
// file's modification time), key versions and encryption types — is read from the file itself, so there is
// no second file to keep in step. Who may see or use a keytab is decided by the caller of the store (package
// job), from its owner. Nothing here ever logs, renders or returns key material except Read, whose caller
// (a launch) ships the keytab to the cluster.
//
// Dependency rule: keytab is a client package. It imports gokrb5's keytab format and the standard library,
// never another package of ours; it reaches HDFS through the small fileStore interface it declares (which
// *hdfs.Store implements) and the KDC through Options.Verify (which app wires to package kerberos).
package keytab

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	krbkeytab "github.com/jcmturner/gokrb5/v8/keytab"
)

// Errors of the store; test with errors.Is. Those of an upload end in a client-safe detail after the
// sentinel's text.
var (
	// ErrInvalid: the upload is not a keytab, or holds no key of the named principal.
	ErrInvalid = errors.New("invalid keytab")
	// ErrTooLarge: the upload is larger than MaxSize.
	ErrTooLarge = errors.New("keytab too large")
	// ErrRejected: the KDC refused a login with the keytab's keys (Options.Verify failed).
	ErrRejected = errors.New("the KDC rejected the keytab")
	// ErrVerifyUnavailable: the keytab could not be tried because no KDC answered. Verify functions wrap
	// it to say so; the store passes it on instead of ErrRejected.
	ErrVerifyUnavailable = errors.New("no KDC answered")
	// ErrNotFound: no keytab has this id.
	ErrNotFound = errors.New("keytab not found")
	// ErrInvalidID: an id is not 32 lower-case hex digits.
	ErrInvalidID = errors.New("invalid keytab id")
)

// MaxSize bounds an uploaded keytab: a keytab holds a few keys of a few principals, well under a kilobyte
// each.
const MaxSize = 64 << 10

// Keytab describes a stored keytab; it never holds key material.
type Keytab struct {
	// ID identifies the keytab (32 lower-case hex digits).
	ID string
	// Principal is the one principal whose keys the keytab holds, name[/instance]@REALM.
	Principal string
	// Owner is the user who uploaded it (the short name of the caller's principal); empty for a keytab stored
	// before keytabs had owners.
	Owner string
	// Created is when it was stored.
	Created time.Time
	// Keys lists its keys, without their values, in file order.
	Keys []Key
}

// Key is one key of a keytab, without its value.
type Key struct {
	// Version is the key version number (kvno).
	Version uint32
	// EncryptionType names the key's encryption type, such as aes256-cts-hmac-sha1-96.
	EncryptionType string
}

// etypeNames are the canonical names of the encryption types keytabs hold (RFC 3961, 8009, 4757).
var etypeNames = map[int32]string{
	1: "des-cbc-crc", 3: "des-cbc-md5", 16: "des3-cbc-sha1", 17: "aes128-cts-hmac-sha1-96",
	18: "aes256-cts-hmac-sha1-96", 19: "aes128-cts-hmac-sha256-128", 20: "aes256-cts-hmac-sha384-192",
	23: "arcfour-hmac", 24: "arcfour-hmac-exp", 25: "camellia128-cts-cmac", 26: "camellia256-cts-cmac",
}

func etypeName(t int32) string {
	if n, ok := etypeNames[t]; ok {
		return n
	}
	return fmt.Sprintf("etype-%d", t)
}

// ShortName is the first component of a principal, the user Hadoop's default auth_to_local rule maps it
// to: alice for alice@EXAMPLE.COM and for alice/host@EXAMPLE.COM.
func ShortName(principal string) string {
	name, _, _ := strings.Cut(principal, "@")
	first, _, _ := strings.Cut(name, "/")
	return first
}

// parse reads a keytab; gokrb5's parser is guarded against panics on malformed input.
func parse(data []byte) (kt *krbkeytab.Keytab, err error) {
	defer func() {
		if r := recover(); r != nil {
			kt, err = nil, fmt.Errorf("%w: not a keytab file", ErrInvalid)
		}
	}()
	kt = krbkeytab.New()
	if err := kt.Unmarshal(data); err != nil {
		return nil, fmt.Errorf("%w: not a keytab file (%v)", ErrInvalid, err)
	}
	if len(kt.Entries) == 0 {
		return nil, fmt.Errorf("%w: the keytab holds no keys", ErrInvalid)
	}
	return kt, nil
}

// Select parses data and keeps the entries of one principal: the named one (name[/instance][@REALM]; without
// a realm, the name must match in exactly one realm), or, when principal is "", the keytab's only principal.
// It returns the reduced keytab, encoded, and its description (without ID and Created).
func Select(data []byte, principal string) ([]byte, Keytab, error) {
	kt, err := parse(data)
	if err != nil {
		return nil, Keytab{}, err
	}
	name, realm, _ := strings.Cut(strings.TrimSpace(principal), "@")
	var found []string
	out := krbkeytab.New()
	for _, e := range kt.Entries {
		p := strings.Join(e.Principal.Components, "/") + "@" + e.Principal.Realm
		if name != "" && (strings.Join(e.Principal.Components, "/") != name || (realm != "" && e.Principal.Realm != realm)) {
			continue
		}
		if !slices.Contains(found, p) {
			found = append(found, p)
		}
		out.Entries = append(out.Entries, e)
	}
	switch {
	case len(found) == 0 && name != "":
		return nil, Keytab{}, fmt.Errorf("%w: the keytab holds no key for the principal", ErrInvalid)
	case len(found) > 1 && name != "":
		return nil, Keytab{}, fmt.Errorf("%w: the principal is in several realms of the keytab: name its realm", ErrInvalid)
	case len(found) > 1:
		return nil, Keytab{}, fmt.Errorf("%w: the keytab holds several principals: name one", ErrInvalid)
	}
	info := Keytab{Principal: found[0]}
	for _, e := range out.Entries {
		info.Keys = append(info.Keys, Key{Version: e.KVNO, EncryptionType: etypeName(e.Key.KeyType)})
	}
	b, err := out.Marshal()
	if err != nil {
		return nil, Keytab{}, fmt.Errorf("%w: encode the principal's keys: %v", ErrInvalid, err)
	}
	return b, info, nil
}

// describe reads what a stored keytab is.
func describe(data []byte) (Keytab, error) {
	_, info, err := Select(data, "")
	return info, err
}
