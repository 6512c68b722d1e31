package config

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"go.yaml.in/yaml/v3"
)

// LoadOptions says where the layers above the defaults come from.
type LoadOptions struct {
	// File is the YAML file. When empty, the --config flag and then $YARNGATE_CONFIG name it; with none of
	// them there is no file layer.
	File string
	// Environ is the environment in os.Environ format. Only the variables of Keys (and HADOOP_CONF_DIR,
	// USER, KRB5_CONFIG and YARNGATE_CONFIG) are read.
	Environ []string
	// Flags is a parsed flag set prepared with RegisterFlags, or nil. Only flags given on the command line
	// apply.
	Flags *flag.FlagSet
}

// Load builds the configuration from defaults < file < environment < flags, fills derived defaults (the
// staging root) and validates the result.
func Load(opts LoadOptions) (Config, error) {
	env := lookupEnv(opts.Environ)
	cfg := Default(env)

	file := opts.File
	if file == "" && opts.Flags != nil {
		if f := opts.Flags.Lookup(configFlag); f != nil {
			file = f.Value.String()
		}
	}
	if file == "" {
		file = env(ConfigFileEnv)
	}
	if file != "" {
		if err := loadFile(&cfg, file); err != nil {
			return Config{}, err
		}
	}

	for _, k := range keys {
		if v := env(k.Env); v != "" {
			if err := k.set(&cfg, v); err != nil {
				return Config{}, fmt.Errorf("config: environment %s: %w", k.Env, err)
			}
		}
	}

	if opts.Flags != nil {
		byFlag := make(map[string]Key, len(keys))
		for _, k := range keys {
			byFlag[k.Flag] = k
		}
		var errs []error
		opts.Flags.Visit(func(f *flag.Flag) {
			if k, ok := byFlag[f.Name]; ok {
				if err := k.set(&cfg, f.Value.String()); err != nil {
					errs = append(errs, fmt.Errorf("config: flag --%s: %w", f.Name, err))
				}
			}
		})
		if err := errors.Join(errs...); err != nil {
			return Config{}, err
		}
	}

	if err := cfg.readDigestFile(); err != nil {
		return Config{}, err
	}
	cfg.FillDerived()
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// loadFile decodes the YAML file at path over cfg, rejecting unknown keys and extra documents.
func loadFile(cfg *Config, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := decodeStrict(data, cfg); err != nil {
		return fmt.Errorf("config: %s: %w", path, err)
	}
	return nil
}

// decodeStrict decodes a single YAML document into cfg; keys absent from the document keep their values.
func decodeStrict(data []byte, cfg *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file
		}
		return err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return errors.New("more than one YAML document")
	}
	return nil
}

// FillDerived sets the settings whose defaults derive from others and are still empty: the staging root
// from the user, the Flink library root and HA storage directory from the staging root. Load calls it; code that builds a Config
// by hand calls it before Validate.
func (c *Config) FillDerived() {
	if c.HDFS.StagingRoot == "" && c.User != "" {
		c.HDFS.StagingRoot = DefaultStagingRoot(c.User)
	}
	if c.Flink.LibRoot == "" && c.HDFS.StagingRoot != "" {
		c.Flink.LibRoot = path.Join(c.HDFS.StagingRoot, "flink")
	}
	if c.Flink.HA.StorageDir == "" && c.HDFS.StagingRoot != "" {
		c.Flink.HA.StorageDir = path.Join(c.HDFS.StagingRoot, "ha")
	}
}

// readDigestFile sets zookeeper.digest from zookeeper.digestFile (surrounding white space trimmed). Setting
// both is an error; the file's content never appears in one.
func (c *Config) readDigestFile() error {
	f := c.ZooKeeper.DigestFile
	if f == "" {
		return nil
	}
	if c.ZooKeeper.Digest != "" {
		return fmt.Errorf("config: zookeeper.digest and zookeeper.digestFile are both set: set one")
	}
	data, err := os.ReadFile(f)
	if err != nil {
		return fmt.Errorf("config: zookeeper.digestFile: %w", err)
	}
	c.ZooKeeper.Digest = Secret(strings.TrimSpace(string(data)))
	if c.ZooKeeper.Digest == "" {
		return fmt.Errorf("config: zookeeper.digestFile %s is empty", f)
	}
	return nil
}
