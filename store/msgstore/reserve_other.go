//go:build !linux

package msgstore

import (
	"errors"
	"os"
)

// allocate is not available here: Refill writes zeros instead.
func allocate(*os.File, int64, int64) error { return errors.ErrUnsupported }
