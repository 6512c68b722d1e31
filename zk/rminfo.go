package zk

import (
	"fmt"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
)

// ActiveRMInfo is the payload of a ResourceManager's election znodes (ActiveStandbyElectorLock and
// ActiveBreadCrumb): the proto2 message hadoop.yarn.ActiveRMInfoProto {optional string clusterId = 1;
// optional string rmId = 2;}. Both fields are optional; either may be empty.
type ActiveRMInfo struct {
	// ClusterID is the writer's yarn.resourcemanager.cluster-id.
	ClusterID string
	// RMID is the writer's yarn.resourcemanager.ha.id, such as rm1.
	RMID string
}

// MaxActiveRMInfoSize bounds the input DecodeActiveRMInfo accepts; real payloads are a few dozen bytes.
const MaxActiveRMInfoSize = 64 << 10

// DecodeActiveRMInfo decodes an ActiveRMInfoProto. Unknown fields are skipped, as protobuf parsers do (newer
// Hadoop versions may add address fields); a repeated field keeps its last value. Errors wrap ErrDecode.
func DecodeActiveRMInfo(data []byte) (ActiveRMInfo, error) {
	if len(data) > MaxActiveRMInfoSize {
		return ActiveRMInfo{}, fmt.Errorf("%w: ActiveRMInfoProto of %d bytes", ErrDecode, len(data))
	}
	var info ActiveRMInfo
	for b := data; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return ActiveRMInfo{}, fmt.Errorf("%w: ActiveRMInfoProto: %w", ErrDecode, protowire.ParseError(n))
		}
		b = b[n:]
		if (num == 1 || num == 2) && typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return ActiveRMInfo{}, fmt.Errorf("%w: ActiveRMInfoProto field %d: %w", ErrDecode, num, protowire.ParseError(n))
			}
			if !utf8.Valid(v) {
				return ActiveRMInfo{}, fmt.Errorf("%w: ActiveRMInfoProto field %d is not UTF-8", ErrDecode, num)
			}
			if num == 1 {
				info.ClusterID = string(v)
			} else {
				info.RMID = string(v)
			}
			b = b[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return ActiveRMInfo{}, fmt.Errorf("%w: ActiveRMInfoProto field %d: %w", ErrDecode, num, protowire.ParseError(n))
		}
		b = b[n:]
	}
	return info, nil
}
