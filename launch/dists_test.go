package launch

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fakeFlinkHome writes the smallest Flink distribution flink.OpenDist accepts (lib/flink-dist-<version>.jar
// and conf/config.yaml, placeholder contents) and returns its directory.
func fakeFlinkHome(t *testing.T, version string) string {
	t.Helper()
	home := filepath.Join(t.TempDir(), "flink-"+version)
	files := map[string]string{
		"lib/flink-dist-" + version + ".jar": "dist",
		"lib/log4j-api-2.24.3.jar":           "log4j",
		"conf/config.yaml":                   "jobmanager:\n  memory:\n    process:\n      size: 1600m\nparallelism:\n  default: 1\n",
	}
	for rel, content := range files {
		p := filepath.Join(home, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return home
}

// fakeCatalogue opens a registry over fake homes of the given versions, without HDFS.
func fakeCatalogue(t *testing.T, defaultVersion string, versions ...string) *catalogue {
	t.Helper()
	var homes []string
	for _, v := range versions {
		homes = append(homes, fakeFlinkHome(t, v))
	}
	r, err := newCatalogue(nil, "/flink-libs", homes, defaultVersion)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestCatalogueResolve(t *testing.T) {
	two := fakeCatalogue(t, "", "1.20.3", "2.2.1")
	many := fakeCatalogue(t, "", "1.20.1", "2.1.0", "1.20.3", "2.2.1", "1.19.2", "2.2.0")
	tests := []struct {
		name    string
		r       *catalogue
		version string
		want    string // the resolved version; "" means ErrUnknownFlinkVersion
	}{
		{"empty is the default (the first home)", two, "", "1.20.3"},
		{"minor version", two, "1.20", "1.20.3"},
		{"minor version with .x", two, "1.20.x", "1.20.3"},
		{"exact 1.20", two, "1.20.3", "1.20.3"},
		{"major", two, "2", "2.2.1"},
		{"major with .x", two, "2.x", "2.2.1"},
		{"minor 2.2", two, "2.2", "2.2.1"},
		{"exact 2.2.1", two, "2.2.1", "2.2.1"},
		{"trailing dot", two, "2.", "2.2.1"},
		{"prefix only at a dot: 1.2 is not 1.20", two, "1.2", ""},
		{"prefix only at a dot: 2.2.10 is not 2.2.1", two, "2.2.10", ""},
		{"patch not configured", two, "1.20.2", ""},
		{"major not configured", two, "3", ""},
		{"older minor not configured", two, "1.19", ""},
		{"x alone", two, "x", ""},
		{"garbage", two, "latest", ""},
		{"newest 1.x among several", many, "1", "1.20.3"},
		{"newest 1.20 among several", many, "1.20", "1.20.3"},
		{"older patch on request", many, "1.20.1", "1.20.1"},
		{"1.19", many, "1.19", "1.19.2"},
		{"newest 2.x among several", many, "2.x", "2.2.1"},
		{"newest 2.2 among several", many, "2.2", "2.2.1"},
		{"2.1", many, "2.1", "2.1.0"},
		{"exact older 2.2", many, "2.2.0", "2.2.0"},
		{"default is the first home, not the newest", many, "", "1.20.1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := tc.r.resolve(tc.version)
			if tc.want == "" {
				if !errors.Is(err, ErrUnknownFlinkVersion) {
					t.Fatalf("resolve(%q) = %v, %v; want ErrUnknownFlinkVersion", tc.version, d, err)
				}
				if !strings.Contains(err.Error(), `"`+tc.version+`"`) || !strings.Contains(err.Error(), "(configured: "+strings.Join(tc.r.versions(), ", ")+")") {
					t.Errorf("error %q does not name the version and the configured ones", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("resolve(%q): %v", tc.version, err)
			}
			if d.Version.Raw != tc.want {
				t.Errorf("resolve(%q) = %s, want %s", tc.version, d.Version.Raw, tc.want)
			}
		})
	}
}

func TestCatalogueUnknownVersionMessage(t *testing.T) {
	r := fakeCatalogue(t, "", "1.20.3", "2.2.1")
	_, err := r.resolve("3.0")
	if want := `unknown flink version: "3.0" (configured: 1.20.3, 2.2.1)`; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
}

func TestCatalogueDefault(t *testing.T) {
	tests := []struct {
		name           string
		defaultVersion string
		want           string
	}{
		{"first home when unset", "", "1.20.3"},
		{"major", "2", "2.2.1"},
		{"major with .x", "2.x", "2.2.1"},
		{"minor", "1.20", "1.20.3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := fakeCatalogue(t, tc.defaultVersion, "1.20.3", "2.2.1")
			d, err := r.resolve("")
			if err != nil || d.Version.Raw != tc.want {
				t.Fatalf("default = %v, %v; want %s", d, err, tc.want)
			}
			if got := r.versions(); !slices.Equal(got, []string{"1.20.3", "2.2.1"}) {
				t.Errorf("versions() = %v", got)
			}
		})
	}
}

func TestNewCatalogueErrors(t *testing.T) {
	t.Run("unknown default", func(t *testing.T) {
		_, err := newCatalogue(nil, "/flink-libs", []string{fakeFlinkHome(t, "1.20.3")}, "2.x")
		if !errors.Is(err, ErrUnknownFlinkVersion) || !strings.HasPrefix(err.Error(), "flink.defaultVersion: ") {
			t.Errorf("err = %v, want flink.defaultVersion: ErrUnknownFlinkVersion", err)
		}
	})
	t.Run("not a flink home", func(t *testing.T) {
		home := t.TempDir()
		_, err := newCatalogue(nil, "/flink-libs", []string{home}, "")
		if err == nil || !strings.Contains(err.Error(), "flink distribution "+home) {
			t.Errorf("err = %v, want one naming %s", err, home)
		}
	})
	t.Run("no homes", func(t *testing.T) {
		r, err := newCatalogue(nil, "/flink-libs", nil, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.resolve(""); !errors.Is(err, ErrUnknownFlinkVersion) || !strings.Contains(err.Error(), "no flink distribution is configured") {
			t.Errorf("resolve(\"\") = %v", err)
		}
		if _, err := r.resolve("1.20"); !errors.Is(err, ErrUnknownFlinkVersion) {
			t.Errorf("resolve(\"1.20\") = %v", err)
		}
	})
}
