package api

import (
	"time"
)

// Jar is a staged jar as the API renders it (POST /v1/jars, GET /v1/jars/{id}).
type Jar struct {
	// ID is the jar's SHA-256, 64 lower-case hex digits.
	ID string `json:"id"`
	// Name is the jar's file name.
	Name string `json:"name"`
	// Size is the jar's size in bytes.
	Size int64 `json:"size"`
	// SHA256 is the jar's SHA-256 (the same as ID).
	SHA256 string `json:"sha256"`
	// Path is the jar's hdfs:// URI.
	Path string `json:"path"`
	// MainClass is the manifest's Main-Class, nil when it has none.
	MainClass *string `json:"mainClass"`
	// CreatedAt is when the jar was staged.
	CreatedAt time.Time `json:"createdAt"`
}

// JarList is the body of GET /v1/jars.
type JarList struct {
	// Jars are the staged jars, never null.
	Jars []Jar `json:"jars"`
}
