package hdfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	gohdfs "github.com/colinmarc/hdfs/v2"
)

// This file is the one place the Store reads file content: every read (an upload's check of its temporary
// file, Inspect, Open) goes through openContent, which reads blocks from the DataNodes with colinmarc's
// client, or through WebHDFS when Options.WebHDFS is set (see ReadsNeedWebHDFS). Metadata always comes from
// the NameNode over RPC.

// ReadsNeedWebHDFS reports whether colinmarc cannot read file content under the DataNode transfer
// protections a client accepts (dfs.data.transfer.protection, in order; privacy for dfs.encrypt.data.transfer),
// and why: colinmarc v2.4.0 drops bytes when a read spans two SASL frames, so reads fail under integrity and
// privacy (writes work). The Store then needs Options.WebHDFS.
func ReadsNeedWebHDFS(protections []string) (bool, string) {
	for _, p := range protections {
		if p == "integrity" || p == "privacy" {
			return true, "DataNode transfer protection " + p + ": the HDFS client cannot read blocks under integrity or privacy"
		}
	}
	return false, ""
}

// fileContent is an open file: its status, sequential reads and reads at any offset. Its errors are
// classified already: ErrUnavailable for a failed connection (a colinmarc client that saw one is marked
// broken), fs.ErrNotExist and fs.ErrPermission as the cluster answered.
type fileContent interface {
	io.Reader
	io.ReaderAt
	io.Closer
	// Stat returns the file's status as the NameNode reported it when the file was opened.
	Stat() os.FileInfo
}

// openContent opens name for reading with l's client; ctx bounds every read. The content must be closed
// before l is released when it reads through l's client (colinmarc); a WebHDFS content needs l only here,
// for the NameNode's stat.
func (s *Store) openContent(ctx context.Context, l *lease[*gohdfs.Client], name string) (fileContent, error) {
	if s.web != nil {
		fi, err := l.c.Stat(name)
		if err = l.check(err); err != nil {
			return nil, err
		}
		return &webContent{s: s, ctx: ctx, name: name, fi: fi}, nil
	}
	r, err := l.c.Open(name)
	if err = l.check(err); err != nil {
		return nil, err
	}
	return &blockContent{s: s, ctx: ctx, l: l, r: r}, nil
}

// blockContent reads blocks from the DataNodes with colinmarc's client, each call under a fresh deadline.
type blockContent struct {
	s   *Store
	ctx context.Context
	l   *lease[*gohdfs.Client]
	r   *gohdfs.FileReader
}

func (b *blockContent) Stat() os.FileInfo { return b.r.Stat() }

func (b *blockContent) Read(p []byte) (int, error) {
	if err := b.ctx.Err(); err != nil {
		return 0, err
	}
	if err := b.r.SetDeadline(b.s.ioDeadline(b.ctx)); err != nil {
		return 0, b.l.check(err)
	}
	n, err := b.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		return n, b.l.check(err)
	}
	return n, err
}

func (b *blockContent) ReadAt(p []byte, off int64) (int, error) {
	if err := b.ctx.Err(); err != nil {
		return 0, err
	}
	if err := b.r.SetDeadline(b.s.ioDeadline(b.ctx)); err != nil {
		return 0, b.l.check(err)
	}
	n, err := b.r.ReadAt(p, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return n, b.l.check(err)
	}
	return n, err
}

func (b *blockContent) Close() error { return b.r.Close() }

// webContent reads through WebHDFS: a sequential read is one OPEN from the current offset to the end, a
// ReadAt one OPEN of that range.
type webContent struct {
	s    *Store
	ctx  context.Context
	name string
	fi   os.FileInfo
	off  int64
	body io.ReadCloser // nil until the first Read
}

func (w *webContent) Stat() os.FileInfo { return w.fi }

func (w *webContent) Read(p []byte) (int, error) {
	if w.fi.IsDir() {
		return 0, fmt.Errorf("read %s: a directory", w.name)
	}
	if w.body == nil {
		if w.off >= w.fi.Size() {
			return 0, io.EOF
		}
		body, err := w.s.web.Open(w.ctx, w.name, w.off, -1)
		if err != nil {
			return 0, classifyWeb(err)
		}
		w.body = body
	}
	n, err := w.body.Read(p)
	w.off += int64(n)
	if err != nil && !errors.Is(err, io.EOF) {
		return n, classifyWeb(err)
	}
	return n, err
}

func (w *webContent) ReadAt(p []byte, off int64) (int, error) {
	if off >= w.fi.Size() {
		return 0, io.EOF
	}
	n, err := w.s.web.ReadAt(w.ctx, w.name, p, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return n, classifyWeb(err)
	}
	return n, err
}

func (w *webContent) Close() error {
	if w.body == nil {
		return nil
	}
	err := w.body.Close()
	w.body = nil
	return err
}

// classifyWeb wraps a WebHDFS failure with ErrUnavailable unless it is an answer about the file (missing,
// not permitted) or the context's end.
func classifyWeb(err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}
