//go:build !linux

package main

import "errors"

var errUnknown = errors.New("not known on this system")

func physicalMemory() (int64, error) { return 0, errUnknown }

func diskForStore(string) (int64, error) { return 0, errUnknown }
