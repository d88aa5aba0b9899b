package jsapi

// errors_table.go is generated from nats-server's server/errors.json, in the
// module cache of the test module (test/go.mod pins the release);
// test/jsapi checks that it is up to date.
//
//go:generate go run ./internal/errgen -o errors_table.go

import (
	"strings"
)

// Error is a JetStream API error as clients receive it:
// {"code":404,"err_code":10059,"description":"stream not found"}.
type Error struct {
	Code        int    `json:"code"`
	ErrCode     uint16 `json:"err_code,omitempty"`
	Description string `json:"description,omitempty"`
}

func (e *Error) Error() string { return e.Description }

// Is matches errors by err_code, so a formatted copy (NewError) still
// matches its table entry with errors.Is.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.ErrCode == e.ErrCode
}

// With returns a copy of e with each {key} placeholder replaced by its
// value; kv alternates keys and values: ErrStreamWrongLastSequenceF.With("seq", "3").
func (e *Error) With(kv ...string) *Error {
	d := e.Description
	for i := 0; i+1 < len(kv); i += 2 {
		d = strings.ReplaceAll(d, "{"+kv[i]+"}", kv[i+1])
	}
	return &Error{Code: e.Code, ErrCode: e.ErrCode, Description: d}
}

// WithErr fills the {err} placeholder that most F entries carry.
func (e *Error) WithErr(err error) *Error { return e.With("err", err.Error()) }
