package flink

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestOpenDist(t *testing.T) {
	d := fakeDist(t, "1.20.3", stockConfig120)
	if d.Version != (Version{Major: 1, Minor: 20, Patch: 3, Raw: "1.20.3"}) || d.DistJar != "lib/flink-dist-1.20.3.jar" {
		t.Errorf("version %+v dist jar %s", d.Version, d.DistJar)
	}
	wantFiles := []string{
		"conf/log4j.properties",
		"lib/flink-cep-1.20.3.jar", "lib/flink-dist-1.20.3.jar", "lib/flink-table-runtime-1.20.3.jar", "lib/log4j-api-2.24.3.jar",
		"plugins/README.txt",
		"plugins/external-resource-gpu/nvidia-gpu-discovery.sh", // the empty gpu-discovery-common.sh is skipped
		"plugins/metrics-jmx/flink-metrics-jmx-1.20.3.jar",
		"plugins/metrics-prometheus/flink-metrics-prometheus-1.20.3",
	}
	if !reflect.DeepEqual(d.Files, wantFiles) {
		t.Errorf("files\n got %v\nwant %v", d.Files, wantFiles)
	}
	if d.LogConfig != "log4j.properties" {
		t.Errorf("log config %q (log4j wins over logback)", d.LogConfig)
	}
	wantConf := map[string]string{
		"jobmanager.memory.process.size": "1600m",
		"jobmanager.rpc.port":            "6123",
		"taskmanager.numberOfTaskSlots":  "1",
		"rest.bind-address":              "localhost",
	}
	for k, want := range wantConf {
		if got, _ := d.StockConfig.String(k); got != want {
			t.Errorf("stock %s = %q, want %q", k, got, want)
		}
	}
	if v, _ := d.StockConfig.String("env.java.opts.all"); !strings.HasPrefix(v, "--add-exports=java.base/sun.net.util") {
		t.Errorf("env.java.opts.all %q", v)
	}
	digest, err := d.Digest()
	if err != nil || len(digest) != 64 {
		t.Fatalf("digest %q %v", digest, err)
	}
	other := fakeDist(t, "1.20.3", stockConfig120)
	if d2, _ := other.Digest(); d2 != digest {
		t.Errorf("same content, different digest")
	}
	if err := os.WriteFile(filepath.Join(other.Home, "lib", "flink-cep-1.20.3.jar"), []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	if changed := fakeDistReopen(t, other.Home); changed == digest {
		t.Errorf("changed content, same digest")
	}
}

func fakeDistReopen(t *testing.T, home string) string {
	t.Helper()
	d, err := OpenDist(home)
	if err != nil {
		t.Fatal(err)
	}
	digest, err := d.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return digest
}

func TestOpenDistRejects(t *testing.T) {
	tests := []struct {
		name  string
		files []string
		want  string
		is    error
	}{
		{"no dist jar", []string{"lib/flink-cep-1.20.3.jar"}, "no lib/flink-dist", nil},
		{"two dist jars", []string{"lib/flink-dist-1.20.3.jar", "lib/flink-dist-1.20.2.jar"}, "two flink-dist jars", nil},
		{"too old", []string{"lib/flink-dist-1.18.1.jar"}, "1.19 or newer", ErrUnsupportedVersion},
		{"no lib", []string{"conf/config.yaml"}, "lib", fs.ErrNotExist},
		{"semicolon in name", []string{"lib/flink-dist-1.20.3.jar", "lib/a;b.jar"}, "';'", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := t.TempDir()
			for _, rel := range tt.files {
				p := filepath.Join(home, rel)
				_ = os.MkdirAll(filepath.Dir(p), 0o755)
				if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, err := OpenDist(home)
			if err == nil || !strings.Contains(err.Error(), tt.want) || (tt.is != nil && !errors.Is(err, tt.is)) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	tests := []struct {
		in            string
		want          Version
		savepointPath string
		supported     bool
	}{
		{"1.19.1", Version{1, 19, 1, "1.19.1"}, "execution.savepoint.path", true},
		{"1.20.3", Version{1, 20, 3, "1.20.3"}, "execution.state-recovery.path", true},
		{"2.2.1", Version{2, 2, 1, "2.2.1"}, "execution.state-recovery.path", true},
		{"2.1-SNAPSHOT", Version{2, 1, 0, "2.1-SNAPSHOT"}, "execution.state-recovery.path", true},
		{"1.18.1", Version{1, 18, 1, "1.18.1"}, "execution.savepoint.path", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			v, err := ParseVersion(tt.in)
			if err != nil || v != tt.want {
				t.Fatalf("ParseVersion = %+v, %v", v, err)
			}
			if p, _ := v.SavepointKeys(); p != tt.savepointPath {
				t.Errorf("savepoint key %s", p)
			}
			if (v.Supported() == nil) != tt.supported {
				t.Errorf("supported = %v", v.Supported())
			}
			if v.ConfigFileName() != "config.yaml" {
				t.Errorf("config file %s", v.ConfigFileName())
			}
		})
	}
	if _, err := ParseVersion("latest"); err == nil {
		t.Error("ParseVersion(latest) succeeded")
	}
}

func TestUploadDist(t *testing.T) {
	ctx := context.Background()
	d := fakeDist(t, "1.20.3", stockConfig120)
	mfs := newMemFS()
	opts := UploadOptions{FSURI: "hdfs://nn:8020", Root: "/yarngate/flink"}
	libs, err := UploadDist(ctx, mfs, d, opts)
	if err != nil {
		t.Fatal(err)
	}
	digest, _ := d.Digest()
	dir := "/yarngate/flink/1.20.3-" + digest[:16]
	if libs.Dir != "hdfs://nn:8020"+dir {
		t.Errorf("dir %s", libs.Dir)
	}
	if got, err := d.UploadDir(opts.Root); got != dir || err != nil {
		t.Errorf("UploadDir = %q, %v; want %q", got, err, dir)
	}
	wantPaths := []string{
		"_UPLOADED", "conf", "conf/log4j.properties", "lib",
		"lib/flink-cep-1.20.3.jar", "lib/flink-dist-1.20.3.jar", "lib/flink-table-runtime-1.20.3.jar", "lib/log4j-api-2.24.3.jar",
		"plugins", "plugins/README.txt", "plugins/external-resource-gpu", "plugins/external-resource-gpu/nvidia-gpu-discovery.sh",
		"plugins/metrics-jmx", "plugins/metrics-jmx/flink-metrics-jmx-1.20.3.jar",
		"plugins/metrics-prometheus", "plugins/metrics-prometheus/flink-metrics-prometheus-1.20.3",
	}
	if got := mfs.paths(dir); !reflect.DeepEqual(got, wantPaths) {
		t.Errorf("uploaded\n got %v\nwant %v", got, wantPaths)
	}
	if leftovers := mfs.paths("/yarngate/flink"); len(leftovers) != len(wantPaths)+1 {
		t.Errorf("temporary files left: %v", leftovers)
	}
	for _, f := range libs.Files {
		st, err := mfs.Stat(ctx, strings.TrimPrefix(f.URI, "hdfs://nn:8020"))
		if err != nil || st.ModTime != f.ModTime || st.Size != f.Size || st.Mode.Perm() != 0o644 {
			t.Errorf("%s: %+v vs status %+v %v", f.Key, f, st, err)
		}
	}
	if libs.DistJar.Key != "lib/flink-dist-1.20.3.jar" || libs.LogConfig.Key != "log4j.properties" {
		t.Errorf("dist %+v log %+v", libs.DistJar, libs.LogConfig)
	}
	if st, _ := mfs.Stat(ctx, dir+"/plugins/metrics-jmx"); st.Mode.Perm() != 0o755 {
		t.Errorf("plugin dir mode %v", st.Mode)
	}

	// A second call reuses the upload: no writes, same timestamps.
	creates := mfs.calls["Create"]
	again, err := UploadDist(ctx, mfs, d, opts)
	if err != nil {
		t.Fatal(err)
	}
	if mfs.calls["Create"] != creates || !reflect.DeepEqual(again, libs) {
		t.Errorf("second upload wrote files or changed coordinates")
	}
}

func TestUploadDistChecksPublicAncestors(t *testing.T) {
	ctx := context.Background()
	mfs := newMemFS()
	if err := mfs.MkdirAll(ctx, "/private", 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := UploadDist(ctx, mfs, fakeDist(t, "2.2.1", stockConfig22), UploadOptions{FSURI: "hdfs://nn:8020", Root: "/private/flink"})
	if err == nil || !strings.Contains(err.Error(), "/private is not world-executable") {
		t.Fatalf("err = %v", err)
	}
}
