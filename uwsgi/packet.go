// Package uwsgi serves an http.Handler over the binary uwsgi protocol, the
// one NGINX's uwsgi module speaks, so that farm needs no uWSGI process:
// `uwsgi_pass unix:/run/farm/farm.socket;` with NGINX's stock uwsgi_params
// reaches the same handler as HTTP does.
//
// The protocol (https://uwsgi-docs.readthedocs.io/en/latest/Protocol.html,
// and ngx_http_uwsgi_module.c for NGINX's side): a request is a 4-byte
// header (modifier1, a little-endian 16-bit size of the variables,
// modifier2), then that many bytes of variables, each a little-endian
// 16-bit key size, the key, a 16-bit value size, the value; then the body,
// CONTENT_LENGTH bytes. The answer is a plain HTTP/1.1 response, and the
// connection closes after it.
package uwsgi

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
)

// HeaderSize is the size of a packet header.
const HeaderSize = 4

// Var is one request variable.
type Var struct {
	Key, Value string
}

// Packet is a parsed request header and its variables.
type Packet struct {
	Modifier1, Modifier2 byte
	Vars                 []Var
}

// Get returns the value of the first variable named key.
func (p *Packet) Get(key string) (string, bool) {
	for _, v := range p.Vars {
		if v.Key == key {
			return v.Value, true
		}
	}
	return "", false
}

// ProtocolError is a malformed packet: the connection it came on cannot be
// trusted any further and is closed.
type ProtocolError struct{ Msg string }

func (e *ProtocolError) Error() string { return "uwsgi: " + e.Msg }

func protoErr(format string, args ...any) error {
	return &ProtocolError{Msg: fmt.Sprintf(format, args...)}
}

// ReadPacket reads a packet header and its variables from r. A packet that
// ends early, whose sizes do not add up, or whose modifier1 is not 0 (the
// WSGI/HTTP request that NGINX sends) is a *ProtocolError; a connection
// closed before the first byte is io.EOF.
func ReadPacket(r io.Reader) (*Packet, error) {
	var h [HeaderSize]byte
	if n, err := io.ReadFull(r, h[:]); err != nil {
		if n == 0 && errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, protoErr("truncated header: %d of %d bytes", n, HeaderSize)
		}
		return nil, err
	}
	p := &Packet{Modifier1: h[0], Modifier2: h[3]}
	if p.Modifier1 != 0 {
		return nil, protoErr("modifier1 %d is not supported (only 0, an HTTP request)", p.Modifier1)
	}
	size := int(binary.LittleEndian.Uint16(h[1:3]))
	bp := blockPool.Get().(*[]byte)
	defer blockPool.Put(bp)
	buf := (*bp)[:size]
	if n, err := io.ReadFull(r, buf); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, protoErr("truncated variables: %d of %d bytes", n, size)
		}
		return nil, err
	}
	vars, err := ParseVars(buf)
	if err != nil {
		return nil, err
	}
	p.Vars = vars
	return p, nil
}

// blockPool holds buffers for the variables block, which is at most 64 KiB.
var blockPool = sync.Pool{New: func() any { b := make([]byte, 0xffff); return &b }}

// ParseVars splits the variables block of a packet. The block becomes one
// string, and every key and value a part of it: one allocation for all of
// them.
func ParseVars(b []byte) ([]Var, error) {
	block := string(b)
	vars := make([]Var, 0, 32)
	for off := 0; off < len(block); {
		key, next, err := str(block, off)
		if err != nil {
			return nil, protoErr("key %s", err)
		}
		val, next, err := str(block, next)
		if err != nil {
			return nil, protoErr("value of %s %s", quoteKey(key), err)
		}
		if key == "" {
			return nil, protoErr("empty variable name at byte %d", off)
		}
		vars = append(vars, Var{Key: key, Value: val})
		off = next
	}
	return vars, nil
}

// overrun is the fault of a string whose size runs past the block; str
// words it for its caller, which knows what the string was.
type overrun struct {
	size, off, block int
	sizeToo          bool // the size itself runs past
}

func (e *overrun) Error() string {
	if e.sizeToo {
		return fmt.Sprintf("size at byte %d runs past the %d-byte block", e.off, e.block)
	}
	return fmt.Sprintf("of %d bytes at byte %d runs past the %d-byte block", e.size, e.off, e.block)
}

// str reads one length-prefixed string at off.
func str(b string, off int) (string, int, error) {
	if off+2 > len(b) {
		return "", 0, &overrun{off: off, block: len(b), sizeToo: true}
	}
	n := int(b[off]) | int(b[off+1])<<8
	off += 2
	if off+n > len(b) {
		return "", 0, &overrun{size: n, off: off, block: len(b)}
	}
	return b[off : off+n], off + n, nil
}

// AppendPacket encodes a request header and variables, as NGINX does.
// Sizes over 65535 cannot be encoded and are an error.
func AppendPacket(dst []byte, modifier1, modifier2 byte, vars []Var) ([]byte, error) {
	size := 0
	for _, v := range vars {
		if len(v.Key) > 0xffff || len(v.Value) > 0xffff {
			return nil, fmt.Errorf("uwsgi: variable %s too long", quoteKey(v.Key))
		}
		size += 4 + len(v.Key) + len(v.Value)
	}
	if size > 0xffff {
		return nil, fmt.Errorf("uwsgi: variables of %d bytes exceed 65535", size)
	}
	dst = append(dst, modifier1, byte(size), byte(size>>8), modifier2)
	for _, v := range vars {
		dst = binary.LittleEndian.AppendUint16(dst, uint16(len(v.Key)))
		dst = append(dst, v.Key...)
		dst = binary.LittleEndian.AppendUint16(dst, uint16(len(v.Value)))
		dst = append(dst, v.Value...)
	}
	return dst, nil
}

func quoteKey(k string) string {
	if len(k) > 40 {
		k = k[:40] + "..."
	}
	return fmt.Sprintf("%q", k)
}
