package launch

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/flink"
	"github.com/yarngate/yarngate/hdfs"
)

// resolveJar finds the program jar of a job (a staged jar by id, or a jar on the gateway's file system by
// path, inspected in place) and its entry class: the request's, else the manifest's Main-Class.
func (l *Launcher) resolveJar(ctx context.Context, jarID, jarPath, entryClass string) (flink.RemoteFile, string, error) {
	noMain := &api.SpecError{Problems: []api.FieldProblem{{Field: "entryClass", Reason: "required: the jar's manifest has no Main-Class"}}}
	if jarID != "" {
		if !hdfs.ValidID(jarID) {
			return flink.RemoteFile{}, "", &api.SpecError{Problems: []api.FieldProblem{{Field: "jarId", Reason: "a jar id is 64 lower-case hex digits"}}}
		}
		jar, err := l.opts.Jars.Get(ctx, jarID)
		if errors.Is(err, hdfs.ErrNotFound) {
			return flink.RemoteFile{}, "", fmt.Errorf("%w: %s", ErrJarNotFound, jarID)
		}
		if err != nil {
			return flink.RemoteFile{}, "", fmt.Errorf("look up jar: %w", err)
		}
		if entryClass == "" {
			entryClass = jar.MainClass
		}
		if entryClass == "" {
			return flink.RemoteFile{}, "", noMain
		}
		return flink.RemoteFile{URI: jar.URI, Size: jar.Size, ModTime: jar.ModTime.UnixMilli()}, entryClass, nil
	}
	u, err := url.Parse(jarPath)
	if err != nil {
		return flink.RemoteFile{}, "", &api.SpecError{Problems: []api.FieldProblem{{Field: "jarPath", Reason: "not a URI"}}}
	}
	if fsu, _ := url.Parse(l.opts.Files.FSURI()); u.Host != "" && u.Host != fsu.Host {
		return flink.RemoteFile{}, "", &api.SpecError{Problems: []api.FieldProblem{{Field: "jarPath", Reason: "must be on the gateway's file system " + l.opts.Files.FSURI()}}}
	}
	fi, info, err := l.opts.Files.Inspect(ctx, u.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return flink.RemoteFile{}, "", fmt.Errorf("%w: %s", ErrJarNotFound, jarPath)
	case errors.Is(err, hdfs.ErrInvalidJar):
		return flink.RemoteFile{}, "", &api.SpecError{Problems: []api.FieldProblem{{Field: "jarPath", Reason: "not a valid jar"}}}
	case err != nil:
		return flink.RemoteFile{}, "", fmt.Errorf("inspect %s: %w", jarPath, err)
	}
	if entryClass == "" {
		entryClass = info.MainClass
	}
	if entryClass == "" {
		return flink.RemoteFile{}, "", noMain
	}
	return flink.RemoteFile{URI: l.opts.Files.URI(u.Path), Size: fi.Size, ModTime: fi.ModTime.UnixMilli()}, entryClass, nil
}

// Jar resolves the program jar of a session job (see resolveJar).
func (l *Launcher) Jar(ctx context.Context, jarID, jarPath, entryClass string) (flink.RemoteFile, string, error) {
	return l.resolveJar(ctx, jarID, jarPath, entryClass)
}
