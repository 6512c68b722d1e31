package flink

import (
	"os"
	"path/filepath"
	"testing"
)

// stockConfig is the non-comment content of the conf/config.yaml that Flink 1.20.3 and 2.2.1
// distributions ship (1.20 additionally has rest.bind-address and one more --add-exports).
const stockConfig120 = `env:
  java:
    opts:
      all: --add-exports=java.base/sun.net.util=ALL-UNNAMED --add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED --add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.util=ALL-UNNAMED
jobmanager:
  bind-host: localhost
  rpc:
    address: localhost
    port: 6123
  memory:
    process:
      size: 1600m
  execution:
    failover-strategy: region
taskmanager:
  bind-host: localhost
  host: localhost
  numberOfTaskSlots: 1
  memory:
    process:
      size: 1728m
parallelism:
  default: 1
rest:
  address: localhost
  bind-address: localhost
`

const stockConfig22 = `env:
  java:
    opts:
      all: --add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED --add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.util=ALL-UNNAMED
jobmanager:
  bind-host: localhost
  rpc:
    address: localhost
    port: 6123
  memory:
    process:
      size: 1600m
  execution:
    failover-strategy: region
taskmanager:
  bind-host: localhost
  host: localhost
  numberOfTaskSlots: 1
  memory:
    process:
      size: 1728m
parallelism:
  default: 1
rest:
  address: localhost
`

// fakeDist writes a small distribution with the layout and file names of a real one (contents are
// placeholders) and opens it.
func fakeDist(t testing.TB, version, stock string) *Dist {
	t.Helper()
	home := filepath.Join(t.TempDir(), "flink-"+version)
	files := map[string]string{
		"lib/flink-dist-" + version + ".jar":                             "dist",
		"lib/flink-cep-" + version + ".jar":                              "cep",
		"lib/flink-table-runtime-" + version + ".jar":                    "table",
		"lib/log4j-api-2.24.3.jar":                                       "log4j",
		"plugins/README.txt":                                             "readme",
		"plugins/metrics-jmx/flink-metrics-jmx-" + version + ".jar":      "jmx",
		"plugins/external-resource-gpu/nvidia-gpu-discovery.sh":          "gpu",
		"plugins/external-resource-gpu/gpu-discovery-common.sh":          "",
		"conf/log4j.properties":                                          "rootLogger.level = INFO",
		"conf/config.yaml":                                               stock,
		"conf/logback.xml":                                               "<configuration/>",
		"opt/flink-python-" + version + ".jar":                           "python",
		"bin/flink":                                                      "#!/bin/sh",
		"plugins/metrics-prometheus/flink-metrics-prometheus-" + version: "prom",
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
	d, err := OpenDist(home)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
