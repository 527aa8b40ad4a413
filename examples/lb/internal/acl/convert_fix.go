package acl

import (
	"bytes"
	"fmt"
	"strings"
)

// The FIX converters of HAProxy 2.6: fix_is_valid, whether the sample
// holds one whole, valid FIX message (BeginString with a known version,
// BodyLength matching the body, MsgType, the tags numeric and in range
// for the version, CheckSum last and right), and fix_tag_value(TAG), the
// value of the first field with that tag (a number or one of the names
// BeginString, BodyLength, CheckSum, MsgType, SenderCompID and
// TargetCompID). A message that may not be whole yet (shorter than 26
// bytes, or ending before its CheckSum) leaves no sample for both; an
// invalid one is false for fix_is_valid and leaves no sample for
// fix_tag_value.

// fixDelim ends each field of a FIX message.
const fixDelim = 0x01

// fixMinSize is the size below which HAProxy waits for more of a message.
const fixMinSize = 26

// FIX tag numbers HAProxy names.
const (
	fixBeginString = 8
	fixBodyLength  = 9
	fixCheckSum    = 10
	fixMsgType     = 35
)

var fixTagNames = map[string]uint32{
	"msgtype": fixMsgType, "checksum": fixCheckSum, "bodylength": fixBodyLength,
	"targetcompid": 56, "beginstring": fixBeginString, "sendercompid": 49,
}

// fixVersions are the BeginString values HAProxy knows, with the highest
// tag number each allows (user-defined tags aside).
var fixVersions = map[string]uint32{
	"FIX.4.0": 140, "FIX.4.1": 211, "FIX.4.2": 446, "FIX.4.3": 659, "FIX.4.4": 956, "FIXT.1.1": 1621,
}

// FIX message states, as HAProxy's validation reports them.
const (
	fixInvalid = iota
	fixNeedMore
	fixValid
)

func init() {
	converters["fix_is_valid"] = converter{ArgNone, TypeBool, func([]string) (ConvFunc, error) {
		return func(s Sample) (Sample, bool) {
			switch fixValidate(smpBin(s)) {
			case fixValid:
				return Bool(true), true
			case fixInvalid:
				return Bool(false), true
			}
			return Sample{}, false
		}, nil
	}}
	converters["fix_tag_value"] = converter{ArgOptional, TypeStr, func(a []string) (ConvFunc, error) {
		arg := strings.Join(a, ",")
		tag, ok := fixTagID(arg)
		if !ok {
			return nil, fmt.Errorf("unknown FIX tag name '%s'", arg)
		}
		return func(s Sample) (Sample, bool) {
			v, ok := fixTagValue(smpBin(s), tag)
			if !ok || len(v) == 0 {
				return Sample{}, false
			}
			return Str(string(v)), true
		}, nil
	}}
}

// readUint reads v's leading digits as HAProxy's read_uint does (modulo
// 2^32) and returns what follows them.
func readUint(v []byte) (uint32, []byte) {
	var n uint32
	i := 0
	for ; i < len(v) && v[i] >= '0' && v[i] <= '9'; i++ {
		n = n*10 + uint32(v[i]-'0')
	}
	return n, v[i:]
}

// fixCheckID reads a tag number: all digits, not 0, and when a version
// is given within its range or the user-defined 10000-19999.
func fixCheckID(tag []byte, version string) (uint32, bool) {
	n, rest := readUint(tag)
	if len(rest) != 0 || n == 0 {
		return 0, false
	}
	if version == "" || n >= 10000 && n <= 19999 {
		return n, true
	}
	return n, n <= fixVersions[version]
}

// fixTagID reads fix_tag_value's argument: a tag number or name.
func fixTagID(v string) (uint32, bool) {
	if n, ok := fixCheckID([]byte(v), ""); ok {
		return n, true
	}
	n, ok := fixTagNames[strings.ToLower(v)]
	return n, ok
}

// fixNextField cuts the next "tag=value<SOH>" off msg as HAProxy does:
// the tag runs to the first '=' and the value from there to the next
// delimiter. more is set when msg ends first; ok is false for an empty
// tag.
func fixNextField(msg []byte) (tag, value, rest []byte, more, ok bool) {
	eq := bytes.IndexByte(msg, '=')
	if eq < 0 {
		return nil, nil, nil, true, false
	}
	end := bytes.IndexByte(msg[eq:], fixDelim)
	if end < 0 {
		return nil, nil, nil, true, false
	}
	end += eq
	if eq == 0 {
		return nil, nil, nil, false, false
	}
	return msg[:eq], msg[eq+1 : end], msg[end+1:], false, true
}

// fixValidate checks msg as HAProxy's fix_is_valid does.
func fixValidate(msg []byte) int {
	if len(msg) < fixMinSize {
		return fixNeedMore
	}
	version := ""
	var sum byte
	var bodyLen uint32
	bodyStart := -1
	n := 0
	for p := msg; len(p) > 0; {
		tag, value, rest, more, ok := fixNextField(p)
		if more {
			return fixNeedMore
		}
		if !ok {
			return fixInvalid
		}
		id, ok := fixCheckID(tag, version)
		if !ok {
			return fixInvalid
		}
		n++
		switch {
		case n == 1:
			if id != fixBeginString {
				return fixInvalid
			}
			if _, known := fixVersions[string(value)]; !known {
				return fixInvalid
			}
			version = string(value)
		case n == 2:
			if id != fixBodyLength {
				return fixInvalid
			}
			l, left := readUint(value)
			if len(left) != 0 || l == 0 {
				return fixInvalid
			}
			bodyLen = l
			bodyStart = len(msg) - len(rest)
		case n == 3:
			if id != fixMsgType {
				return fixInvalid
			}
		case id == fixCheckSum:
			if int64(bodyLen) != int64(len(msg)-len(p)-bodyStart) || len(value) != 3 {
				return fixInvalid
			}
			if want, _ := readUint(value); uint32(sum) != want {
				return fixInvalid
			}
			return fixValid
		}
		for _, c := range tag {
			sum += c
		}
		sum += '='
		for _, c := range value {
			sum += c
		}
		sum += fixDelim
		p = rest
	}
	if bodyStart >= 0 {
		return fixNeedMore
	}
	return fixInvalid
}

// fixTagValue returns the value of the first field of msg with tag id,
// as HAProxy's fix_tag_value finds it; ok is false when there is none
// (the CheckSum field reached, an invalid field, or the message ends).
func fixTagValue(msg []byte, id uint32) ([]byte, bool) {
	for p := msg; len(p) > 0; {
		tag, value, rest, more, ok := fixNextField(p)
		if more || !ok {
			return nil, false
		}
		n, ok := fixCheckID(tag, "")
		if !ok {
			return nil, false
		}
		if n == id {
			return value, true
		}
		if n == fixCheckSum {
			return nil, false
		}
		p = rest
	}
	return nil, false
}
