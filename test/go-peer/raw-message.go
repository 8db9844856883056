package main

import "fmt"

// rawMessage carries already-encoded protobuf bytes through the ttrpc codec.
// gogo's proto.Marshal/Unmarshal defer to a message's own Marshal/Unmarshal
// methods, so the payload crosses the wire untouched; this lets the client
// call any service or method with bytes prepared by the caller.
type rawMessage struct {
	data []byte
}

func (m *rawMessage) Reset()         { m.data = nil }
func (m *rawMessage) String() string { return fmt.Sprintf("rawMessage(%d bytes)", len(m.data)) }
func (m *rawMessage) ProtoMessage()  {}

func (m *rawMessage) Marshal() ([]byte, error) { return m.data, nil }

// Unmarshal copies because ttrpc may reuse the receive buffer.
func (m *rawMessage) Unmarshal(b []byte) error {
	m.data = append([]byte(nil), b...)
	return nil
}
