package imap

import (
	"encoding/json"
	"fmt"

	"github.com/emersion/go-sasl"

	"github.com/guardd/guardd/internal/secret"
)

// xoauth2 is the SASL XOAUTH2 client that Gmail and Microsoft 365 take
// (https://developers.google.com/gmail/xoauth2_protocol): one initial
// response "user=U^Aauth=Bearer T^A^A". go-sasl dropped it.
type xoauth2 struct {
	user  string
	token secret.Value
	// failed holds the server's error challenge, for the error message.
	failed string
}

var _ sasl.Client = (*xoauth2)(nil)

func (x *xoauth2) Start() (string, []byte, error) {
	return "XOAUTH2", []byte("user=" + x.user + "\x01auth=Bearer " + x.token.Reveal() + "\x01\x01"), nil
}

// Next answers a challenge. With XOAUTH2 a challenge only comes after a
// refused token: a JSON error that the client acknowledges with an empty
// response, after which the server ends the command with NO.
func (x *xoauth2) Next(challenge []byte) ([]byte, error) {
	var e struct {
		Status string `json:"status"`
	}
	if json.Unmarshal(challenge, &e) == nil && e.Status != "" {
		x.failed = e.Status
	} else {
		x.failed = fmt.Sprintf("%.80q", challenge)
	}
	return []byte{}, nil
}
