package acl

import (
	"fmt"
	"strconv"
	"strings"
)

// The MQTT converters of HAProxy 2.6: mqtt_is_valid, whether the sample
// holds one whole, valid CONNECT or CONNACK packet of MQTT 3.1, 3.1.1 or 5.0
// (other packet types are not valid), and mqtt_field_value(TYPE,FIELD),
// one field of such a packet: TYPE is a control packet type by name or
// number (CONNECT or 1, ...), FIELD one of the names that type has
// (flags, protocol_name, client_identifier, username, reason_code, ...)
// or, for MQTT 5.0 properties, its number (17 is the session expiry
// interval). Numbers are returned in decimal. A packet that may not be
// whole yet leaves no sample; so does a field that is absent or empty.

// MQTT control packet types.
const (
	mqttConnect = 1
	mqttConnack = 2
	mqttTypes   = 16 // one past AUTH (15)
)

var mqttTypeNames = []string{"", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP",
	"SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH"}

// mqttFlags are the fixed header flags each packet type must carry
// (PUBLISH's are checked against 0x0F, as HAProxy does).
var mqttFlags = [mqttTypes]byte{3: 0x0F, 6: 0x02, 8: 0x02, 10: 0x02}

// MQTT field names, in HAProxy's order: the index is the field's id.
var mqttFieldNames = []string{"", "flags", "reason_code", "protocol_name", "protocol_version",
	"client_identifier", "will_topic", "will_payload", "username", "password", "keepalive",
	"1", "2", "3", "8", "9", "11", "17", "18", "19", "21", "22", "23", "24", "25", "26", "28",
	"31", "33", "34", "35", "36", "37", "38", "39", "40", "41", "42"}

// Field ids (indexes in mqttFieldNames).
const (
	mfFlags = iota + 1
	mfReasonCode
	mfProtocolName
	mfProtocolVersion
	mfClientID
	mfWillTopic
	mfWillPayload
	mfUsername
	mfPassword
	mfKeepalive
	mfPayloadFormat
	mfMessageExpiry
	mfContentType
	mfResponseTopic
	mfCorrelationData
	mfSubscriptionID
	mfSessionExpiry
	mfAssignedClientID
	mfServerKeepalive
	mfAuthMethod
	mfAuthData
	mfReqProblemInfo
	mfDelayInterval
	mfReqResponseInfo
	mfResponseInfo
	mfServerReference
	mfReasonString
	mfReceiveMaximum
	mfTopicAliasMaximum
	mfTopicAlias
	mfMaximumQoS
	mfRetainAvailable
	mfUserProperty
	mfMaximumPacketSize
	mfWildcardSubAvailable
	mfSubIDsAvailable
	mfSharedSubAvailable

	mqttFieldCount // one past the last field id
)

func mfBits(ids ...int) uint64 {
	var b uint64
	for _, id := range ids {
		b |= 1 << id
	}
	return b
}

// mqttFieldsOf are the fields mqtt_field_value accepts for each packet
// type (HAProxy's list; it reads values from CONNECT and CONNACK only).
var mqttFieldsOf = [mqttTypes]uint64{
	mqttConnect: mfBits(mfProtocolName, mfProtocolVersion, mfFlags, mfKeepalive, mfSessionExpiry,
		mfReceiveMaximum, mfMaximumPacketSize, mfTopicAliasMaximum, mfReqResponseInfo, mfReqProblemInfo,
		mfUserProperty, mfAuthMethod, mfAuthData, mfClientID, mfDelayInterval, mfPayloadFormat,
		mfMessageExpiry, mfContentType, mfResponseTopic, mfCorrelationData, mfWillTopic, mfWillPayload,
		mfUsername, mfPassword),
	mqttConnack: mfBits(mfFlags, mfProtocolVersion, mfReasonCode, mfSessionExpiry, mfReceiveMaximum,
		mfMaximumQoS, mfRetainAvailable, mfMaximumPacketSize, mfAssignedClientID, mfTopicAliasMaximum,
		mfReasonString, mfWildcardSubAvailable, mfSubIDsAvailable, mfSharedSubAvailable, mfServerKeepalive,
		mfResponseInfo, mfServerReference, mfUserProperty, mfAuthMethod, mfAuthData),
	3:  mfBits(mfPayloadFormat, mfMessageExpiry, mfContentType, mfResponseTopic, mfCorrelationData, mfSubscriptionID, mfTopicAlias, mfUserProperty),
	4:  mfBits(mfReasonCode, mfReasonString, mfUserProperty),
	5:  mfBits(mfReasonCode, mfReasonString, mfUserProperty),
	6:  mfBits(mfReasonCode, mfReasonString, mfUserProperty),
	7:  mfBits(mfReasonCode, mfReasonString, mfUserProperty),
	8:  mfBits(mfSubscriptionID, mfUserProperty),
	9:  mfBits(mfReasonString, mfUserProperty),
	10: mfBits(mfUserProperty),
	11: mfBits(mfReasonString, mfUserProperty),
	14: mfBits(mfReasonCode, mfSessionExpiry, mfServerReference, mfReasonString, mfUserProperty),
	15: mfBits(mfAuthMethod, mfAuthData, mfReasonString, mfUserProperty),
}

func init() {
	converters["mqtt_is_valid"] = converter{ArgNone, TypeBool, func([]string) (ConvFunc, error) {
		return func(s Sample) (Sample, bool) {
			var p mqttPacket
			switch p.parse(smpBin(s)) {
			case mqttValid:
				return Bool(true), true
			case mqttInvalid:
				return Bool(false), true
			}
			return Sample{}, false
		}, nil
	}}
	converters["mqtt_field_value"] = converter{ArgRequired, TypeStr, func(a []string) (ConvFunc, error) {
		switch {
		case len(a) < 2:
			return nil, fmt.Errorf("missing arguments (got %d/2), type 'string' expected", len(a))
		case len(a) > 2:
			return nil, fmt.Errorf("expected ')' before ',%s)'", a[2])
		}
		typ := mqttTypeID(a[0])
		if typ == 0 {
			return nil, fmt.Errorf("unknown MQTT type '%s'", a[0])
		}
		field := 0
		for i, n := range mqttFieldNames {
			if i > 0 && strings.EqualFold(n, a[1]) {
				if mqttFieldsOf[typ]&(1<<i) != 0 {
					field = i
				}
				break
			}
		}
		if field == 0 {
			return nil, fmt.Errorf("unknown MQTT field name '%s' for packet type '%s'", a[1], a[0])
		}
		return func(s Sample) (Sample, bool) {
			v, ok := mqttFieldValue(smpBin(s), typ, field)
			if !ok || v == "" {
				return Sample{}, false
			}
			return Str(v), true
		}, nil
	}}
}

// mqttTypeID reads a packet type: its number (1 to 15) or its name in
// any case; 0 when it is neither.
func mqttTypeID(v string) int {
	if n, err := strconv.ParseUint(v, 10, 32); err == nil && v[0] != '+' {
		if n >= 1 && n < mqttTypes {
			return int(n)
		}
		return 0
	}
	for i, n := range mqttTypeNames {
		if i > 0 && strings.EqualFold(n, v) {
			return i
		}
	}
	return 0
}

// MQTT validation results, as HAProxy's.
const (
	mqttInvalid = iota
	mqttNeedMore
	mqttValid
)

// MQTT 5.0 property identifiers.
const (
	mpPayloadFormat      = 0x01
	mpMessageExpiry      = 0x02
	mpContentType        = 0x03
	mpResponseTopic      = 0x08
	mpCorrelationData    = 0x09
	mpSessionExpiry      = 0x11
	mpAssignedClientID   = 0x12
	mpServerKeepalive    = 0x13
	mpAuthMethod         = 0x15
	mpAuthData           = 0x16
	mpReqProblemInfo     = 0x17
	mpWillDelay          = 0x18
	mpReqResponseInfo    = 0x19
	mpResponseInfo       = 0x1A
	mpServerReference    = 0x1C
	mpReasonString       = 0x1F
	mpReceiveMaximum     = 0x21
	mpTopicAliasMaximum  = 0x22
	mpMaximumQoS         = 0x24
	mpRetainAvailable    = 0x25
	mpUserProperty       = 0x26
	mpMaximumPacketSize  = 0x27
	mpWildcardSubAvail   = 0x28
	mpSubIDsAvailable    = 0x29
	mpSharedSubAvailable = 0x2A
)

// CONNECT flags.
const (
	mcReserved = 0x01
	mcWill     = 0x04
	mcWillQoS  = 0x18
	mcWillRet  = 0x20
	mcPassword = 0x40
	mcUsername = 0x80
)

// mqttPacket is what HAProxy reads of a CONNECT or CONNACK packet: the
// integers by field id, the strings by field id.
type mqttPacket struct {
	typ     int
	remLen  uint32
	version byte
	ints    [mqttFieldCount]uint32
	strs    [mqttFieldCount][]byte
}

// mqttReader reads MQTT's encodings off a byte slice; bad is set once a
// read runs past the end.
type mqttReader struct {
	b   []byte
	bad bool
}

func (r *mqttReader) int(n int) uint32 {
	if r.bad || len(r.b) < n {
		r.bad = true
		return 0
	}
	var v uint32
	for _, c := range r.b[:n] {
		v = v<<8 | uint32(c)
	}
	r.b = r.b[n:]
	return v
}

func (r *mqttReader) str() []byte {
	l := r.int(2)
	if r.bad || len(r.b) < int(l) {
		r.bad = true
		return nil
	}
	s := r.b[:l]
	r.b = r.b[l:]
	return s
}

// varint reads a variable byte integer of at most four bytes, as
// HAProxy's parser does (running out of bytes ends it without error).
func (r *mqttReader) varint() uint32 {
	var v uint32
	m := 0
	for off := 0; off < 4; off++ {
		if len(r.b) == 0 {
			return v
		}
		c := r.b[0]
		v += uint32(c&127) << m
		m += 7
		r.b = r.b[1:]
		if c <= 127 {
			return v
		}
	}
	r.bad = true
	return v
}

// parse validates msg as HAProxy's mqtt_validate_message does, filling
// p from a CONNECT or CONNACK packet.
func (p *mqttPacket) parse(msg []byte) int {
	if len(msg) < 2 {
		return mqttNeedMore
	}
	p.typ = int(msg[0] >> 4)
	if p.typ == 0 || msg[0]&0x0F != mqttFlags[p.typ] {
		return mqttInvalid
	}
	r := mqttReader{b: msg[1:]}
	p.remLen = r.varint()
	if r.bad {
		return mqttInvalid
	}
	if uint32(len(r.b)) < p.remLen {
		return mqttNeedMore
	}
	switch p.typ {
	case mqttConnect:
		return p.parseConnect(r.b)
	case mqttConnack:
		return p.parseConnack(r.b)
	}
	return mqttInvalid
}

// mqttProp describes how a property is read: its field, its size (1, 2
// or 4 bytes; 0 for a string) and the largest value allowed (0: any),
// whether 0 is refused.
type mqttProp struct {
	field   int
	size    int
	max     uint32
	nonZero bool
	dupBit  int // the field whose bit marks it seen, when not its own
}

var mqttConnectProps = map[byte]mqttProp{
	mpSessionExpiry:     {field: mfSessionExpiry, size: 4},
	mpReceiveMaximum:    {field: mfReceiveMaximum, size: 2, nonZero: true},
	mpMaximumPacketSize: {field: mfMaximumPacketSize, size: 4, nonZero: true},
	mpTopicAliasMaximum: {field: mfTopicAliasMaximum, size: 2, dupBit: mfTopicAlias},
	mpReqResponseInfo:   {field: mfReqResponseInfo, size: 1, max: 1},
	mpReqProblemInfo:    {field: mfReqProblemInfo, size: 1, max: 1},
	mpUserProperty:      {field: mfUserProperty},
	mpAuthMethod:        {field: mfAuthMethod},
	mpAuthData:          {field: mfAuthData},
}

var mqttWillProps = map[byte]mqttProp{
	mpWillDelay:       {field: mfDelayInterval, size: 4},
	mpPayloadFormat:   {field: mfPayloadFormat, size: 1, max: 1},
	mpMessageExpiry:   {field: mfMessageExpiry, size: 4},
	mpContentType:     {field: mfContentType},
	mpResponseTopic:   {field: mfResponseTopic},
	mpCorrelationData: {field: mfCorrelationData},
	mpUserProperty:    {field: mfUserProperty},
}

var mqttConnackProps = map[byte]mqttProp{
	mpSessionExpiry:      {field: mfSessionExpiry, size: 4},
	mpReceiveMaximum:     {field: mfReceiveMaximum, size: 2, nonZero: true},
	mpMaximumQoS:         {field: mfMaximumQoS, size: 1, max: 1},
	mpRetainAvailable:    {field: mfRetainAvailable, size: 1, max: 1},
	mpMaximumPacketSize:  {field: mfMaximumPacketSize, size: 4, nonZero: true},
	mpAssignedClientID:   {field: mfAssignedClientID, nonZero: true},
	mpTopicAliasMaximum:  {field: mfTopicAliasMaximum, size: 2},
	mpReasonString:       {field: mfReasonString},
	mpWildcardSubAvail:   {field: mfWildcardSubAvailable, size: 1, max: 1},
	mpSubIDsAvailable:    {field: mfSubIDsAvailable, size: 1, max: 1, dupBit: mfSubscriptionID},
	mpSharedSubAvailable: {field: mfSharedSubAvailable, size: 1, max: 1},
	mpServerKeepalive:    {field: mfServerKeepalive, size: 2},
	mpResponseInfo:       {field: mfResponseInfo},
	mpServerReference:    {field: mfServerReference},
	mpUserProperty:       {field: mfUserProperty},
	mpAuthMethod:         {field: mfAuthMethod},
	mpAuthData:           {field: mfAuthData},
}

// props reads a property list (its length first) with the properties
// known in known; unknown is the result for a property not there. It
// returns mqttValid when the list reads well.
func (p *mqttPacket) props(r *mqttReader, known map[byte]mqttProp, unknown int) int {
	plen := r.varint()
	if r.bad || uint32(len(r.b)) < plen {
		return mqttInvalid
	}
	pr := mqttReader{b: r.b[:plen]}
	r.b = r.b[plen:]
	var seen uint64
	for len(pr.b) > 0 {
		id := pr.b[0]
		d, ok := known[id]
		if !ok {
			return unknown
		}
		pr.b = pr.b[1:]
		if d.field == mfUserProperty {
			pr.str()
			if pr.bad {
				return mqttInvalid
			}
			pr.str()
		} else {
			bit := d.field
			if d.dupBit != 0 {
				bit = d.dupBit
			}
			if seen&(1<<bit) != 0 {
				return mqttInvalid
			}
			if d.size == 0 {
				s := pr.str()
				p.strs[d.field] = s
				if d.nonZero && len(s) == 0 {
					return mqttInvalid
				}
			} else {
				v := pr.int(d.size)
				p.ints[d.field] = v
				if d.nonZero && v == 0 || d.max != 0 && v > d.max {
					return mqttInvalid
				}
			}
			seen |= 1 << bit
		}
		if pr.bad {
			return mqttInvalid
		}
	}
	return mqttValid
}

func (p *mqttPacket) parseConnect(b []byte) int {
	r := mqttReader{b: b}
	name := r.str()
	if r.bad || !strings.EqualFold(string(name), "MQTT") && !strings.EqualFold(string(name), "MQIsdp") {
		return mqttInvalid
	}
	p.strs[mfProtocolName] = name
	p.version = byte(r.int(1))
	if r.bad || p.version < 3 || p.version > 5 {
		return mqttInvalid
	}
	flags := r.int(1)
	if r.bad || flags&mcReserved != 0 || flags&(mcWill|mcWillQoS|mcWillRet) == mcWillQoS {
		return mqttInvalid
	}
	p.ints[mfFlags] = flags
	p.ints[mfKeepalive] = r.int(2)
	if r.bad {
		return mqttInvalid
	}
	if p.version == 5 {
		if p.props(&r, mqttConnectProps, mqttInvalid) != mqttValid {
			return mqttInvalid
		}
	}
	if len(p.strs[mfAuthMethod]) == 0 && len(p.strs[mfAuthData]) != 0 {
		return mqttInvalid
	}
	p.strs[mfClientID] = r.str()
	if r.bad {
		return mqttInvalid
	}
	if p.version == 5 && flags&mcWill != 0 {
		if p.props(&r, mqttWillProps, mqttInvalid) != mqttValid {
			return mqttInvalid
		}
	}
	if flags&mcWill != 0 {
		p.strs[mfWillTopic] = r.str()
		p.strs[mfWillPayload] = r.str()
	}
	if flags&mcUsername != 0 {
		p.strs[mfUsername] = r.str()
	}
	if flags&mcPassword != 0 && !r.bad {
		p.strs[mfPassword] = r.str()
	}
	if r.bad || uint32(len(b)-len(r.b)) != p.remLen {
		return mqttInvalid
	}
	return mqttValid
}

func (p *mqttPacket) parseConnack(b []byte) int {
	if len(b) < 2 {
		return mqttInvalid
	}
	// HAProxy tells the versions apart by what follows the fixed header.
	p.version = 5
	if len(b) == 2 {
		p.version = 4
	}
	r := mqttReader{b: b}
	p.ints[mfFlags] = r.int(1)
	if p.ints[mfFlags]&0xFE != 0 {
		return mqttInvalid
	}
	p.ints[mfReasonCode] = r.int(1)
	if p.version == 5 {
		// An unknown CONNACK property reads as "more data needed", as
		// in HAProxy.
		if res := p.props(&r, mqttConnackProps, mqttNeedMore); res != mqttValid {
			return res
		}
	}
	if uint32(len(b)-len(r.b)) != p.remLen {
		return mqttInvalid
	}
	return mqttValid
}

// mqttFieldValue returns field of the packet of type typ in msg, as
// HAProxy's mqtt_field_value does: numbers in decimal, "" when absent.
func mqttFieldValue(msg []byte, typ, field int) (string, bool) {
	var p mqttPacket
	if p.parse(msg) != mqttValid || p.typ != typ {
		return "", false
	}
	v5 := p.version == 5
	will := p.ints[mfFlags]&mcWill != 0
	switch typ {
	case mqttConnect:
		switch field {
		case mfFlags, mfKeepalive:
			return strconv.FormatUint(uint64(p.ints[field]), 10), true
		case mfProtocolVersion:
			return strconv.Itoa(int(p.version)), true
		case mfProtocolName, mfClientID, mfWillTopic, mfWillPayload, mfUsername, mfPassword:
			return string(p.strs[field]), true
		case mfPayloadFormat, mfMessageExpiry, mfDelayInterval:
			if !v5 || !will {
				return "", false
			}
			return strconv.FormatUint(uint64(p.ints[field]), 10), true
		case mfContentType, mfResponseTopic, mfCorrelationData:
			if !v5 || !will {
				return "", false
			}
			return string(p.strs[field]), true
		case mfSessionExpiry, mfReqProblemInfo, mfReqResponseInfo, mfReceiveMaximum, mfTopicAliasMaximum, mfMaximumPacketSize:
			if !v5 {
				return "", false
			}
			return strconv.FormatUint(uint64(p.ints[field]), 10), true
		case mfAuthMethod, mfAuthData:
			if !v5 {
				return "", false
			}
			return string(p.strs[field]), true
		}
	case mqttConnack:
		switch field {
		case mfFlags, mfReasonCode:
			return strconv.FormatUint(uint64(p.ints[field]), 10), true
		case mfProtocolVersion:
			return strconv.Itoa(int(p.version)), true
		case mfSessionExpiry, mfServerKeepalive, mfReceiveMaximum, mfTopicAliasMaximum, mfMaximumQoS,
			mfRetainAvailable, mfMaximumPacketSize, mfWildcardSubAvailable, mfSubIDsAvailable, mfSharedSubAvailable:
			if !v5 {
				return "", false
			}
			return strconv.FormatUint(uint64(p.ints[field]), 10), true
		case mfAssignedClientID, mfAuthMethod, mfAuthData, mfResponseInfo, mfServerReference, mfReasonString:
			if !v5 {
				return "", false
			}
			return string(p.strs[field]), true
		}
	}
	return "", false
}
