package flink

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// Dist is a local Flink distribution (a FLINK_HOME with lib/, plugins/ and conf/).
type Dist struct {
	// Home is the distribution root.
	Home string
	// Version is read from the flink-dist jar name in lib/.
	Version Version
	// DistJar is the flink-dist jar's path relative to Home, such as lib/flink-dist-1.20.3.jar.
	DistJar string
	// Files are the files to ship, relative to Home and slash-separated: everything under lib/ and
	// plugins/, then conf/log4j.properties when present. Sorted.
	Files []string
	// StockConfig is the flattened configuration of conf/config.yaml (or conf/flink-conf.yaml).
	StockConfig Config
	// LogConfig is "log4j.properties" or "logback.xml" when conf/ has one (log4j preferred, as in
	// YarnLogConfigUtil.discoverLogConfigFile), else "".
	LogConfig string

	digestOnce sync.Once
	digest     string
	digestErr  error
}

// OpenDist inspects a local distribution. It fails when lib/ has no single flink-dist-<version>.jar
// or when the version is not supported.
func OpenDist(home string) (*Dist, error) {
	home = filepath.Clean(home)
	entries, err := os.ReadDir(filepath.Join(home, "lib"))
	if err != nil {
		return nil, fmt.Errorf("open flink distribution %s: %w", home, err)
	}
	d := &Dist{Home: home}
	for _, e := range entries {
		name := e.Name()
		if isFlinkDistJar(name) {
			if d.DistJar != "" {
				return nil, fmt.Errorf("open flink distribution %s: two flink-dist jars: %s and %s", home, d.DistJar, name)
			}
			v, err := ParseVersion(strings.TrimSuffix(strings.TrimPrefix(name, "flink-dist-"), ".jar"))
			if err != nil {
				return nil, fmt.Errorf("open flink distribution %s: %w", home, err)
			}
			d.DistJar, d.Version = "lib/"+name, v
		}
	}
	if d.DistJar == "" {
		return nil, fmt.Errorf("open flink distribution %s: no lib/flink-dist-<version>.jar", home)
	}
	if err := d.Version.Supported(); err != nil {
		return nil, fmt.Errorf("open flink distribution %s: %w", home, err)
	}
	for _, dir := range []string{"lib", "plugins"} {
		files, err := listFiles(home, dir)
		if err != nil {
			return nil, fmt.Errorf("open flink distribution %s: %w", home, err)
		}
		d.Files = append(d.Files, files...)
	}
	for _, name := range []string{"log4j.properties", "logback.xml"} {
		if st, err := os.Stat(filepath.Join(home, "conf", name)); err == nil && st.Mode().IsRegular() {
			d.LogConfig = name
			d.Files = append(d.Files, "conf/"+name)
			break
		}
	}
	sort.Strings(d.Files)
	if d.StockConfig, err = loadStockConfig(filepath.Join(home, "conf")); err != nil {
		return nil, fmt.Errorf("open flink distribution %s: %w", home, err)
	}
	return d, nil
}

// isFlinkDistJar matches Flink's YarnApplicationFileUploader.isFlinkDistJar.
func isFlinkDistJar(name string) bool {
	return strings.HasPrefix(name, "flink-dist") && strings.HasSuffix(name, "jar")
}

// listFiles returns the non-empty regular files under home/dir, relative to home, slash-separated. A missing
// plugins/ is empty; symlinks are followed as Flink's FileUtils.listFilesInDirectory does.
func listFiles(home, dir string) ([]string, error) {
	root := filepath.Join(home, dir)
	if _, err := os.Stat(root); errors.Is(err, fs.ErrNotExist) && dir == "plugins" {
		return nil, nil
	}
	var out []string
	err := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		st, err := os.Stat(path)
		if err != nil {
			return err
		}
		// Empty files are skipped: YARN rejects local resources of size 0 over REST
		// (LocalResourceInfo.setSize).
		if st.Mode().IsRegular() && st.Size() > 0 {
			rel, err := filepath.Rel(home, path)
			if err != nil {
				return err
			}
			if strings.ContainsAny(rel, ";, ") {
				return fmt.Errorf("file %q: ';', ',' and spaces break Flink's resource descriptors", rel)
			}
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	return out, err
}

// Digest is a hex SHA-256 over the names, sizes and contents of Files, computed once. It names
// the upload directory, so that a changed distribution is uploaded anew.
func (d *Dist) Digest() (string, error) {
	d.digestOnce.Do(func() {
		h := sha256.New()
		for _, rel := range d.Files {
			f, err := os.Open(filepath.Join(d.Home, filepath.FromSlash(rel)))
			if err != nil {
				d.digestErr = fmt.Errorf("digest flink distribution: %w", err)
				return
			}
			fh := sha256.New()
			n, err := io.Copy(fh, f)
			f.Close()
			if err != nil {
				d.digestErr = fmt.Errorf("digest flink distribution: read %s: %w", rel, err)
				return
			}
			fmt.Fprintf(h, "%s\x00%d\x00%x\n", rel, n, fh.Sum(nil))
		}
		d.digest = hex.EncodeToString(h.Sum(nil))
	})
	return d.digest, d.digestErr
}
