package flink

import (
	"strings"
	"testing"
)

// The expected values were produced by Flink itself: JobManagerProcessUtils.processSpecFromConfig,
// generateJvmParametersStr and generateDynamicConfigsStr of flink-dist 1.20.3 and 2.2.1 (identical
// output) for the same configurations. Sources: flink-runtime
// jobmanager/JobManagerProcessUtils.java, util/config/memory/ProcessMemoryUtils.java,
// util/config/memory/jobmanager/JobManagerFlinkMemoryUtils.java; flink-core-api MemorySize.java.
func TestDeriveJobManagerMemoryMatchesFlink(t *testing.T) {
	tests := []struct {
		name    string
		conf    Config
		jvm     string
		dyn     string
		totalMB int64
	}{
		{"default 1600m", Config{keyJMProcess: "1600m"},
			"-Xmx1073741824 -Xms1073741824 -XX:MaxMetaspaceSize=268435456",
			"-D jobmanager.memory.off-heap.size=134217728b -D jobmanager.memory.jvm-overhead.min=201326592b -D jobmanager.memory.jvm-metaspace.size=268435456b -D jobmanager.memory.heap.size=1073741824b -D jobmanager.memory.jvm-overhead.max=201326592b", 1600},
		{"1024m overhead at min", Config{keyJMProcess: "1024m"},
			"-Xmx469762048 -Xms469762048 -XX:MaxMetaspaceSize=268435456",
			"-D jobmanager.memory.off-heap.size=134217728b -D jobmanager.memory.jvm-overhead.min=201326592b -D jobmanager.memory.jvm-metaspace.size=268435456b -D jobmanager.memory.heap.size=469762048b -D jobmanager.memory.jvm-overhead.max=201326592b", 1024},
		{"2048m float fraction", Config{keyJMProcess: "2048m"},
			"-Xmx1530082096 -Xms1530082096 -XX:MaxMetaspaceSize=268435456",
			"-D jobmanager.memory.off-heap.size=134217728b -D jobmanager.memory.jvm-overhead.min=214748368b -D jobmanager.memory.jvm-metaspace.size=268435456b -D jobmanager.memory.heap.size=1530082096b -D jobmanager.memory.jvm-overhead.max=214748368b", 2048},
		{"4096m", Config{keyJMProcess: "4096m"},
			"-Xmx3462817376 -Xms3462817376 -XX:MaxMetaspaceSize=268435456",
			"-D jobmanager.memory.off-heap.size=134217728b -D jobmanager.memory.jvm-overhead.min=429496736b -D jobmanager.memory.jvm-metaspace.size=268435456b -D jobmanager.memory.heap.size=3462817376b -D jobmanager.memory.jvm-overhead.max=429496736b", 4096},
		{"768m small heap", Config{keyJMProcess: "768m"},
			"-Xmx201326592 -Xms201326592 -XX:MaxMetaspaceSize=268435456",
			"-D jobmanager.memory.off-heap.size=134217728b -D jobmanager.memory.jvm-overhead.min=201326592b -D jobmanager.memory.jvm-metaspace.size=268435456b -D jobmanager.memory.heap.size=201326592b -D jobmanager.memory.jvm-overhead.max=201326592b", 768},
		{"16g overhead at max", Config{keyJMProcess: "16g"},
			"-Xmx15703474176 -Xms15703474176 -XX:MaxMetaspaceSize=268435456",
			"-D jobmanager.memory.off-heap.size=134217728b -D jobmanager.memory.jvm-overhead.min=1073741824b -D jobmanager.memory.jvm-metaspace.size=268435456b -D jobmanager.memory.heap.size=15703474176b -D jobmanager.memory.jvm-overhead.max=1073741824b", 16384},
		{"fraction 0.25", Config{keyJMProcess: "1000m", keyJMOverheadFr: "0.25"},
			"-Xmx383778816 -Xms383778816 -XX:MaxMetaspaceSize=268435456",
			"-D jobmanager.memory.off-heap.size=134217728b -D jobmanager.memory.jvm-overhead.min=262144000b -D jobmanager.memory.jvm-metaspace.size=268435456b -D jobmanager.memory.heap.size=383778816b -D jobmanager.memory.jvm-overhead.max=262144000b", 1000},
		{"flink.size only", Config{keyJMFlink: "1280m"},
			"-Xmx1207959552 -Xms1207959552 -XX:MaxMetaspaceSize=268435456",
			"-D jobmanager.memory.off-heap.size=134217728b -D jobmanager.memory.jvm-overhead.min=201326592b -D jobmanager.memory.jvm-metaspace.size=268435456b -D jobmanager.memory.heap.size=1207959552b -D jobmanager.memory.jvm-overhead.max=201326592b", 1728},
		{"heap.size only", Config{keyJMHeap: "1g"},
			"-Xmx1073741824 -Xms1073741824 -XX:MaxMetaspaceSize=268435456",
			"-D jobmanager.memory.off-heap.size=134217728b -D jobmanager.memory.jvm-overhead.min=201326592b -D jobmanager.memory.jvm-metaspace.size=268435456b -D jobmanager.memory.heap.size=1073741824b -D jobmanager.memory.jvm-overhead.max=201326592b", 1600},
		{"heap.size and process.size", Config{keyJMHeap: "1g", keyJMProcess: "2g"},
			"-Xmx1073741824 -Xms1073741824 -XX:MaxMetaspaceSize=268435456",
			"-D jobmanager.memory.off-heap.size=134217728b -D jobmanager.memory.jvm-overhead.min=671088640b -D jobmanager.memory.jvm-metaspace.size=268435456b -D jobmanager.memory.heap.size=1073741824b -D jobmanager.memory.jvm-overhead.max=671088640b", 2048},
		{"direct limit, metaspace and off-heap overrides",
			Config{keyJMProcess: "1600m", keyJMDirectLimit: true, keyJMMetaspace: "300m", keyJMOffHeap: "200m"},
			"-Xmx952107008 -Xms952107008 -XX:MaxDirectMemorySize=209715200 -XX:MaxMetaspaceSize=314572800",
			"-D jobmanager.memory.off-heap.size=209715200b -D jobmanager.memory.jvm-overhead.min=201326592b -D jobmanager.memory.jvm-metaspace.size=314572800b -D jobmanager.memory.heap.size=952107008b -D jobmanager.memory.jvm-overhead.max=201326592b", 1600},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := DeriveJobManagerMemory(tt.conf)
			if err != nil {
				t.Fatal(err)
			}
			if got := m.JVMArgs(); got != tt.jvm {
				t.Errorf("jvm args\n got %s\nwant %s", got, tt.jvm)
			}
			if got := m.DynamicConfigs(); got != tt.dyn {
				t.Errorf("dynamic configs\n got %s\nwant %s", got, tt.dyn)
			}
			if got := m.TotalProcess().MiB(); got != tt.totalMB {
				t.Errorf("total %d MiB, want %d", got, tt.totalMB)
			}
		})
	}
}

func TestDeriveJobManagerMemoryErrors(t *testing.T) {
	tests := []struct {
		name, want string
		conf       Config
	}{
		{"nothing configured", "is required", Config{}},
		{"too small for metaspace and overhead", "exceed", Config{keyJMProcess: "300m"}},
		{"flink memory not above off-heap", "not above", Config{keyJMProcess: "576m"}},
		{"bad unit", "unknown unit", Config{keyJMProcess: "1600x"}},
		{"not a number", "does not start with a number", Config{keyJMProcess: "m"}},
		{"bad fraction", "inconsistent", Config{keyJMProcess: "1g", keyJMOverheadFr: "1.5"}},
		{"inconsistent heap and flink", "!=", Config{keyJMHeap: "1g", keyJMFlink: "2g", keyJMOffHeap: "128m"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DeriveJobManagerMemory(tt.conf)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestParseMemorySize(t *testing.T) {
	tests := []struct {
		in   string
		want MemorySize
		ok   bool
	}{
		{"1600m", 1600 * MiB, true},
		{"1600 MB", 1600 * MiB, true},
		{"1g", GiB, true},
		{"2 gibibytes", 2 * GiB, true},
		{"512k", 512 * KiB, true},
		{"42", 42, true},
		{"42b", 42, true},
		{"1t", TiB, true},
		{"1.5g", 0, false},
		{"-1m", 0, false},
		{"", 0, false},
		{"99999999999t", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseMemorySize(tt.in)
			if (err == nil) != tt.ok || got != tt.want {
				t.Fatalf("ParseMemorySize(%q) = %d, %v", tt.in, got, err)
			}
		})
	}
}
