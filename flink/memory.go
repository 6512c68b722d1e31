package flink

import (
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// MemorySize is a number of bytes.
type MemorySize int64

// Common sizes.
const (
	KiB MemorySize = 1 << 10
	MiB MemorySize = 1 << 20
	GiB MemorySize = 1 << 30
	TiB MemorySize = 1 << 40
)

// ParseMemorySize parses a Flink memory size as MemorySize.parseBytes does (flink-core-api
// MemorySize.java): digits, optional whitespace, optional unit b|bytes, k|kb|kibibytes,
// m|mb|mebibytes, g|gb|gibibytes, t|tb|tebibytes (case-insensitive, powers of 1024). No unit means
// bytes.
func ParseMemorySize(s string) (MemorySize, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("memory size %q: does not start with a number", s)
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("memory size %q: %w", s, err)
	}
	var mult int64
	switch strings.ToLower(strings.TrimSpace(t[i:])) {
	case "", "b", "bytes":
		mult = 1
	case "k", "kb", "kibibytes":
		mult = int64(KiB)
	case "m", "mb", "mebibytes":
		mult = int64(MiB)
	case "g", "gb", "gibibytes":
		mult = int64(GiB)
	case "t", "tb", "tebibytes":
		mult = int64(TiB)
	default:
		return 0, fmt.Errorf("memory size %q: unknown unit (use b, k, m, g or t)", s)
	}
	if n > (1<<63-1)/mult {
		return 0, fmt.Errorf("memory size %q: overflows 64 bits", s)
	}
	return MemorySize(n * mult), nil
}

// MiB returns the size in whole mebibytes (MemorySize.getMebiBytes: bytes >> 20).
func (m MemorySize) MiB() int64 { return int64(m) >> 20 }

// JobManagerMemory is the JobManager process memory layout (Flink's JobManagerProcessSpec).
type JobManagerMemory struct {
	Heap, OffHeap, Metaspace, Overhead MemorySize
	// DirectMemoryLimit is jobmanager.memory.enable-jvm-direct-memory-limit.
	DirectMemoryLimit bool
}

// TotalProcess is heap + off-heap + metaspace + overhead.
func (j JobManagerMemory) TotalProcess() MemorySize {
	return j.Heap + j.OffHeap + j.Metaspace + j.Overhead
}

// JVMArgs are the memory flags of the JobManager command (ProcessMemoryUtils.generateJvmParametersStr).
func (j JobManagerMemory) JVMArgs() string {
	s := fmt.Sprintf("-Xmx%d -Xms%d", j.Heap, j.Heap)
	if j.DirectMemoryLimit {
		s += fmt.Sprintf(" -XX:MaxDirectMemorySize=%d", j.OffHeap)
	}
	return s + fmt.Sprintf(" -XX:MaxMetaspaceSize=%d", j.Metaspace)
}

// DynamicConfigs are the -D arguments of the JobManager command
// (JobManagerProcessUtils.generateDynamicConfigsStr), in the iteration order of Java's HashMap for
// these five keys, so that the command equals Flink's own.
func (j JobManagerMemory) DynamicConfigs() string {
	return fmt.Sprintf("-D jobmanager.memory.off-heap.size=%db -D jobmanager.memory.jvm-overhead.min=%db "+
		"-D jobmanager.memory.jvm-metaspace.size=%db -D jobmanager.memory.heap.size=%db "+
		"-D jobmanager.memory.jvm-overhead.max=%db", j.OffHeap, j.Overhead, j.Metaspace, j.Heap, j.Overhead)
}

// JobManager memory keys and their defaults (JobManagerOptions).
const (
	keyJMProcess     = "jobmanager.memory.process.size"
	keyJMFlink       = "jobmanager.memory.flink.size"
	keyJMHeap        = "jobmanager.memory.heap.size"
	keyJMOffHeap     = "jobmanager.memory.off-heap.size"
	keyJMMetaspace   = "jobmanager.memory.jvm-metaspace.size"
	keyJMOverheadMin = "jobmanager.memory.jvm-overhead.min"
	keyJMOverheadMax = "jobmanager.memory.jvm-overhead.max"
	keyJMOverheadFr  = "jobmanager.memory.jvm-overhead.fraction"
	keyJMDirectLimit = "jobmanager.memory.enable-jvm-direct-memory-limit"
)

// DeriveJobManagerMemory computes the JobManager memory from a configuration exactly as Flink's
// ProcessMemoryUtils.memoryProcessSpecFromConfig with JobManagerFlinkMemoryUtils (flink-runtime
// util/config/memory/ProcessMemoryUtils.java, jobmanager/JobManagerFlinkMemoryUtils.java): heap.size
// given → heap + off-heap; else flink.size → flink.size minus off-heap; else process.size →
// overhead = process × fraction clamped to [min, max] (BigDecimal arithmetic, truncated), Flink
// memory = process − metaspace − overhead, heap = Flink memory − off-heap.
func DeriveJobManagerMemory(c Config) (JobManagerMemory, error) {
	var errs []error
	size := func(key string, def MemorySize) MemorySize {
		s, ok := c.String(key)
		if !ok {
			return def
		}
		m, err := ParseMemorySize(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key, err))
		}
		return m
	}
	offHeap := size(keyJMOffHeap, 128*MiB)
	metaspace := size(keyJMMetaspace, 256*MiB)
	ovMin := size(keyJMOverheadMin, 192*MiB)
	ovMax := size(keyJMOverheadMax, 1*GiB)
	fraction := 0.1
	if s, ok := c.String(keyJMOverheadFr); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 32)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", keyJMOverheadFr, err))
		}
		fraction = f
	}
	// The option is a Float; Java widens it to double (0.1f becomes 0.10000000149011612).
	fraction = float64(float32(fraction))
	direct := false
	if s, ok := c.String(keyJMDirectLimit); ok {
		direct = strings.EqualFold(strings.TrimSpace(s), "true")
	}
	_, hasProcess := c[keyJMProcess]
	_, hasFlink := c[keyJMFlink]
	_, hasHeap := c[keyJMHeap]
	_, hasOffHeap := c[keyJMOffHeap]
	process := size(keyJMProcess, 0)
	flinkSize := size(keyJMFlink, 0)
	heap := size(keyJMHeap, 0)
	if len(errs) > 0 {
		return JobManagerMemory{}, errors.Join(errs...)
	}
	if ovMin > ovMax || fraction < 0 || fraction >= 1 {
		return JobManagerMemory{}, fmt.Errorf("inconsistent jvm-overhead: min %d, max %d, fraction %v", ovMin, ovMax, fraction)
	}
	out := JobManagerMemory{Metaspace: metaspace, DirectMemoryLimit: direct}
	var total MemorySize // total Flink memory
	switch {
	case hasHeap:
		out.Heap, out.OffHeap = heap, offHeap
		if hasFlink {
			if hasOffHeap && heap+offHeap != flinkSize {
				return JobManagerMemory{}, fmt.Errorf("%s + %s != %s", keyJMHeap, keyJMOffHeap, keyJMFlink)
			}
			if flinkSize < heap {
				return JobManagerMemory{}, fmt.Errorf("%s exceeds %s", keyJMHeap, keyJMFlink)
			}
			out.OffHeap = flinkSize - heap
		}
		total = out.Heap + out.OffHeap
	case hasFlink:
		total = flinkSize
	case hasProcess:
		out.Overhead = capTo(multiply(process, fraction), ovMin, ovMax)
		if metaspace+out.Overhead > process {
			return JobManagerMemory{}, fmt.Errorf("jvm metaspace (%d) and overhead (%d) exceed %s (%d)", metaspace, out.Overhead, keyJMProcess, process)
		}
		total = process - metaspace - out.Overhead
	default:
		return JobManagerMemory{}, fmt.Errorf("one of %s, %s or %s is required", keyJMHeap, keyJMFlink, keyJMProcess)
	}
	if !hasHeap {
		if total <= offHeap {
			return JobManagerMemory{}, fmt.Errorf("total flink memory (%d) is not above %s (%d)", total, keyJMOffHeap, offHeap)
		}
		out.Heap, out.OffHeap = total-offHeap, offHeap
	}
	if hasHeap || hasFlink {
		// deriveJvmMetaspaceAndOverheadFromTotalFlinkMemory
		if hasProcess {
			if process < total+metaspace {
				return JobManagerMemory{}, fmt.Errorf("%s (%d) is less than flink memory plus metaspace (%d)", keyJMProcess, process, total+metaspace)
			}
			out.Overhead = process - total - metaspace
			if out.Overhead < ovMin || out.Overhead > ovMax {
				return JobManagerMemory{}, fmt.Errorf("derived jvm overhead %d is outside [%d, %d]", out.Overhead, ovMin, ovMax)
			}
		} else {
			out.Overhead = capTo(multiply(total+metaspace, fraction/(1-fraction)), ovMin, ovMax)
		}
	}
	return out, nil
}

// multiply is MemorySize.multiply: BigDecimal.valueOf(bytes) × BigDecimal.valueOf(double),
// truncated toward zero. BigDecimal.valueOf(double) uses the shortest decimal that round-trips.
func multiply(m MemorySize, f float64) MemorySize {
	r, ok := new(big.Rat).SetString(strconv.FormatFloat(f, 'g', -1, 64))
	if !ok {
		return 0
	}
	r.Mul(r, new(big.Rat).SetInt64(int64(m)))
	return MemorySize(new(big.Int).Quo(r.Num(), r.Denom()).Int64())
}

func capTo(v, lo, hi MemorySize) MemorySize {
	return min(max(v, lo), hi)
}
