package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
)

// Field numbers of ttrpc.test.EchoRequest and ttrpc.test.EchoResponse
// (proto/test/echo.proto). Encoded by hand so the peer needs no generated code.
const (
	reqFieldData        = 1
	reqFieldSleepMs     = 2
	reqFieldFailCode    = 3
	reqFieldFailMessage = 4

	respFieldData                = 1
	respFieldDeadlineRemainingMs = 2
	respFieldMetadata            = 3

	mapFieldKey   = 1
	mapFieldValue = 2
)

const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
	wireFixed32 = 5
)

type echoRequest struct {
	data        []byte
	sleepMs     int64
	failCode    int32
	failMessage string
}

type echoResponse struct {
	data                []byte
	deadlineRemainingMs int64
	metadata            map[string]string
}

func appendTag(b []byte, field int, wireType int) []byte {
	return binary.AppendUvarint(b, uint64(field)<<3|uint64(wireType))
}

func appendVarintField(b []byte, field int, v uint64) []byte {
	return binary.AppendUvarint(appendTag(b, field, wireVarint), v)
}

func appendBytesField(b []byte, field int, v []byte) []byte {
	b = binary.AppendUvarint(appendTag(b, field, wireBytes), uint64(len(v)))
	return append(b, v...)
}

// encode writes proto3 form: fields holding their default value are omitted.
func (r echoRequest) encode() []byte {
	var b []byte
	if len(r.data) > 0 {
		b = appendBytesField(b, reqFieldData, r.data)
	}
	if r.sleepMs != 0 {
		b = appendVarintField(b, reqFieldSleepMs, uint64(r.sleepMs))
	}
	if r.failCode != 0 {
		// int32 is sign-extended to 64 bits on the wire.
		b = appendVarintField(b, reqFieldFailCode, uint64(int64(r.failCode)))
	}
	if r.failMessage != "" {
		b = appendBytesField(b, reqFieldFailMessage, []byte(r.failMessage))
	}
	return b
}

// encode writes map entries sorted by key so equal responses are equal bytes.
func (r echoResponse) encode() []byte {
	var b []byte
	if len(r.data) > 0 {
		b = appendBytesField(b, respFieldData, r.data)
	}
	if r.deadlineRemainingMs != 0 {
		b = appendVarintField(b, respFieldDeadlineRemainingMs, uint64(r.deadlineRemainingMs))
	}
	keys := make([]string, 0, len(r.metadata))
	for k := range r.metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		var entry []byte
		entry = appendBytesField(entry, mapFieldKey, []byte(k))
		entry = appendBytesField(entry, mapFieldValue, []byte(r.metadata[k]))
		b = appendBytesField(b, respFieldMetadata, entry)
	}
	return b
}

var errTruncated = errors.New("protobuf: truncated message")

// wireField is one decoded field: varint holds wireVarint values, bytes holds
// length-delimited ones; fixed-width fields are skipped by the reader.
type wireField struct {
	number   int
	wireType int
	varint   uint64
	bytes    []byte
}

func readFields(b []byte, visit func(f wireField) error) error {
	for len(b) > 0 {
		tag, n := binary.Uvarint(b)
		if n <= 0 {
			return errTruncated
		}
		b = b[n:]
		f := wireField{number: int(tag >> 3), wireType: int(tag & 7)}
		switch f.wireType {
		case wireVarint:
			v, n := binary.Uvarint(b)
			if n <= 0 {
				return errTruncated
			}
			f.varint = v
			b = b[n:]
		case wireBytes:
			l, n := binary.Uvarint(b)
			if n <= 0 || uint64(len(b)-n) < l {
				return errTruncated
			}
			f.bytes = b[n : n+int(l)]
			b = b[n+int(l):]
		case wireFixed64:
			if len(b) < 8 {
				return errTruncated
			}
			b = b[8:]
		case wireFixed32:
			if len(b) < 4 {
				return errTruncated
			}
			b = b[4:]
		default:
			return fmt.Errorf("protobuf: unsupported wire type %d", f.wireType)
		}
		if err := visit(f); err != nil {
			return err
		}
	}
	return nil
}

func decodeEchoRequest(b []byte) (echoRequest, error) {
	var r echoRequest
	err := readFields(b, func(f wireField) error {
		switch {
		case f.number == reqFieldData && f.wireType == wireBytes:
			r.data = append([]byte(nil), f.bytes...)
		case f.number == reqFieldSleepMs && f.wireType == wireVarint:
			r.sleepMs = int64(f.varint)
		case f.number == reqFieldFailCode && f.wireType == wireVarint:
			r.failCode = int32(int64(f.varint))
		case f.number == reqFieldFailMessage && f.wireType == wireBytes:
			r.failMessage = string(f.bytes)
		}
		return nil
	})
	return r, err
}
