package yarnclient

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
)

// SubmissionContext is the body of POST /ws/v1/cluster/apps (Hadoop's
// ApplicationSubmissionContextInfo, sent without a root element).
type SubmissionContext struct {
	// ApplicationID comes from NewApplication, such as application_1700000000000_0001.
	ApplicationID string `json:"application-id"`
	// ApplicationName is shown in the ResourceManager UI.
	ApplicationName string `json:"application-name,omitempty"`
	// Queue is the leaf queue; empty means the scheduler's default placement.
	Queue string `json:"queue,omitempty"`
	// Priority is the application priority; nil leaves the ResourceManager default.
	Priority *int `json:"priority,omitempty"`
	// AMContainerSpec describes the ApplicationMaster container.
	AMContainerSpec ContainerLaunchContext `json:"am-container-spec"`
	// CancelTokensWhenComplete, when set, overrides the ResourceManager default (true).
	CancelTokensWhenComplete *bool `json:"cancel-tokens-when-complete,omitempty"`
	// MaxAppAttempts is the number of AM attempts; 0 leaves the cluster default.
	MaxAppAttempts int `json:"max-app-attempts,omitempty"`
	// Resource is the ApplicationMaster container size.
	Resource Resource `json:"resource"`
	// ApplicationType is matched by the applicationTypes filter of Apps.
	ApplicationType string `json:"application-type,omitempty"`
	// KeepContainersAcrossApplicationAttempts keeps running containers when the AM restarts.
	KeepContainersAcrossApplicationAttempts bool `json:"keep-containers-across-application-attempts,omitempty"`
	// ApplicationTags are at most 10 lower-case printable ASCII tags of at most 100 characters.
	ApplicationTags Tags `json:"application-tags,omitzero"`
	// AppNodeLabelExpression restricts all containers of the application to a node label.
	AppNodeLabelExpression string `json:"app-node-label-expression,omitempty"`
	// AMContainerNodeLabelExpression restricts the AM container to a node label.
	AMContainerNodeLabelExpression string `json:"am-container-node-label-expression,omitempty"`
	// AttemptFailuresValidityInterval (ms) makes only failures within this window count; 0 omits it.
	AttemptFailuresValidityInterval int64 `json:"attempt-failures-validity-interval,omitempty"`
	// ReservationID places the application in a reservation.
	ReservationID string `json:"reservation-id,omitempty"`
	// LogAggregationContext selects which container logs are aggregated.
	LogAggregationContext *LogAggregationContext `json:"log-aggregation-context,omitempty"`
}

// ContainerLaunchContext is Hadoop's ContainerLaunchContextInfo.
type ContainerLaunchContext struct {
	// LocalResources maps link names in the container working directory to the files to localize.
	LocalResources EntryMap[LocalResource] `json:"local-resources,omitempty"`
	// Environment holds the container's environment variables.
	Environment EntryMap[string] `json:"environment,omitempty"`
	// Commands are the shell commands of the container (normally exactly one).
	Commands Commands `json:"commands,omitzero"`
	// ServiceData is base64 data for NodeManager auxiliary services.
	ServiceData EntryMap[string] `json:"service-data,omitempty"`
	// Credentials are delegation tokens and secrets for the container.
	Credentials *Credentials `json:"credentials,omitempty"`
	// ApplicationACLs maps ACLViewApp / ACLModifyApp to Hadoop ACL strings.
	ApplicationACLs EntryMap[string] `json:"application-acls,omitempty"`
}

// Application ACL keys for ContainerLaunchContext.ApplicationACLs.
const (
	ACLViewApp   = "VIEW_APP"
	ACLModifyApp = "MODIFY_APP"
)

// LocalResource is one file the NodeManager localizes (Hadoop's LocalResourceInfo).
type LocalResource struct {
	// Resource is the file URI, such as hdfs://nn:8020/user/u/app.jar.
	Resource string `json:"resource"`
	// Type is FILE, ARCHIVE or PATTERN.
	Type ResourceType `json:"type"`
	// Visibility is PUBLIC, PRIVATE or APPLICATION.
	Visibility Visibility `json:"visibility"`
	// Size is the file length in bytes (> 0).
	Size int64 `json:"size"`
	// Timestamp is the file's modification time in ms; it must equal the file system's exactly.
	Timestamp int64 `json:"timestamp"`
	// Pattern is only used with Type PATTERN.
	Pattern string `json:"pattern,omitempty"`
}

// ResourceType is the kind of a LocalResource.
type ResourceType string

// Resource types.
const (
	ResourceFile    ResourceType = "FILE"
	ResourceArchive ResourceType = "ARCHIVE"
	ResourcePattern ResourceType = "PATTERN"
)

// Visibility is who may share a localized LocalResource.
type Visibility string

// Visibilities. PUBLIC files must be world-readable with world-executable ancestors.
const (
	VisibilityPublic      Visibility = "PUBLIC"
	VisibilityPrivate     Visibility = "PRIVATE"
	VisibilityApplication Visibility = "APPLICATION"
)

// Resource is a container size.
type Resource struct {
	// MemoryMB is the memory in MiB.
	MemoryMB int64 `json:"memory"`
	// VCores is the number of virtual cores.
	VCores int `json:"vCores"`
}

// Credentials are the tokens and secrets of a container (Hadoop's CredentialsInfo).
type Credentials struct {
	// Tokens maps aliases to Token.encodeToUrlString() values.
	Tokens EntryMap[string] `json:"tokens,omitempty"`
	// Secrets maps aliases to base64 secrets.
	Secrets EntryMap[string] `json:"secrets,omitempty"`
}

// LogAggregationContext is Hadoop's LogAggregationContextInfo.
type LogAggregationContext struct {
	// IncludePattern selects the logs aggregated at the end.
	IncludePattern string `json:"log-include-pattern,omitempty"`
	// ExcludePattern excludes logs aggregated at the end.
	ExcludePattern string `json:"log-exclude-pattern,omitempty"`
	// RolledIncludePattern selects the logs aggregated while running.
	RolledIncludePattern string `json:"rolled-log-include-pattern,omitempty"`
	// RolledExcludePattern excludes logs aggregated while running.
	RolledExcludePattern string `json:"rolled-log-exclude-pattern,omitempty"`
}

// JSON returns the wire form of the context, indented when indent is true (for logs and debugging).
// Unlike encoding/json's default, <, > and & stay literal, so commands read as written.
func (s *SubmissionContext) JSON(indent bool) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if indent {
		enc.SetIndent("", "  ")
	}
	if err := enc.Encode(s); err != nil {
		return nil, fmt.Errorf("encode submission context: %w", err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// marshal is json.Marshal without HTML escaping.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// EntryMap is a string-keyed map that has JAXB's JSON shape: {"entry":[{"key":k,"value":v},...]},
// entries sorted by key so that the wire form is deterministic.
type EntryMap[V any] map[string]V

type entry[V any] struct {
	Key   string `json:"key"`
	Value V      `json:"value"`
}

// MarshalJSON writes the JAXB entry list.
func (m EntryMap[V]) MarshalJSON() ([]byte, error) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	entries := make([]entry[V], 0, len(keys))
	for _, k := range keys {
		entries = append(entries, entry[V]{Key: k, Value: m[k]})
	}
	return marshal(struct {
		Entry []entry[V] `json:"entry"`
	}{entries})
}

// UnmarshalJSON reads the JAXB entry list; a single entry may come as an object instead of a list.
func (m *EntryMap[V]) UnmarshalJSON(b []byte) error {
	var raw struct {
		Entry json.RawMessage `json:"entry"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	var entries []entry[V]
	if len(raw.Entry) > 0 && raw.Entry[0] == '{' {
		var one entry[V]
		if err := json.Unmarshal(raw.Entry, &one); err != nil {
			return err
		}
		entries = append(entries, one)
	} else if len(raw.Entry) > 0 && string(raw.Entry) != "null" {
		if err := json.Unmarshal(raw.Entry, &entries); err != nil {
			return err
		}
	}
	out := make(EntryMap[V], len(entries))
	for _, e := range entries {
		out[e.Key] = e.Value
	}
	*m = out
	return nil
}

// Commands is the container command list, written as {"command":"..."} for one command (the form
// of Hadoop's ResourceManagerRest.md) and {"command":[...]} for several.
type Commands []string

// MarshalJSON writes the commands wrapper.
func (c Commands) MarshalJSON() ([]byte, error) {
	if len(c) == 1 {
		return marshal(struct {
			Command string `json:"command"`
		}{c[0]})
	}
	return marshal(struct {
		Command []string `json:"command"`
	}{[]string(c)})
}

// UnmarshalJSON reads either form of the commands wrapper.
func (c *Commands) UnmarshalJSON(b []byte) error {
	var raw struct {
		Command json.RawMessage `json:"command"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if len(raw.Command) > 0 && raw.Command[0] == '"' {
		var one string
		if err := json.Unmarshal(raw.Command, &one); err != nil {
			return err
		}
		*c = Commands{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(raw.Command, &many); err != nil {
		return err
	}
	*c = many
	return nil
}

// Tags are application tags, written as {"tag":[...]}.
type Tags []string

// MarshalJSON writes the tags wrapper.
func (t Tags) MarshalJSON() ([]byte, error) {
	return marshal(struct {
		Tag []string `json:"tag"`
	}{[]string(t)})
}

// UnmarshalJSON reads the tags wrapper.
func (t *Tags) UnmarshalJSON(b []byte) error {
	var raw struct {
		Tag []string `json:"tag"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*t = raw.Tag
	return nil
}

// Limits the ResourceManager enforces on tags (YarnConfiguration.APPLICATION_MAX_TAGS and
// APPLICATION_MAX_TAG_LENGTH).
const (
	MaxTags      = 10
	MaxTagLength = 100
)

var appIDPattern = regexp.MustCompile(`^application_[0-9]+_[0-9]+$`)

// ValidApplicationID reports whether id looks like application_<clusterTimestamp>_<sequence>.
func ValidApplicationID(id string) bool {
	return appIDPattern.MatchString(id)
}

// Validate checks what the ResourceManager would reject, so that a bad context fails before any
// network call. Tags must already be lower case: the ResourceManager lower-cases them, and a caller
// that later searches by tag must use the stored form.
func (s *SubmissionContext) Validate() error {
	var errs []error
	if !ValidApplicationID(s.ApplicationID) {
		errs = append(errs, fmt.Errorf("application id %q is not of the form application_<ts>_<n>", s.ApplicationID))
	}
	if s.Resource.MemoryMB <= 0 || s.Resource.VCores <= 0 {
		errs = append(errs, fmt.Errorf("resource %+v: memory and vcores must be positive", s.Resource))
	}
	if len(s.AMContainerSpec.Commands) == 0 {
		errs = append(errs, errors.New("am-container-spec needs a command"))
	}
	if err := ValidateTags(s.ApplicationTags); err != nil {
		errs = append(errs, err)
	}
	for key, r := range s.AMContainerSpec.LocalResources {
		if r.Resource == "" || r.Size <= 0 || r.Timestamp <= 0 {
			errs = append(errs, fmt.Errorf("local resource %q: resource, size > 0 and timestamp > 0 are required", key))
		}
		switch r.Visibility {
		case VisibilityPublic, VisibilityPrivate, VisibilityApplication:
		default:
			errs = append(errs, fmt.Errorf("local resource %q: bad visibility %q", key, r.Visibility))
		}
		switch r.Type {
		case ResourceFile, ResourceArchive, ResourcePattern:
		default:
			errs = append(errs, fmt.Errorf("local resource %q: bad type %q", key, r.Type))
		}
	}
	return errors.Join(errs...)
}

// ValidateTags checks the ResourceManager's tag rules: at most MaxTags tags of 1..MaxTagLength
// printable ASCII characters, lower case, no commas (the report joins tags with commas).
func ValidateTags(tags []string) error {
	if len(tags) > MaxTags {
		return fmt.Errorf("%d application tags: at most %d are allowed", len(tags), MaxTags)
	}
	for _, t := range tags {
		if t == "" || len(t) > MaxTagLength {
			return fmt.Errorf("application tag %q: length must be 1..%d", t, MaxTagLength)
		}
		for _, r := range t {
			if r < 0x20 || r > 0x7e || r == ',' || (r >= 'A' && r <= 'Z') {
				return fmt.Errorf("application tag %q: only lower-case printable ASCII without commas is allowed", t)
			}
		}
	}
	return nil
}
