package flink

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Config is a flat Flink configuration: dotted keys to scalar values (string, bool, int, float64)
// or lists of strings.
type Config map[string]any

// Clone returns a shallow copy (lists are copied).
func (c Config) Clone() Config {
	out := make(Config, len(c))
	for k, v := range c {
		if l, ok := v.([]string); ok {
			v = append([]string(nil), l...)
		}
		out[k] = v
	}
	return out
}

// String returns the value of key as Flink would print a scalar, and whether it is set.
func (c Config) String(key string) (string, bool) {
	v, ok := c[key]
	if !ok {
		return "", false
	}
	switch x := v.(type) {
	case string:
		return x, true
	case []string:
		return strings.Join(x, ";"), true
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), true
	default:
		return fmt.Sprint(x), true
	}
}

// loadStockConfig reads conf/config.yaml (standard YAML, nested or flat keys) or, when absent,
// conf/flink-conf.yaml (the legacy "key: value" format) and flattens it the way Flink's
// GlobalConfiguration does. A conf dir with neither yields an empty config.
func loadStockConfig(confDir string) (Config, error) {
	if b, err := os.ReadFile(filepath.Join(confDir, "config.yaml")); err == nil {
		cfg, err := parseStandardYAML(b)
		if err != nil {
			return nil, fmt.Errorf("read conf/config.yaml: %w", err)
		}
		return cfg, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read conf/config.yaml: %w", err)
	}
	b, err := os.ReadFile(filepath.Join(confDir, "flink-conf.yaml"))
	if errors.Is(err, fs.ErrNotExist) {
		return Config{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read conf/flink-conf.yaml: %w", err)
	}
	return parseLegacyYAML(b), nil
}

// parseStandardYAML parses a standard YAML document and flattens nested maps into dotted keys
// (GlobalConfiguration.flatten).
func parseStandardYAML(b []byte) (Config, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	out := Config{}
	flatten(out, "", doc)
	return out, nil
}

func flatten(out Config, prefix string, m map[string]any) {
	for k, v := range m {
		key := prefix + k
		switch x := v.(type) {
		case map[string]any:
			flatten(out, key+".", x)
		case []any:
			l := make([]string, len(x))
			for i, e := range x {
				l[i] = fmt.Sprint(e)
			}
			out[key] = l
		case nil:
			// An empty value sets nothing.
		default:
			out[key] = x
		}
	}
}

// parseLegacyYAML parses flink-conf.yaml as GlobalConfiguration.loadLegacyYAMLResource does: one
// "key: value" per line, '#' starts a comment anywhere, empty keys or values are skipped.
func parseLegacyYAML(b []byte) Config {
	out := Config{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		k, v, ok := strings.Cut(line, ": ")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if ok && k != "" && v != "" {
			out[k] = v
		}
	}
	return out
}

// MarshalYAML writes the configuration as standard YAML with one flat dotted key per line, sorted.
// Flink 1.19+ reads flat keys (GlobalConfiguration.loadYAMLResource flattens only nested maps), and
// lists as YAML sequences (ConfigurationUtils.convertToList parses them back). Strings that YAML
// would read as another type are quoted, so every value reaches Flink as written.
func (c Config) MarshalYAML() ([]byte, error) {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	doc := &yaml.Node{Kind: yaml.MappingNode}
	for _, k := range keys {
		var kn, vn yaml.Node
		if err := kn.Encode(k); err != nil {
			return nil, fmt.Errorf("encode key %q: %w", k, err)
		}
		if err := vn.Encode(c[k]); err != nil {
			return nil, fmt.Errorf("encode value of %q: %w", k, err)
		}
		if vn.Kind == yaml.SequenceNode {
			vn.Style = yaml.FlowStyle
		}
		doc.Content = append(doc.Content, &kn, &vn)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("encode flink configuration: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode flink configuration: %w", err)
	}
	return buf.Bytes(), nil
}
