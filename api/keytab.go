package api

import "time"

// Keytab is a stored keytab as the API renders it (POST /v1/keytabs, GET /v1/keytabs/{id}): what it is,
// never its keys.
type Keytab struct {
	// ID identifies the keytab, 32 lower-case hex digits; jobs and sessions name it as keytabId.
	ID string `json:"id"`
	// Principal is the one principal whose keys the gateway kept, name[/instance]@REALM.
	Principal string `json:"principal"`
	// Owner is the user who uploaded it; only the owner and administrators see and use it.
	Owner string `json:"owner"`
	// Keys lists its keys without their values.
	Keys []KeytabKey `json:"keys"`
	// CreatedAt is when it was stored.
	CreatedAt time.Time `json:"createdAt"`
}

// KeytabKey is one key of a keytab, without its value.
type KeytabKey struct {
	// Version is the key version number (kvno).
	Version uint32 `json:"version"`
	// EncryptionType names the encryption type, such as aes256-cts-hmac-sha1-96.
	EncryptionType string `json:"encryptionType"`
}

// KeytabList is the body of GET /v1/keytabs.
type KeytabList struct {
	// Keytabs are the stored keytabs, newest first, never null.
	Keytabs []Keytab `json:"keytabs"`
}
