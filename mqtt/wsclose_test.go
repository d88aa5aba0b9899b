package mqtt

import (
	"fmt"
	"io"
	"testing"

	"github.com/leafgate/leafgate/mqtt/packet"
)

func TestWSCloseStatus(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, 1000},
		{errNormal, 1000},
		{io.EOF, 1000},
		{errTakenOver, 1000},
		{errKeepAlive, 1001},
		{errClosedByServer, 1001},
		{errAdmin, 1008},
		{packet.ErrMalformed, 1002},
		{errProtocol("x"), 1002},
		{&packet.Error{Code: packet.PacketTooLarge}, 1009},
		{fmt.Errorf("wrapped: %w", &refusedError{code: packet.NotAuthorized}), 1008},
		{&refusedError{code: packet.BadUserNameOrPassword}, 1008},
		{errProtocolCode(packet.ReceiveMaximumExceeded, "x"), 1002},
		{fmt.Errorf("read: connection reset"), 1001},
	} {
		if got, _ := wsCloseStatus(tc.err); got != tc.want {
			t.Errorf("%v: status %d, want %d", tc.err, got, tc.want)
		}
	}
}
